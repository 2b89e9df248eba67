import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BpfMap, ClosedError, DropCounter, PerfBuffer, onlineCpus } from '../../src/index.js';
import { allowedCpus, onCpu } from '../support/cpu.js';
import { checkEvent, produce, produceInWorker, producer, seqCounter } from '../support/event-progs.js';

function perfMap(): BpfMap {
  return BpfMap.create({
    type: 'perf_event_array',
    keySize: 4,
    valueSize: 4,
    maxEntries: Math.max(...onlineCpus()) + 1,
    name: 'pevents',
  });
}
const range = (n: number) => Array.from({ length: n }, (_, i) => i);
/** Raw sample length for a 32-byte bpf_perf_event_output: size + 4 rounded to 8, minus 4. */
const RAW_LEN = 36;

function check(view: DataView, off: number, len: number): number {
  assert.equal(len, RAW_LEN);
  return checkEvent(view, off, 32);
}

test('every sample arrives once with its CPU and contents', () => {
  using map = perfMap();
  using seq = seqCounter();
  using prog = producer({ mode: 'perf', seq, ring: map });
  const got: number[] = [];
  const cpus = new Set<number>();
  using pb = new PerfBuffer(map, (v, o, l, cpu) => {
    got.push(check(v, o, l));
    cpus.add(cpu);
  });
  assert.deepEqual(pb.cpus, onlineCpus());
  for (let i = 0; i < 5; i++) produce(prog, 200);
  assert.ok(pb.availableBytes() > 0);
  assert.equal(pb.consume(), 1000);
  assert.equal(pb.availableBytes(), 0);
  assert.deepEqual(
    [...got].sort((a, b) => a - b),
    range(1000),
  );
  for (const c of cpus) assert.ok(onlineCpus().includes(c));
  assert.equal(pb.lost, 0);
});

test('records wrapping the end of a one-page buffer are reassembled intact', () => {
  using map = perfMap();
  using seq = seqCounter();
  using prog = producer({ mode: 'perf', seq, ring: map });
  const got: number[] = [];
  using pb = new PerfBuffer(
    map,
    (v, o, l) => {
      got.push(check(v, o, l));
    },
    { pageCount: 1 },
  );
  // 48-byte records in 4096 bytes: 4096 % 48 != 0, so records straddle the end every lap.
  for (let round = 0; round < 30; round++) {
    produce(prog, 50);
    pb.consume();
  }
  assert.deepEqual(
    [...got].sort((a, b) => a - b),
    range(1500),
  );
  assert.equal(pb.lost, 0);
});

test('PERF_RECORD_LOST is reported with counts equal to the BPF-side failures', () => {
  using map = perfMap();
  using seq = seqCounter();
  using drops = DropCounter.create();
  using prog = producer({ mode: 'perf', seq, ring: map, dropCounter: drops });
  const got: number[] = [];
  const lostReports: [number, number][] = [];
  using pb = new PerfBuffer(
    map,
    (v, o, l) => {
      got.push(check(v, o, l));
    },
    { pageCount: 1, onLost: (cpu, n) => lostReports.push([cpu, n]) },
  );
  // The samples go to the current CPU's buffer, and a test run may migrate between iterations:
  // pin the producer so one known buffer overflows.
  const cpus = allowedCpus();
  const target = cpus[0]!;
  onCpu(target, () => produce(prog, 1000)); // one page holds ~85: the rest are lost
  pb.consume();
  // The kernel writes a LOST record ahead of the next sample that fits in the same CPU's buffer:
  // one sample on every CPU this thread may run on flushes them all, wherever the drops landed.
  for (const cpu of cpus) onCpu(cpu, () => produce(prog, 1));
  pb.consume();
  const failed = drops.read();
  assert.ok(failed > 800, `failed ${failed}`);
  assert.equal(pb.lost, failed);
  assert.equal(
    lostReports.reduce((a, [, n]) => a + n, 0),
    failed,
  );
  assert.deepEqual([...new Set(lostReports.map(([cpu]) => cpu))], [target], 'losses only on the pinned CPU');
  assert.equal(got.length + failed, 1000 + cpus.length);
  assert.equal(new Set(got).size, got.length, 'no duplicates');
});

test('wakeupEvents/watermark options are accepted; async iteration with a concurrent producer', async () => {
  using map = perfMap();
  using seq = seqCounter();
  using prog = producer({ mode: 'perf', seq, ring: map });
  const pb = new PerfBuffer(map, undefined, { wakeupEvents: 16, flushMs: 20 });
  const done = produceInWorker(prog, { bursts: 10, repeat: 100, gapMs: 5, delayMs: 20 });
  const got: number[] = [];
  for await (const { cpu, data } of pb) {
    assert.ok(onlineCpus().includes(cpu));
    got.push(check(new DataView(data.buffer, data.byteOffset), 0, data.length));
    if (got.length === 1000) break;
  }
  await done;
  assert.deepEqual(
    [...got].sort((a, b) => a - b),
    range(1000),
  );
  pb.close();
  using pw = new PerfBuffer(map, () => {}, { watermarkBytes: 4096 });
  assert.equal(pw.consume(), 0);
});

test('close ends a pending poll, removes the events from the map, and is safe twice', async () => {
  using map = perfMap();
  const pb = new PerfBuffer(map, () => {});
  const pending = pb.poll(10_000);
  setTimeout(() => pb.close(), 20);
  assert.equal(await pending, 0);
  pb.close();
  assert.throws(() => pb.consume(), ClosedError);
  assert.equal(map.delete(onlineCpus()[0]!), false, 'map slots cleared on close');
});

test('bad maps and options fail before any syscall', () => {
  const map = perfMap();
  map.close();
  assert.throws(() => new PerfBuffer(map, () => {}), ClosedError);
  using ring = BpfMap.create({ type: 'ringbuf', maxEntries: 4096 });
  assert.throws(() => new PerfBuffer(ring, () => {}), TypeError);
  using small = BpfMap.create({ type: 'perf_event_array', keySize: 4, valueSize: 4, maxEntries: 1 });
  if (Math.max(...onlineCpus()) > 0) assert.throws(() => new PerfBuffer(small, () => {}), TypeError);
  using pm = perfMap();
  assert.throws(() => new PerfBuffer(pm, () => {}, { pageCount: 3 }), TypeError);
});
