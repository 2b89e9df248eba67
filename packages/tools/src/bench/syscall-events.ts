/**
 * The live event pipeline behind the `live`, `wakeup` and `sizing` suites: a C load generator
 * (bench/c/syscall_loop.c, a tight getppid() loop pinned to one core) is traced at
 * raw_syscalls:sys_enter by a tsbpf-assembled program that keeps only the generator's getppid
 * calls and writes a 32-byte event per call into a ring buffer; a tsbpf RingBuffer on the other
 * core drains it. Measures delivered events/s, drops (BPF-side counter), consumer CPU, event→user
 * latency, and the cost added to each traced syscall, and checks every event arrived exactly once.
 */
import { spawn } from 'node:child_process';
import { onlineCpus } from 'tsbpf';
import { asmRingbufReserve, DropCounter } from 'tsbpf';
import { BpfMap } from 'tsbpf';
import { Program } from 'tsbpf';
import { RingBuffer, type RecordView } from 'tsbpf';
import { asm, R0, R1, R2, R3, R4, R5, R6, R7, R8, R9, R10, type AsmItem, type MapRef } from 'tsbpf';
import { RINGBUF_FLAG, RINGBUF_QUERY } from 'tsbpf';
import { buildCReference, lastJsonLine } from './c-reference.js';
import { pinProcess } from './runner.js';
import { SeqChecker } from './soak-check.js';

/** The generator's syscalls (x86-64 numbers) and which syscall argument carries the sequence number. */
export const GENERATOR_SYSCALLS = {
  getppid: { nr: 110, seqArg: 0, label: 'getppid()' },
  close: { nr: 3, seqArg: 1, label: 'close(-1)' },
  nosys: { nr: 1023, seqArg: 0, label: 'syscall 1023 (ENOSYS)' },
} as const;
export type GeneratorSyscall = keyof typeof GENERATOR_SYSCALLS;
/** How the tracer attaches to raw_syscalls:sys_enter. */
export type TracerAttach = 'tracepoint' | 'raw_tp';
/** struct pt_regs offsets (x86-64) of the first two syscall arguments, di and si. */
const PT_REGS_ARG = [112, 104] as const;
/** Event size in bytes: ts u64, seq u64 (the call's args[0]), syscall id u64, pid_tgid u64. */
export const EVENT_SIZE = 32;

/** How the BPF side asks for wake-ups when it submits. */
export type WakeupMode =
  | { kind: 'default' }
  /** BPF_RB_NO_WAKEUP, except BPF_RB_FORCE_WAKEUP on every `n`-th event (per-CPU count). */
  | { kind: 'every'; n: number }
  /** BPF_RB_FORCE_WAKEUP once bpf_ringbuf_query(AVAIL_DATA) reaches `bytes`, else NO_WAKEUP. */
  | { kind: 'adaptive'; bytes: number }
  /** BPF_RB_NO_WAKEUP always: the reader's timer finds the data. */
  | { kind: 'never' }
  /** BPF_RB_FORCE_WAKEUP when `budgetNs` passed since the last forced wake-up (kept in an array map), else NO_WAKEUP. */
  | { kind: 'timed'; budgetNs: number };

/**
 * The tracer: keep one process's calls of one syscall, reserve, fill, submit with the mode's
 * flags. `attach: 'tracepoint'` reads the tracefs-formatted record (id at 8, args at 16);
 * `'raw_tp'` gets the raw arguments (pt_regs *, id), cheaper per call (no perf trace buffer), and
 * reads the sequence argument from pt_regs with bpf_probe_read_kernel straight into the event.
 * The syscall id is tested first: other processes' syscalls leave after one load and compare.
 */
