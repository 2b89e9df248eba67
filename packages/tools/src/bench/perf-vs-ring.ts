/**
 * Chapter 28: the same events through a ring buffer and a perf buffer. Producer cost per event
 * (test-run average), drain throughput (zero-copy callbacks, same checksum), memory each needs,
 * and ordering: the ring is globally ordered, the perf buffer only per CPU.
 */
import { onlineCpus } from 'tsbpf';
import { BpfMap } from 'tsbpf';
import { execFileSync } from 'node:child_process';
import { PerfBuffer } from 'tsbpf';
import { RingBuffer } from 'tsbpf';
import type { Program } from 'tsbpf';
import { expectedChecksum, producer, seqCounter } from './event-producers.js';
import { type BenchContext, type BenchSuite, median, type Row, spread, type SuiteResult } from './suite.js';
import { buildCReference, lastJsonLine } from './c-reference.js';
import { runProcess } from './live-c.js';
import { pinProcess } from './runner.js';

/** The perf buffer target against libbpf's perf_buffer__consume (issue 16). */
const PERF_VS_C_TARGET = 0.8;

interface CPerfOut {
  count: number;
  lost: number;
  checksum: number;
  inversions: number;
  ns: number;
  cpu_ns: number;
}

/**
 * One round of libbpf's perf_buffer__consume (bench/c/perfbuf_consume.c) on `cpu`: it sets up its
 * own per-CPU buffers of `pages` pages in `map`, the producer fills them, then one timed consume.
 */
async function cPerfRound(map: BpfMap, pages: number, cpu: number, produce: () => void): Promise<CPerfOut> {
  let ready!: () => void;
  const isReady = new Promise<void>((r) => {
    ready = r;
  });
  const c = runProcess(
    'taskset',
    ['-c', String(cpu), buildCReference('perfbuf_consume'), String(map.info().id), String(pages)],
    (l) => {
      if (l === 'ready') ready();
    },
  );
  try {
    await Promise.race([isReady, c.done]);
    produce();
    c.proc.stdin!.write('go\n');
    return lastJsonLine<CPerfOut>(await c.done);
  } finally {
    if (c.proc.exitCode === null) c.proc.kill('SIGKILL');
  }
}

/**
 * The callbacks' state in an Int32Array of 32 elements: over 64 bytes, so it lives off V8's heap and
 * optimised code addresses it as a constant (module `let`s cost a context load, a hole check and a
 * Smi re-tag per record). [0] ring sum, [1] perf sum, [2] last seq, [3] inversions.
 */
const acc = new Int32Array(32);
const RING_SUM = 0,
  PERF_SUM = 1,
  LAST_SEQ = 2,
  INVERSIONS = 3;
function resetAcc(): void {
  acc[RING_SUM] = 0;
  acc[PERF_SUM] = 0;
  acc[LAST_SEQ] = -1;
  acc[INVERSIONS] = 0;
}
/*
 * Per-sample work, the same in both callbacks and in bench/c/perfbuf_consume.c's on_sample: the
 * checksum of the first eight u32 words (eventChecksum written out, as a user would for a hot path
 * and as C inlines it) and the order check (seq = word 0, count the samples older than the last).
 * Two literal copies on purpose: each is inlined into its reader's generated drain, and one shared
 * function (or one made by a factory) would share its V8 feedback between the two readers.
 */
