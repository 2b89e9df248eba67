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
import { eventChecksum, expectedChecksum, producer, seqCounter } from './event-producers.js';
import { BenchContext, BenchSuite, median, Row, spread, SuiteResult } from './suite.js';
import { buildCReference } from './c-reference.js';
import { runProcess } from './live-c.js';
import { pinProcess } from './runner.js';

/** The perf buffer target against libbpf's perf_buffer__consume (issue 16). */
const PERF_VS_C_TARGET = 0.8;

interface CPerfOut { count: number; lost: number; checksum: number; ns: number; cpu_ns: number }

/**
 * One round of libbpf's perf_buffer__consume (bench/c/perfbuf_consume.c) on `cpu`: it sets up its
 * own per-CPU buffers of `pages` pages in `map`, the producer fills them, then one timed consume.
 */
async function cPerfRound(map: BpfMap, pages: number, cpu: number, produce: () => void): Promise<CPerfOut> {
  let ready!: () => void;
  const isReady = new Promise<void>((r) => { ready = r; });
  const c = runProcess('taskset', ['-c', String(cpu), buildCReference('perfbuf_consume'), String(map.info().id), String(pages)], (l) => { if (l === 'ready') ready(); });
  try {
    await Promise.race([isReady, c.done]);
    produce();
    c.proc.stdin!.write('go\n');
    return JSON.parse((await c.done).trim().split('\n').at(-1)!) as CPerfOut;
  } finally {
    if (c.proc.exitCode === null) c.proc.kill('SIGKILL');
  }
}