export function syscallTracer(o: {
  ring: MapRef;
  drops: DropCounter;
  tgid: number;
  wakeup: WakeupMode;
  countMap?: MapRef;
  syscall?: GeneratorSyscall;
  attach?: TracerAttach;
}): AsmItem[] {
  const sc = GENERATOR_SYSCALLS[o.syscall ?? 'getppid'];
  const raw = (o.attach ?? 'tracepoint') === 'raw_tp';
  const items: AsmItem[] = [
    asm.mov64(R6, R1),
    asm.ldxdw(R8, R6, 8), // id (both layouts)
    asm.jne(R8, sc.nr, 'out'),
    asm.call('get_current_pid_tgid'),
    asm.mov64(R7, R0),
    asm.rsh64(R0, 32),
    asm.jne(R0, o.tgid, 'out'),
    ...asmRingbufReserve({
      ring: o.ring,
      size: EVENT_SIZE,
      dst: R9,
      dropCounter: o.drops,
      onFail: 'out',
      stackOffset: -8,
    }),
    asm.call('ktime_get_ns'),
    asm.stxdw(R9, 0, R0),
  ];
  if (raw) {
    items.push(
      asm.mov64(R1, R9),
      asm.add64(R1, 8),
      asm.mov64(R2, 8),
      asm.ldxdw(R3, R6, 0), // struct pt_regs *
      asm.add64(R3, PT_REGS_ARG[sc.seqArg]),
      asm.call('probe_read_kernel'),
    );
  } else {
    items.push(
      asm.ldxdw(R1, R6, 16 + 8 * sc.seqArg), // the sequence argument
      asm.stxdw(R9, 8, R1),
    );
  }
  items.push(asm.stxdw(R9, 16, R8), asm.stxdw(R9, 24, R7));
  /** r0 = &map[0] (or NULL): the per-mode counter or timestamp slot. */
  const lookupSlotZero = (map: MapRef) => [
    asm.stw(R10, -4, 0),
    asm.ldMapFd(R1, map),
    asm.mov64(R2, R10),
    asm.add64(R2, -4),
    asm.call('map_lookup_elem'),
  ];
  const w = o.wakeup;
  if (w.kind === 'default') {
    items.push(asm.mov64(R2, 0));
  } else if (w.kind === 'never') {
    items.push(asm.mov64(R2, RINGBUF_FLAG.no_wakeup));
  } else if (w.kind === 'every') {
    if (!o.countMap) throw new TypeError('wakeup "every" needs countMap (a per-CPU u64 array of 1)');
    items.push(
      ...lookupSlotZero(o.countMap),
      asm.mov64(R2, RINGBUF_FLAG.force_wakeup),
      asm.jeq(R0, 0, 'submit'),
      asm.ldxdw(R1, R0, 0),
      asm.add64(R1, 1),
      asm.stxdw(R0, 0, R1),
      asm.mod64(R1, w.n),
      asm.jeq(R1, 0, 'submit'),
      asm.mov64(R2, RINGBUF_FLAG.no_wakeup),
    );
  } else if (w.kind === 'timed') {
    if (!o.countMap)
      throw new TypeError('wakeup "timed" needs countMap (an array of one u64: the last forced wake-up time)');
    items.push(
      ...lookupSlotZero(o.countMap),
      asm.mov64(R2, RINGBUF_FLAG.no_wakeup),
      asm.jeq(R0, 0, 'submit'),
      asm.ldxdw(R3, R9, 0), // now (the event's timestamp)
      asm.ldxdw(R4, R0, 0), // last forced wake-up
      asm.mov64(R5, R3),
      asm.sub64(R5, R4),
      asm.jlt(R5, w.budgetNs, 'submit'),
      asm.stxdw(R0, 0, R3),
      asm.mov64(R2, RINGBUF_FLAG.force_wakeup),
    );
  } else {
    items.push(
      asm.ldMapFd(R1, o.ring),
      asm.mov64(R2, RINGBUF_QUERY.avail_data),
      asm.call('ringbuf_query'),
      asm.mov64(R2, RINGBUF_FLAG.force_wakeup),
      asm.jge(R0, w.bytes, 'submit'),
      asm.mov64(R2, RINGBUF_FLAG.no_wakeup),
    );
  }
  items.push(
    asm.label('submit'),
    asm.mov64(R1, R9),
    asm.call('ringbuf_submit'),
    asm.label('out'),
    asm.mov64(R0, 0),
    asm.exit(),
  );
  void R3;
  return items;
}

/** A log-scale latency histogram: 1 µs resolution to 1 ms, then 10 µs to 100 ms, then overflow. */
export class LatencyHistogram {
  /** [0, 1000): [0, 1 ms) by 1 µs; [1000, 11000): [1 ms, 101 ms) by 10 µs; [11000]: overflow. */
  readonly counts = new Float64Array(11_001);
  count = 0;
  maxNs = 0;
  sumNs = 0;