const onRing = (v: DataView, o: number): void => {
  const s = v.getInt32(o, true);
  acc[RING_SUM] =
    (acc[RING_SUM]! +
      s +
      Math.imul(v.getInt32(o + 4, true), 3) +
      Math.imul(v.getInt32(o + 8, true), 5) +
      Math.imul(v.getInt32(o + 12, true), 7) +
      Math.imul(v.getInt32(o + 16, true), 9) +
      Math.imul(v.getInt32(o + 20, true), 11) +
      Math.imul(v.getInt32(o + 24, true), 13) +
      Math.imul(v.getInt32(o + 28, true), 15)) |
    0;
  if (s < acc[LAST_SEQ]!) acc[INVERSIONS]!++;
  acc[LAST_SEQ] = s;
};
const onPerf = (v: DataView, o: number): void => {
  const s = v.getInt32(o, true);
  acc[PERF_SUM] =
    (acc[PERF_SUM]! +
      s +
      Math.imul(v.getInt32(o + 4, true), 3) +
      Math.imul(v.getInt32(o + 8, true), 5) +
      Math.imul(v.getInt32(o + 12, true), 7) +
      Math.imul(v.getInt32(o + 16, true), 9) +
      Math.imul(v.getInt32(o + 20, true), 11) +
      Math.imul(v.getInt32(o + 24, true), 13) +
      Math.imul(v.getInt32(o + 28, true), 15)) |
    0;
  if (s < acc[LAST_SEQ]!) acc[INVERSIONS]!++;
  acc[LAST_SEQ] = s;
};

/**
 * This process's CPU time in ns (getrusage: all threads, µs resolution), as C's
 * CLOCK_PROCESS_CPUTIME_ID: V8's compiler threads count, as they are part of what a JS drain costs.
 */
function processCpuNs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) * 1e3;
}

