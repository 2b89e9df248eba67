import { test } from 'node:test';
import assert from 'node:assert/strict';
import { native, MAP_SHARED, PROT } from '../../src/kernel/native.js';
import { BpfMap, Program, asm, R0, R1, R2, R3, R4, R10, t, MAP_FLAG } from '../../src/index.js';

test('bpf() returns -errno instead of throwing; bad arguments throw TypeErrors', () => {
  assert.equal(native.bpf(9999, new Uint8Array(16)), -22); // EINVAL
  assert.throws(() => native.bpf('x' as any, new Uint8Array(8)), /expected a number/);
  assert.throws(() => native.bpf(0, 'x' as any), /expected an ArrayBuffer/);
  assert.throws(() => (native as any).bpf(0), /too few arguments/);
  assert.equal(native.close(-1), -9); // EBADF
});

test('mmap gives an external ArrayBuffer; unmap detaches it so reads cannot reach unmapped memory', () => {
  using m = BpfMap.create({ type: 'array', key: t.u32, value: t.u64, maxEntries: 512, flags: MAP_FLAG.mmapable });
  const ab = native.mmap(m.fd, 4096, PROT.read | PROT.write, MAP_SHARED, 0);
  assert.ok(ab instanceof ArrayBuffer);
  const view = new BigUint64Array(ab);
  view[3] = 12345n;
  assert.equal(m.lookup(3), 12345n);
  assert.equal(native.unmap(ab), 0);
  assert.equal(ab.byteLength, 0);
  assert.equal(view.length, 0);
  assert.equal(view[3], undefined); // detached: no access to the old mapping
  assert.equal(native.unmap(ab), 0); // twice is safe
  assert.equal(native.mmap(-1, 4096, PROT.read, MAP_SHARED, 0), -9);
  assert.throws(() => native.unmap(new ArrayBuffer(8)), /not created by mmap/);
});

test('uv_poll reports readiness on the event loop and can be stopped, resumed and closed twice', async () => {
  // A ring buffer map fd becomes readable when a record is submitted.
  using rb = BpfMap.create({ type: 'ringbuf', maxEntries: 4096 });
  using prog = Program.load({
    type: 'xdp',
    instructions: [
      asm.stdw(R10, -8, 7),
      asm.ldMapFd(R1, rb), asm.mov64(R2, R10), asm.add64(R2, -8), asm.mov64(R3, 8), asm.mov64(R4, 0),
      asm.call('ringbuf_output'),
      asm.mov64(R0, 2), asm.exit(),
    ],
  });
  let calls = 0;
  let handle: any;
  const ready = new Promise<void>((resolve) => {
    handle = native.pollStart(rb.fd, 1, (status, events) => {
      calls++;
      assert.equal(status, 0);
      assert.equal(events & 1, 1);
      native.pollStop(handle);
      resolve();
    });
  });
  assert.notEqual(typeof handle, 'number');
  await new Promise((r) => setTimeout(r, 20));
  assert.equal(calls, 0, 'an empty ring is not readable');
  prog.testRun({ data: new Uint8Array(64) });
  await ready;
  assert.equal(calls, 1);
  assert.equal(native.pollResume(handle, 1), 0);
  await new Promise((r) => setTimeout(r, 5));
  assert.ok(calls >= 2, 'still readable: level-triggered');
  assert.equal(native.pollClose(handle), 0);
  assert.equal(native.pollClose(handle), 0);
  assert.equal(native.pollResume(handle, 1), -9);
});