  get fine(): Float64Array {
    return this.counts.subarray(0, 1000);
  }
  get coarse(): Float64Array {
    return this.counts.subarray(1000, 11_000);
  }
  get overflow(): number {
    return this.counts[11_000]!;
  }

  /**
   * Every operation runs for every sample: one that first ran for the first sample above 1 ms
   * would lack type feedback and deoptimise the reader's drain (this is inlined into it) just when
   * latency is already high, and the recompile on the reader's core would make it worse.
   */
  add(ns: number): void {
    const v = Math.max(ns, 0);
    this.count++;
    this.sumNs += v;
    this.maxNs = Math.max(this.maxNs, v);
    const fine = v < 1_000_000,
      coarse = v < 101_000_000;
    const iFine = (v / 1000) | 0,
      iCoarse = (1000 + (v - 1_000_000) / 10_000) | 0;
    this.counts[fine ? iFine : coarse ? iCoarse : 11_000]!++;
  }

  /** The p-th percentile (0..100) in ns (bucket upper edge). */
  percentile(p: number): number {
    if (this.count === 0) return NaN;
    const target = Math.ceil((p / 100) * this.count);
    let seen = 0;
    const c = this.counts;
    for (let i = 0; i < 11_000; i++) {
      if ((seen += c[i]!) >= target) return i < 1000 ? (i + 1) * 1000 : 1_000_000 + (i - 999) * 10_000;
    }
    return this.maxNs;
  }

  /** Counts in coarse display buckets (for a distribution chart). */
  buckets(edgesUs: number[]): number[] {
    const out = new Array<number>(edgesUs.length + 1).fill(0);
    const put = (ns: number, n: number) => {
      if (!n) return;
      let k = 0;
      while (k < edgesUs.length && ns >= edgesUs[k]! * 1000) k++;
      out[k]! += n;
    };
    for (let i = 0; i < this.fine.length; i++) put(i * 1000, this.fine[i]!);
    for (let i = 0; i < this.coarse.length; i++) put(1_000_000 + i * 10_000, this.coarse[i]!);
    put(Infinity, this.overflow);
    return out;
  }
}

/** The live consumer's per-event state (numeric fields, updated in place). */
class ConsumerState {
  delivered = 0;
  outOfOrder = 0;
  /** CLOCK_MONOTONIC ns at the start of the current drain. */
  nowNs = 0;
}

/**
 * Generator threads for a split run (as the soak's): one on the generator's CPU, one on the
 * consumer's. One thread cannot reach 1M calls/s where a traced syscall costs over 1 µs (a PVM
 * guest with page-table isolation: ~930 ns untraced, ~1.3 µs traced: 774k/s at 100% of a CPU); two can.
 */
const GEN_THREADS = 2;
/** Calls per batch of the threads' shared schedule: one pacing wait (a sleep on the consumer's CPU) per batch, ~32 µs apart at 1M/s. */
const GEN_BATCH = 32;
/**
 * Nice value of the generator thread on the consumer's CPU. The consumer then preempts it as soon as
 * it wakes (at nice 0 the two share that CPU fairly: on an idle 2-CPU PVM guest the soak reader's p99
 * latency was 1.1–3.5 ms instead of 0.3–0.6 ms over 1-minute runs); what that thread cannot do, the
 * other one takes from the shared schedule.
 */
const GEN_SHARED_CPU_NICE = 10;

/** How a run starts bench/c/syscall_loop.c: taskset's arguments, its thread count, a sentence for the report. */
export interface GeneratorCommand {
  args: string[];
  threads: number;
  description: string;
}

/**
 * The generator's command line (arguments of taskset): `count` calls of `syscall`, paced to `rate`
 * calls/s (0: as fast as it can), pinned to the generator's CPU. `split` (paced runs only, with two
 * CPUs or more): two threads sharing one paced schedule in batches, thread 0 spin-paced on the
 * generator's CPU, thread 1 on the consumer's CPU sleeping until its batch is due at a lower
 * priority; thread k numbers its calls k·2^40 + i, so the consumer checks each thread's sequence.
 * Otherwise the original single loop (seq = i).
 */
