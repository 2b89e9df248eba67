/**
 * Several rings in one reader: priorities (a higher-priority ring is drained first, under a shared budget)
 * and per-CPU rings (an array_of_maps of ring buffers indexed by CPU, created and read by one call).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  asm,
  asmPerCpuRingReserve,
  asmRingbufReserve,
  BpfMap,
  DropCounter,
  PerCpuRings,
  possibleCpus,
  Program,
  R0,
  R1,
  R2,
  R6,
  R7,
  RingBuffer,
  XDP,
  type MapRef,
} from '../../src/index.js';

/** XDP program: one 16-byte record {tag u32, seq u32 from the frame} in `ring` per run. */
function producer(ring: MapRef, tag: number): Program {
  return Program.load({
    type: 'xdp',
    name: `mr_prod_${tag}`,
    instructions: [
      asm.ldxw(R2, R1, 0),
      asm.ldxw(R7, R1, 4),
      asm.mov64(R6, R2),
      asm.add64(R6, 4),
      asm.jgt(R6, R7, 'out'),
      asm.ldxw(R7, R2, 0), //                  seq from the frame
      ...asmRingbufReserve({ ring, size: 16, dst: R6, onFail: 'out' }),
      asm.stw(R6, 0, tag),
      asm.stxw(R6, 4, R7),
      asm.mov64(R1, R6),
      asm.mov64(R2, 0),
      asm.call('ringbuf_submit'),
      asm.label('out'),
      asm.mov64(R0, XDP.pass),
      asm.exit(),
    ],
  });
}

function produce(prog: Program, n: number): void {
  const f = new Uint8Array(64);
  const v = new DataView(f.buffer);
  for (let i = 0; i < n; i++) {
    v.setUint32(0, i, true);
    prog.testRun({ data: f });
  }
}

test('a higher-priority ring is drained first, every drain, under the shared budget', () => {
  using low = BpfMap.create({ type: 'ringbuf', maxEntries: 64 * 1024 });
  using high = BpfMap.create({ type: 'ringbuf', maxEntries: 64 * 1024 });
  using other = BpfMap.create({ type: 'ringbuf', maxEntries: 64 * 1024 });
  using pLow = producer(low, 1);
  using pHigh = producer(high, 2);
  using pOther = producer(other, 3);
  const seen: number[] = [];
  const cb = (v: DataView, off: number) => {
    seen.push(v.getUint32(off, true));
  };
  // Added low first: add order must not matter, priority does.
  using rb = new RingBuffer(low, cb).add(other, cb, { priority: -1 }).add(high, cb, { priority: 5 });
  produce(pLow, 50);
  produce(pOther, 50);
  produce(pHigh, 50);
  assert.equal(rb.consume(undefined, 30), 30);
  assert.deepEqual(seen, new Array(30).fill(2), 'the budget went to the high-priority ring');
  assert.equal(rb.consume(undefined, 40), 40);
  assert.deepEqual(seen.slice(30), [...new Array(20).fill(2), ...new Array(20).fill(1)]);
  produce(pHigh, 10); // arrives between drains: still first
  assert.equal(rb.consume(), 90);
  assert.deepEqual(seen.slice(70), [...new Array(10).fill(2), ...new Array(30).fill(1), ...new Array(50).fill(3)]);
  // read() and readInto() follow the same order.
  produce(pOther, 1);
  produce(pLow, 1);
  produce(pHigh, 1);
  assert.deepEqual([rb.read()![0], rb.read()![0], rb.read()![0], rb.read()], [2, 1, 3, undefined]);
  produce(pOther, 1);
  produce(pHigh, 1);
  const buf = new Uint8Array(16);
  assert.equal(rb.readInto(buf), 16);
  assert.equal(buf[0], 2);
  assert.throws(
    () => rb.add(low, cb, { priority: Number.NaN }),
    /^TypeError: tsbpf: RingBuffer ring priority must be a finite number/,
  );
});

test('per-CPU rings: each record lands in the ring of the CPU that produced it; one reader drains them all', async () => {
  using drops = DropCounter.create();
  const delivered: number[] = [];
  using pc = PerCpuRings.create({ size: 16 * 1024, dropCounter: drops }, (v, off) => {
    delivered.push(v.getUint32(off, true));
  });
  assert.equal(pc.rings.length, possibleCpus());
  assert.equal(pc.outer.type, 'array_of_maps');
  using prog = Program.load({
    type: 'xdp',
    name: 'pcpu_prod',
    instructions: [
      ...asmPerCpuRingReserve({ rings: pc, size: 8, dst: R6, dropCounter: drops, onFail: 'out' }),
      asm.call('get_smp_processor_id'),
      asm.stxw(R6, 0, R0),
      asm.mov64(R1, R6),
      asm.mov64(R2, 0),
      asm.call('ringbuf_submit'),
      asm.label('out'),
      asm.mov64(R0, XDP.pass),
      asm.exit(),
    ],
  });
  // Which ring got what, read ring by ring through separate readers over the same maps.
  const perRing = pc.rings.map(() => [] as number[]);
  const n = 300;
  produce(prog, n);
  for (const [cpu, ring] of pc.rings.entries()) {
    using r = new RingBuffer(ring, (v, off) => {
      perRing[cpu]!.push(v.getUint32(off, true));
    });
    r.consume();
  }
  assert.equal(perRing.flat().length, n);
  for (const [cpu, records] of perRing.entries())
    for (const c of records) assert.equal(c, cpu, `a record from CPU ${c} in ring ${cpu}`);
  // The shared reader sees the next batch from every ring.
  produce(prog, 100);
  await pc.reader.poll(1000);
  pc.reader.consume();
  assert.equal(delivered.length, 100);
  // Fill this CPU's ring: reservations fail and are counted.
  produce(prog, 3000);
  assert.ok(drops.read() > 0);
  assert.equal(pc.reader.lost, drops.read(), 'one shared per-CPU drop counter, counted once');
  pc.close();
  pc.close();
  assert.throws(() => pc.reader.consume(), /closed/);
});