let ringSum = 0;
let perfSum = 0;
let lastSeq = -1;
let inversions = 0;
const onRing = (v: DataView, o: number): void => {
  ringSum = (ringSum + eventChecksum(v, o)) | 0;
  const s = v.getUint32(o, true);
  if (s < lastSeq) inversions++;
  lastSeq = s;
};
const onPerf = (v: DataView, o: number): void => {
  perfSum = (perfSum + eventChecksum(v, o)) | 0;
  const s = v.getUint32(o, true);
  if (s < lastSeq) inversions++;
  lastSeq = s;
};

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
  const perf = BpfMap.create({ type: 'perf_event_array', keySize: 4, valueSize: 4, maxEntries: Math.max(...cpus) + 1, name: 'pvr_perf' });
  const seqR = seqCounter();
  const seqP = seqCounter();
  // The C consumer's twin: the same samples from the same producer code into its own per-CPU buffers.
  const perfC = BpfMap.create({ type: 'perf_event_array', keySize: 4, valueSize: 4, maxEntries: Math.max(...cpus) + 1, name: 'pvr_perf_c' });
  const seqC = seqCounter();
  const pinned = pinProcess(process.pid, [cpus[0]!]);
  const rb = new RingBuffer(ring, onRing);
  const pb = new PerfBuffer(perf, onPerf, { pageCount: perfPages });
  try {
    const pr = producer({ mode: 'reserve', seq: seqR, ring });
    const pp = producer({ mode: 'perf', seq: seqP, ring: perf });
    const pc = producer({ mode: 'perf', seq: seqC, ring: perfC });
    progs.push(pr, pp, pc);
    const cRate: number[] = [], ratios: number[] = [];
    let cOk = true;
    // One untimed round first: the timed rounds then run V8's optimised drains, as a long-running
    // reader does (the C consumer needs no warm-up).
    seqP.update(0, 0n);
    pp.testRun({ data: new Uint8Array(64), repeat: N, dataOutSize: 0 });
    perfSum = 0; lastSeq = -1; inversions = 0;
    pb.consume();
    seqR.update(0, 0n);
    pr.testRun({ data: new Uint8Array(64), repeat: N, dataOutSize: 0 });
    ringSum = 0; lastSeq = -1; inversions = 0;
    rb.consume();
    const expect = expectedChecksum(N);
    const rProd: number[] = [], pProd: number[] = [], rRate: number[] = [], pRate: number[] = [];
    let ok = true, ringInv = 0, perfInv = 0;
    for (let r = 0; r < ctx.repeats; r++) {
      ctx.progress(r / ctx.repeats, `perf-vs-ring round ${r + 1}`);
      seqR.update(0, 0n);
      seqP.update(0, 0n);
      rProd.push(pr.testRun({ data: new Uint8Array(64), repeat: N, dataOutSize: 0 }).durationNs);
      pProd.push(pp.testRun({ data: new Uint8Array(64), repeat: N, dataOutSize: 0 }).durationNs);
      ringSum = 0; lastSeq = -1; inversions = 0;
      let t0 = process.hrtime.bigint();
      const nr = rb.consume();
      rRate.push(nr / Number(process.hrtime.bigint() - t0) * 1e3);
      ringInv += inversions;
      perfSum = 0; lastSeq = -1; inversions = 0;
      t0 = process.hrtime.bigint();
      const np = pb.consume();
      pRate.push(np / Number(process.hrtime.bigint() - t0) * 1e3);
      perfInv += inversions;
      seqC.update(0, 0n);
      const c = await cPerfRound(perfC, perfPages, cpus[0]!, () => { pc.testRun({ data: new Uint8Array(64), repeat: N, dataOutSize: 0 }); });
      cRate.push(c.count / c.ns * 1e3);
      ratios.push(pRate.at(-1)! / cRate.at(-1)!);
      cOk &&= c.count + c.lost === N && (c.lost > 0 || c.checksum === expect);
      // Samples come with the kernel's raw length (36 for 32 bytes); the checksum reads the first 32.
      ok &&= nr === N && np + pb.lost === N && ringSum >>> 0 === expect && (pb.lost > 0 || perfSum >>> 0 === expect);
    }
    checks['both readers saw every event with the expected checksum'] = ok;
    checks['libbpf perf_buffer__consume saw every event with the expected checksum'] = cOk;
    rows.push({ name: 'ring buffer producer (reserve+submit)', value: median(rProd), unit: 'ns/event', spread: spread(rProd), verdict: 'info' });
    rows.push({ name: 'perf buffer producer (perf_event_output)', value: median(pProd), unit: 'ns/event', spread: spread(pProd), verdict: 'info' });
    rows.push({ name: 'ring buffer drain (zero-copy)', value: median(rRate), unit: 'Mevents/s', spread: spread(rRate), claim: 'ring buffer: better performance', verdict: median(rRate) >= median(pRate) ? 'holds' : 'does not hold' });
    rows.push({ name: 'perf buffer drain (zero-copy unless wrapped)', value: median(pRate), unit: 'Mevents/s', spread: spread(pRate), verdict: 'info' });
    rows.push({ name: 'perf buffer drain, libbpf C (perf_buffer__consume)', value: median(cRate), unit: 'Mevents/s', spread: spread(cRate), verdict: 'info', note: 'bench/c/perfbuf_consume.c: the same samples from the same producer into per-CPU buffers of the same size, one consume timed' });
    rows.push({ name: 'perf buffer drain: tsbpf vs libbpf C', value: median(ratios), unit: '×', spread: spread(ratios), claim: `≥ ${PERF_VS_C_TARGET}× libbpf (issue 16)`, verdict: ctx.quick ? 'not comparable' : median(ratios) >= PERF_VS_C_TARGET ? 'holds' : 'does not hold', ratio: { value: median(ratios), against: 'libbpf perf_buffer__consume' }, note: `median of per-round ratios over ${ctx.repeats} rounds${ctx.quick ? '; --quick: the JS drain is not warmed up like a full run, no verdict' : ''}` });
    rows.push({ name: 'ring buffer memory', value: ringBytes / 1048576, unit: 'MiB', claim: 'ring buffer: shared, more memory-efficient', verdict: 'info', note: 'one buffer shared by all CPUs' });
    rows.push({ name: 'perf buffer memory', value: (cpus.length * (perfPages + 1) * pg) / 1048576, unit: 'MiB', verdict: 'info', note: `${perfPages} pages × ${cpus.length} CPUs: each CPU must absorb its own worst burst` });
    rows.push({ name: 'ring buffer out-of-order events (global order)', value: ringInv, unit: 'events', claim: 'ring: global order', verdict: ringInv === 0 ? 'holds' : 'does not hold' });
    rows.push({ name: 'perf buffer out-of-order events (read CPU by CPU)', value: perfInv, unit: 'events', claim: 'perf: per-CPU order only', verdict: 'info', note: 'non-zero only when the producing thread migrated between CPUs during a run' });
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
    notes: ['Both producers are XDP test runs emitting the same 32-byte event; both readers use zero-copy callbacks with the same checksum.'],
    checks,
    durationMs: Date.now() - started,
  };
}

export const suite: BenchSuite = { name: 'perf-vs-ring', title: 'Perf buffer vs ring buffer', run };