export function generatorCommand(o: {
  cpus: { generator: number; consumer: number };
  bin: string;
  count: number;
  rate: number;
  syscall: GeneratorSyscall;
  split?: boolean;
}): GeneratorCommand {
  const { cpus, rate } = o;
  const args = ['-c', String(cpus.generator), o.bin, String(o.count), String(rate), o.syscall];
  const at = rate > 0 ? ` at ${rate / 1e6}M/s` : ', unpaced';
  if (!o.split || rate <= 0 || cpus.generator === cpus.consumer) {
    return {
      args,
      threads: 1,
      description: `generator: 1 thread${at} ${cpus.generator === cpus.consumer ? 'sharing' : 'on'} CPU ${cpus.generator}${cpus.generator === cpus.consumer ? ' with the reader' : ''}`,
    };
  }
  // Both threads take batches from one schedule. Thread 0 spins on the vDSO clock on its own CPU;
  // thread 1 must not spin on the consumer's CPU: it sleeps until its batch is due, at a lower priority.
  return {
    args: [
      ...args,
      `threads=${GEN_THREADS}`,
      `cpus=${cpus.generator},${cpus.consumer}`,
      `spin=${cpus.generator}`,
      `batch=${GEN_BATCH}`,
      `nice=${GEN_SHARED_CPU_NICE}`,
    ],
    threads: GEN_THREADS,
    description: `generator: ${GEN_THREADS} threads sharing one ${rate / 1e6}M/s schedule in batches of ${GEN_BATCH} calls, one on CPU ${cpus.generator} (spin-paced), one on CPU ${cpus.consumer}, the reader's (sleeps until its batch is due, nice ${GEN_SHARED_CPU_NICE})`,
  };
}

/** Options of one live run. */
export interface LiveRunOptions {
  /** Events the generator produces (getppid calls). */
  events: number;
  /** Generator pacing in calls/s; 0 = as fast as it can. */
  rate?: number;
  /**
   * Paced runs: split the generator over two threads sharing the pace, one on the consumer's CPU
   * (generatorCommand; as the soak does), where there are two CPUs. Default: one thread.
   */
  split?: boolean;
  ringBytes: number;
  wakeup?: WakeupMode;
  /** Reader latency budget (RingBuffer maxLatencyMs). */
  maxLatencyMs?: number;
  /** Reader flush deadline (RingBuffer flushMs). */
  flushMs?: number;
  /** No tracer at all: measures the generator's bare syscall cost. */
  untraced?: boolean;
  /** The generator's syscall (default getppid). */
  syscall?: GeneratorSyscall;
  /** How the tracer attaches (default 'tracepoint'). */
  attach?: TracerAttach;
  /**
   * How the reader waits: 'events' (default) = RingBuffer.start(), drains inside the readiness
   * callbacks; 'await' = a `await rb.waitReadable(); rb.consume()` loop (a promise per wake).
   */
  reader?: 'events' | 'await';
  onProgress?: (fraction: number) => void;
}

/** What one live run measured. */
export interface LiveRunResult {
  produced: number;
  delivered: number;
  lost: number;
  /**
   * Events whose sequence number was not past the last one seen from the same generator thread, or
   * from a thread the generator does not have (reordering or duplicates; gaps are losses, not counted).
   */
  outOfOrder: number;
  /**
   * Per generator thread, its last call number seen + 1, summed (SeqChecker.nextSeq): with nothing
   * lost and nothing out of order, equal to produced exactly when no call is missing.
   */
  nextSeq: number;
  /** Generator threads (2: split, thread k's seq = k·2^40 + i). */
  generatorThreads: number;
  /** The generator's achieved rate: its calls over its own run time (go to the last call), calls/s. */
  generatorRate: number;
  /** Calls per generator thread (split runs). */
  generatorSplit?: number[];
  /** Wall time from the generator's start to the last drain, ms. */
  elapsedMs: number;
  eventsPerSec: number;
  /** Consumer process CPU (user + system), % of one core, over the steady-state window (10 %→90 % of the events delivered). */
  consumerCpuPct: number;
  /** The same over the whole run (generator start to last drain, including ramp-up and tail). */
  consumerCpuPctWhole: number;
  /** The steady-state CPU split: user and kernel time, % of one core. */
  consumerCpuUserPct: number;
  consumerCpuSysPct: number;
  /** Delivered events/s over the steady-state window. */
  steadyEventsPerSec: number;
  latency: { p50Us: number; p99Us: number; maxUs: number; meanUs: number } | null;
  histogram: LatencyHistogram | null;
  /** The generator's ns per syscall. */
  nsPerCall: number;
  wakeups: number;
  flushes: number;
  budgetDrains: number;
  drains: number;
}