async function run(ctx: BenchContext): Promise<SuiteResult> {
  const started = Date.now();
  const N = ctx.quick ? 200_000 : 1_000_000;
  const pg = Number(execFileSync('getconf', ['PAGESIZE'], { encoding: 'utf8' }).trim());
  const cpus = onlineCpus();
  // Both sized to hold one run's events: 40-byte ring records, 48-byte perf records per CPU.
  const ringBytes = 1 << Math.ceil(Math.log2(N * 40 * 1.1));
  const perfPages = 1 << Math.ceil(Math.log2((N * 48 * 1.1) / pg));
  const rows: Row[] = [];
  const checks: Record<string, boolean> = {};
  const progs: Program[] = [];
  const ring = BpfMap.create({ type: 'ringbuf', maxEntries: ringBytes, name: 'pvr_ring' });
  const perf = BpfMap.create({
    type: 'perf_event_array',
    keySize: 4,
    valueSize: 4,
    maxEntries: Math.max(...cpus) + 1,
    name: 'pvr_perf',
  });
  const seqR = seqCounter();
  const seqP = seqCounter();
  // The C consumer's twin: the same samples from the same producer code into its own per-CPU buffers.
  const perfC = BpfMap.create({
    type: 'perf_event_array',
    keySize: 4,
    valueSize: 4,
    maxEntries: Math.max(...cpus) + 1,
    name: 'pvr_perf_c',
  });
  const seqC = seqCounter();
  const pinned = pinProcess(process.pid, [cpus[0]!]);
  const rb = new RingBuffer(ring, onRing);
  const pb = new PerfBuffer(perf, onPerf, { pageCount: perfPages });
  try {
    const pr = producer({ mode: 'reserve', seq: seqR, ring });
    const pp = producer({ mode: 'perf', seq: seqP, ring: perf });
    const pc = producer({ mode: 'perf', seq: seqC, ring: perfC });
    progs.push(pr, pp, pc);
    const cRate: number[] = [],
      ratios: number[] = [];
    // The same per CPU time (ns on a CPU, not wall): with other work on the same CPUs a drain can be
    // preempted in the middle, which lowers its wall-clock rate but not this one.
    const cCpuRate: number[] = [],
      pCpuRate: number[] = [],
      cpuRatios: number[] = [];
    let cOk = true;
    const run64 = (p: Program, n: number): number =>
      p.testRun({ data: new Uint8Array(64), repeat: n, dataOutSize: 0 }).durationNs;
    // Warm-up, as a long-running reader is warm (the C consumer is compiled ahead of time and
    // touches every page of its buffers before its timed consume):
    // 1. two untimed full-size rounds of each reader: every page of their mappings is touched, and
    //    the perf buffer drains past its ring end (its first wrapped record deoptimises the drain
    //    once: that path had no type feedback);
    // 2. then many short drains, so V8 (re)optimises the drain loops and callbacks as whole
    //    functions: code optimised on-stack in the middle of a long drain is slower.
    // resetAcc() before each drain: an order "inversion" from a seq reset would deoptimise the callbacks.
    for (let i = 0; i < 2; i++) {
      seqP.update(0, 0n);
      run64(pp, N);
      resetAcc();
      pb.consume();
      seqR.update(0, 0n);
      run64(pr, N);
      resetAcc();
      rb.consume();
    }
    const WARM = ctx.quick ? 50 : 200,
      WARM_EVENTS = 2_000;
    for (let i = 0; i < WARM; i++) {
      run64(pp, WARM_EVENTS);
      resetAcc();
      pb.consume();
      run64(pr, WARM_EVENTS);
      resetAcc();
      rb.consume();
    }
    resetAcc();
    const expect = expectedChecksum(N);
    const rProd: number[] = [],
      pProd: number[] = [],
      rRate: number[] = [],
      pRate: number[] = [];
    let ok = true,
      ringInv = 0,
      perfInv = 0,
      cInv = 0;
    const drainPerf = (): void => {
      seqP.update(0, 0n);
      pProd.push(run64(pp, N));
      resetAcc();
      const lost0 = pb.lost;
      const c0 = processCpuNs();
      const t0 = process.hrtime.bigint();
      const np = pb.consume();
      const t1 = process.hrtime.bigint();
      pCpuRate.push((np / (processCpuNs() - c0)) * 1e3);
      pRate.push((np / Number(t1 - t0)) * 1e3);
      perfInv += acc[INVERSIONS]!;
      const lost = pb.lost - lost0;
      // Samples come with the kernel's raw length (36 for 32 bytes); the checksum reads the first 32.
      ok &&= np + lost === N && (lost > 0 || acc[PERF_SUM]! >>> 0 === expect);
    };
    const drainC = async (): Promise<void> => {
      seqC.update(0, 0n);
      const c = await cPerfRound(perfC, perfPages, cpus[0]!, () => {
        run64(pc, N);
      });
      cRate.push((c.count / c.ns) * 1e3);
      cCpuRate.push((c.count / c.cpu_ns) * 1e3);
      cInv += c.inversions;
      cOk &&= c.count + c.lost === N && (c.lost > 0 || c.checksum === expect);
    };
    for (let r = 0; r < ctx.repeats; r++) {
      ctx.progress(r / ctx.repeats, `perf-vs-ring round ${r + 1}`);
      seqR.update(0, 0n);
      rProd.push(run64(pr, N));
      resetAcc();
      const t0 = process.hrtime.bigint();
      const nr = rb.consume();
      rRate.push((nr / Number(process.hrtime.bigint() - t0)) * 1e3);
      ringInv += acc[INVERSIONS]!;
      ok &&= nr === N && acc[RING_SUM]! >>> 0 === expect;
      // The perf buffer and C drains alternate which goes first; each drains right after its
      // producer run, on the same CPU.
      if (r % 2 === 0) {
        drainPerf();
        await drainC();
      } else {
        await drainC();
        drainPerf();
      }
      ratios.push(pRate.at(-1)! / cRate.at(-1)!);
      cpuRatios.push(pCpuRate.at(-1)! / cCpuRate.at(-1)!);
    }
    checks['both readers saw every event with the expected checksum'] = ok;
    checks['libbpf perf_buffer__consume saw every event with the expected checksum'] = cOk;
    rows.push({
      name: 'ring buffer producer (reserve+submit)',
      value: median(rProd),
      unit: 'ns/event',
      spread: spread(rProd),
      verdict: 'info',
    });
    rows.push({
      name: 'perf buffer producer (perf_event_output)',
      value: median(pProd),
      unit: 'ns/event',
      spread: spread(pProd),
      verdict: 'info',
    });
    rows.push({
      name: 'ring buffer drain (zero-copy)',
      value: median(rRate),
      unit: 'Mevents/s',
      spread: spread(rRate),
      claim: 'ring buffer: better performance',
      verdict: median(rRate) >= median(pRate) ? 'holds' : 'does not hold',
    });
    rows.push({
      name: 'perf buffer drain (zero-copy unless wrapped)',
      value: median(pRate),
      unit: 'Mevents/s',
      spread: spread(pRate),
      verdict: 'info',
      note: `per round: ${pRate.map((x) => x.toFixed(0)).join(' ')}`,
    });
    rows.push({
      name: 'perf buffer drain, libbpf C (perf_buffer__consume)',
      value: median(cRate),
      unit: 'Mevents/s',
      spread: spread(cRate),
      verdict: 'info',
      note: `bench/c/perfbuf_consume.c: the same samples from the same producer into per-CPU buffers of the same size, one consume timed; per round: ${cRate.map((x) => x.toFixed(0)).join(' ')}`,
    });
    rows.push({
      name: 'perf buffer drain: tsbpf vs libbpf C',
      value: median(ratios),
      unit: '×',
      spread: spread(ratios),
      claim: `≥ ${PERF_VS_C_TARGET}× libbpf (issue 16)`,
      verdict: ctx.quick ? 'not comparable' : median(ratios) >= PERF_VS_C_TARGET ? 'holds' : 'does not hold',
      ratio: { value: median(ratios), against: 'libbpf perf_buffer__consume' },
      note: `median of per-round ratios over ${ctx.repeats} rounds (wall clock; per round: ${ratios.map((x) => x.toFixed(2)).join(' ')})${ctx.quick ? '; --quick: fewer warm-up drains than a full run, no verdict' : ''}`,
    });
    rows.push({
      name: 'perf buffer drain per CPU second: tsbpf vs libbpf C',
      value: median(cpuRatios),
      unit: '×',
      spread: spread(cpuRatios),
      verdict: 'info',
      note: `samples per ns of the draining thread's CPU time (both process CPU time: tsbpf getrusage, µs resolution, V8's compiler threads included; C CLOCK_PROCESS_CPUTIME_ID), insensitive to preemption by other work; per round: ${cpuRatios.map((x) => x.toFixed(2)).join(' ')}; tsbpf ${median(pCpuRate).toFixed(0)}, C ${median(cCpuRate).toFixed(0)} Mevents per CPU second`,
    });
    rows.push({
      name: 'ring buffer memory',
      value: ringBytes / 1048576,
      unit: 'MiB',
      claim: 'ring buffer: shared, more memory-efficient',
      verdict: 'info',
      note: 'one buffer shared by all CPUs',
    });
    rows.push({
      name: 'perf buffer memory',
      value: (cpus.length * (perfPages + 1) * pg) / 1048576,
      unit: 'MiB',
      verdict: 'info',
      note: `${perfPages} pages × ${cpus.length} CPUs: each CPU must absorb its own worst burst`,
    });
    rows.push({
      name: 'ring buffer out-of-order events (global order)',
      value: ringInv,
      unit: 'events',
      claim: 'ring: global order',
      verdict: ringInv === 0 ? 'holds' : 'does not hold',
    });
    rows.push({
      name: 'perf buffer out-of-order events (read CPU by CPU)',
      value: perfInv,
      unit: 'events',
      claim: 'perf: per-CPU order only',
      verdict: 'info',
      note: `non-zero only when the producing thread migrated between CPUs during a run; libbpf C saw ${cInv}`,
    });
  } finally {
    for (const p of progs) p.close();
    rb.close();
    pb.close();
    ring.close();
    perf.close();
    perfC.close();
    seqC.close();
    if (pinned) pinProcess(process.pid, cpus);
    seqR.close();
    seqP.close();
  }
  return {
    suite: 'perf-vs-ring',
    title: 'Perf buffer vs ring buffer on the same events (Chapter 28)',
    rows,
    charts: [],
    notes: [
      'Both producers are XDP test runs emitting the same 32-byte event; both readers use zero-copy callbacks with the same checksum.',
    ],
    checks,
    durationMs: Date.now() - started,
  };
}

export const suite: BenchSuite = { name: 'perf-vs-ring', title: 'Perf buffer vs ring buffer', run };
