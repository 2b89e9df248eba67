import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { native, MAP_SHARED, PROT } from '../../src/kernel/native.js';
import { mappingAt } from '../support/mappings.js';
import { BpfMap, Program, asm, R0, R1, R2, R3, R4, R10, t, MAP_FLAG } from '../../src/index.js';

test('bpf() returns -errno instead of throwing; bad arguments throw TypeErrors', () => {
  assert.equal(native.bpf(9999, new Uint8Array(16)), -22); // EINVAL
  assert.throws(() => native.bpf('x' as any, new Uint8Array(8)), /expected a number/);
  assert.throws(() => native.bpf(0, 'x' as any), /expected an ArrayBuffer/);
  assert.throws(() => (native as any).bpf(0), /too few arguments/);
  assert.equal(native.close(-1), -9); // EBADF
});

test("mmap gives an external ArrayBuffer; unmap puts zero pages in place of the kernel's and does not detach it", () => {
  using m = BpfMap.create({ type: 'array', key: t.u32, value: t.u64, maxEntries: 512, flags: MAP_FLAG.mmapable });
  const ab = native.mmap(m.fd, 4096, PROT.read | PROT.write, MAP_SHARED, 0);
  assert.ok(ab instanceof ArrayBuffer);
  const view = new BigUint64Array(ab);
  view[3] = 12345n;
  assert.equal(m.lookup(3), 12345n);
  const address = native.addressOf(ab);
  assert.match(mappingAt(address) ?? '', /^anon_inode:bpf-map/);
  assert.equal(native.unmap(ab), 0, '0: still attached');
  // Not detached: a detach would invalidate V8's process-wide detaching protector.
  assert.equal(ab.byteLength, 4096);
  assert.equal(view[3], 0n, 'the view reads the zero pages now, not the map');
  assert.equal(mappingAt(address), '', "the map's pages are released: an anonymous mapping holds the range");
  view[3] = 7n; // writable as before (the map was mapped writable), but the map does not see it
  assert.equal(m.lookup(3), 12345n);
  assert.equal(native.unmap(ab), 0); // twice is safe
  assert.equal(native.mmap(-1, 4096, PROT.read, MAP_SHARED, 0), -9);
  assert.throws(() => native.unmap(new ArrayBuffer(8)), /not created by mmap/);
});

test("a released mapping's address range is unmapped once its ArrayBuffer is collected", async () => {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  using m = BpfMap.create({ type: 'array', key: t.u32, value: t.u64, maxEntries: 512, flags: MAP_FLAG.mmapable });
  const address = ((): number => {
    const ab = native.mmap(m.fd, 4096, PROT.read, MAP_SHARED, 0) as ArrayBuffer;
    native.unmap(ab);
    return native.addressOf(ab);
  })();
  assert.equal(mappingAt(address), '');
  // The finalizer runs on the JS thread after the collection: poll for it.
  for (let i = 0; i < 50 && mappingAt(address) !== undefined; i++) {
    gc();
    await new Promise((r) => setTimeout(r, 10));
  }
  assert.equal(mappingAt(address), undefined);
});

test('uv_poll reports readiness on the event loop and can be stopped, resumed and closed twice', async () => {
  // A ring buffer map fd becomes readable when a record is submitted.
  using rb = BpfMap.create({ type: 'ringbuf', maxEntries: 4096 });
  using prog = Program.load({
    type: 'xdp',
    instructions: [
      asm.stdw(R10, -8, 7),
      asm.ldMapFd(R1, rb),
      asm.mov64(R2, R10),
      asm.add64(R2, -8),
      asm.mov64(R3, 8),
      asm.mov64(R4, 0),
      asm.call('ringbuf_output'),
      asm.mov64(R0, 2),
      asm.exit(),
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