/** What syscall_loop prints at the end (threads: with threads=N). */
export interface GeneratorOutput {
  calls: number;
  ns: number;
  nsPerCall: number;
  start: number;
  threads?: { cpu: number; calls: number; ns: number; spin: boolean }[];
}

/** The result fields that describe the generator's run. */
export function generatorFields(
  g: GeneratorOutput,
  threads: number,
): { generatorThreads: number; generatorRate: number; generatorSplit?: number[] } {
  return {
    generatorThreads: threads,
    generatorRate: g.ns > 0 ? g.calls / (g.ns / 1e9) : NaN,
    ...(g.threads ? { generatorSplit: g.threads.map((t) => t.calls) } : {}),
  };
}

/** CPUs for the consumer (this process) and the generator: different cores when there are two. */
export function liveCpus(): { consumer: number; generator: number } {
  const cpus = onlineCpus();
  return { consumer: cpus[0]!, generator: cpus[cpus.length - 1]! };
}

/** Monotonic now in ns as a double (performance.now() shares CLOCK_MONOTONIC with bpf_ktime_get_ns). */
const monoOffsetNs = (() => {
  const a = performance.now();
  const mono = Number(process.hrtime.bigint());
  const b = performance.now();
  return mono - ((a + b) / 2) * 1e6;
})();

/** Runs the generator with the tracer and the reader; resolves the measurements. */
export async function runLive(o: LiveRunOptions): Promise<LiveRunResult> {
  const cpus = liveCpus();
  const plan = generatorCommand({
    cpus,
    bin: buildCReference('syscall_loop'),
    count: o.events,
    rate: o.rate ?? 0,
    syscall: o.syscall ?? 'getppid',
    split: o.split,
  });
  const gen = spawn('taskset', plan.args, { stdio: ['pipe', 'pipe', 'pipe'] });
  let genOut = '';
  let genErr = '';
  gen.stdout.setEncoding('utf8').on('data', (d: string) => {
    genOut += d;
  });
  gen.stderr.setEncoding('utf8').on('data', (d: string) => {
    genErr += d;
  });
  const genDone = new Promise<GeneratorOutput>((resolve, reject) => {
    gen.on('error', reject);
    gen.on('close', (code) => {
      if (code !== 0) reject(new Error(`syscall_loop exited ${code}: ${genErr}`));
      else {
        try {
          resolve(lastJsonLine<GeneratorOutput>(genOut));
        } catch (e) {
          reject(e);
        }
      }
    });
  });
  let finished = false;
  void genDone.then(
    () => {
      finished = true;
    },
    () => {
      finished = true;
    },
  );
  // taskset execs the generator: its pid is the one the tracer filters on.
  const tgid = gen.pid!;

  if (o.untraced) {
    gen.stdin.write('go\n');
    const g = await genDone;
    return {
      produced: g.calls,
      delivered: 0,
      lost: 0,
      outOfOrder: 0,
      nextSeq: 0,
      ...generatorFields(g, plan.threads),
      elapsedMs: g.ns / 1e6,
      eventsPerSec: 0,
      consumerCpuPct: 0,
      consumerCpuPctWhole: 0,
      consumerCpuUserPct: 0,
      consumerCpuSysPct: 0,
      steadyEventsPerSec: 0,
      latency: null,
      histogram: null,
      nsPerCall: g.nsPerCall,
      wakeups: 0,
      flushes: 0,
      budgetDrains: 0,
      drains: 0,
    };
  }

  const pinned = pinProcess(process.pid, [cpus.consumer]);
  const ring = BpfMap.create({ type: 'ringbuf', maxEntries: o.ringBytes, name: 'live_events' });
  const drops = DropCounter.create('live_drops');
  const countMap =
    o.wakeup?.kind === 'every'
      ? BpfMap.create({ type: 'percpu_array', keySize: 4, valueSize: 8, maxEntries: 1, name: 'live_count' })
      : o.wakeup?.kind === 'timed'
        ? BpfMap.create({ type: 'array', keySize: 4, valueSize: 8, maxEntries: 1, name: 'live_lastwake' })
        : undefined;
  const resources: { close(): void }[] = [ring, drops, ...(countMap ? [countMap] : [])];
  try {
    const raw = o.attach === 'raw_tp';
    const prog = Program.load({
      type: raw ? 'raw_tracepoint' : 'tracepoint',
      name: 'live_tracer',
      instructions: syscallTracer({
        ring,
        drops,
        tgid,
        wakeup: o.wakeup ?? { kind: 'default' },
        countMap,
        syscall: o.syscall,
        attach: o.attach,
      }),
    });
    resources.push(prog);
    const link = raw ? prog.attachRawTracepoint('sys_enter') : prog.attachTracepoint('raw_syscalls', 'sys_enter');
    resources.push(link);

    // Latency percentiles over the steady state (the same window start as CPU): the first 10% of
    // events include the reader's ramp-up (V8 compiling the new reader's drain on this pinned core).
    // The maximum covers every event.
    const hist = new LatencyHistogram();
    const rampHist = new LatencyHistogram();
    const rampEvents = Math.floor(o.events * 0.1);
    // Per-event state lives in object fields, not closure variables: V8 boxes every double stored
    // in a closure context, which would allocate once per event.
    const st = new ConsumerState();
    // Each generator thread's sequence must rise (thread k's calls are k·2^40 + i).
    const seqs = new SeqChecker({
      threads: plan.threads,
      len: EVENT_SIZE,
      id: GENERATOR_SYSCALLS[o.syscall ?? 'getppid'].nr,
      tgid,
    });
    let drains = 0;
    const onRecord = (v: RecordView, off: number): void => {
      const ts = v.getUint32(off, true) + v.getUint32(off + 4, true) * 4294967296;
      const seq = v.getUint32(off + 8, true) + v.getUint32(off + 12, true) * 4294967296;
      // Whole ns as a small integer (clamped at 2 s): passing a double to a call V8 did not inline
      // would box it, one allocation per event.
      const d = st.nowNs - ts;
      (st.delivered < rampEvents ? rampHist : hist).add(d <= 0 ? 0 : d < 2e9 ? d | 0 : 2_000_000_000);
      if (!seqs.advance(seq)) st.outOfOrder++;
      st.delivered++;
    };
    const rb = new RingBuffer(ring, onRecord, {
      maxLatencyMs: o.maxLatencyMs ?? 0,
      flushMs: o.flushMs,
      dropCounter: drops,
    });
    resources.push(rb);

    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    gen.stdin.write('go\n');
    let lastProgress = t0;
    // Steady state: CPU and rate between the drains that cross 10 % and 90 % of the events
    // (two cpuUsage() calls per run, none per drain).
    const lo = Math.floor(o.events * 0.1),
      hi = Math.floor(o.events * 0.9);
    let winT0 = 0,
      winT1 = 0,
      winD0 = 0,
      winD1 = 0;
    let winC0: NodeJS.CpuUsage | undefined, winC1: NodeJS.CpuUsage | undefined;
    const afterDrain = (n: number): boolean => {
      if (n > 0) drains++;
      if (winC0 === undefined) {
        if (st.delivered >= lo) {
          winC0 = process.cpuUsage();
          winT0 = performance.now();
          winD0 = st.delivered;
        }
      } else if (winC1 === undefined && st.delivered >= hi) {
        winC1 = process.cpuUsage();
        winT1 = performance.now();
        winD1 = st.delivered;
      }
      if (o.onProgress && performance.now() - lastProgress > 100) {
        lastProgress = performance.now();
        o.onProgress((st.delivered + rb.lost) / o.events);
      }
      return finished && rb.availableBytes() === 0;
    };
    // One clock reading per drain: each event's latency is this minus its bpf_ktime_get_ns.
    const beforeDrain = (): void => {
      st.nowNs = performance.now() * 1e6 + monoOffsetNs;
    };
    if ((o.reader ?? 'events') === 'events') {
      await new Promise<void>((resolve) => {
        const done = (): void => {
          rb.stop();
          resolve();
        };
        rb.start({
          beforeDrain,
          afterDrain: (n) => {
            if (afterDrain(n)) done();
          },
        });
        // Everything may already be drained when the generator exits: no wake would follow.
        void genDone.then(
          () => {
            if (rb.started && rb.availableBytes() === 0) done();
          },
          () => done(),
        );
      });
    } else {
      for (;;) {
        const r = await rb.waitReadable(20);
        if (r === 'closed') break;
        beforeDrain();
        if (afterDrain(rb.consume())) break;
      }
    }
    const t1 = performance.now();
    const cpu = process.cpuUsage(cpu0);
    const g = await genDone;
    const lost = rb.lost;
    // The steady window is only meaningful over enough wall time: rusage advances in scheduler
    // accounting steps, and a reader that fell behind (say, while V8 compiled its drain on the
    // same pinned core) can cross 10% and 90% of the events within a drain or two.
    // A run that lost most events (a ring too small) may deliver fewer than the ramp-up's share.
    const lat = hist.count > 0 ? hist : rampHist;
    const w0 = winC0,
      w1 = winC1;
    const win =
      w0 !== undefined && w1 !== undefined && winT1 - winT0 >= 50
        ? { user: (w1.user - w0.user) / 1000, system: (w1.system - w0.system) / 1000, ms: winT1 - winT0 }
        : undefined;
    const stats = { ...rb.stats };
    const elapsedMs = t1 - t0;
    void pinned;
    return {
      produced: g.calls,
      delivered: st.delivered,
      lost,
      outOfOrder: st.outOfOrder,
      nextSeq: seqs.nextSeq,
      ...generatorFields(g, plan.threads),
      elapsedMs,
      eventsPerSec: st.delivered / (elapsedMs / 1000),
      consumerCpuPct: win
        ? ((win.user + win.system) / win.ms) * 100
        : ((cpu.user + cpu.system) / 1000 / elapsedMs) * 100,
      consumerCpuPctWhole: ((cpu.user + cpu.system) / 1000 / elapsedMs) * 100,
      consumerCpuUserPct: win ? (win.user / win.ms) * 100 : NaN,
      consumerCpuSysPct: win ? (win.system / win.ms) * 100 : NaN,
      steadyEventsPerSec: win ? (winD1 - winD0) / (win.ms / 1000) : st.delivered / (elapsedMs / 1000),
      latency: lat.count
        ? {
            p50Us: lat.percentile(50) / 1000,
            p99Us: lat.percentile(99) / 1000,
            maxUs: Math.max(hist.maxNs, rampHist.maxNs) / 1000,
            meanUs: lat.sumNs / lat.count / 1000,
          }
        : null,
      histogram: lat,
      nsPerCall: g.nsPerCall,
      wakeups: stats.wakeups,
      flushes: stats.flushes,
      budgetDrains: stats.budgetDrains,
      drains,
    };
  } finally {
    if (!finished) gen.kill('SIGKILL');
    for (const r of resources.reverse()) {
      try {
        r.close();
      } catch {
        /* already closed */
      }
    }
    pinProcess(process.pid, onlineCpus());
  }
}

/**
 * Exactly-once check: every call either delivered once or counted lost, each generator thread's
 * calls in order. With no loss the delivered calls must be exactly each thread's 0..n_k-1: every
 * thread's sequence strictly rising (outOfOrder 0) with sum over threads of (last + 1) = produced
 * = delivered leaves no room for a gap or a repeat.
 */
export function exactlyOnce(
  r: Pick<LiveRunResult, 'produced' | 'delivered' | 'lost' | 'outOfOrder' | 'nextSeq'>,
): boolean {
  if (r.delivered + r.lost !== r.produced || r.outOfOrder !== 0) return false;
  return r.lost > 0 || r.nextSeq === r.produced;
}
