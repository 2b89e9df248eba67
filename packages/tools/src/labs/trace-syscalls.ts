/**
 * `tsbpf trace syscalls` (Chapter 28's complete example): syscall latency per call through a ring
 * buffer or a perf buffer, or aggregated in the kernel per syscall (`--summary`, like strace -c).
 * Filters run in BPF at sys_enter, so unwanted syscalls never get a start time or an event.
 */
import { type DropCounter, OverloadGuard } from 'tsbpf';
import type { Link } from 'tsbpf';
import { BpfMap } from 'tsbpf';
import { Program } from 'tsbpf';
import { RingBuffer, type RecordCallback, type RecordView } from 'tsbpf';
import { t } from 'tsbpf';
import { syscallName } from 'tsbpf';
import { LatencyRecorder, monotonicNowNs } from './latency.js';
import { untilStopped, type StopReason } from './stop-signal.js';
import {
  START_ENTRIES,
  SUMMARY_SLOTS,
  SyscallEvent,
  SyscallStats,
  syscallEnter,
  syscallExit,
  type ExitSink,
} from './syscall-programs.js';
import { createPerfEventArray, PerfBuffer } from './perf-reader.js';
import type { TaskFilter } from './task-filter.js';
import { runTraceSession, type EventReader, type TraceSummary } from './trace-session.js';
import { lossCounter, overloadSummary, type OverloadMode } from './overload-policy.js';

/** One completed syscall. */
export interface SyscallEventRecord {
  /** bpf_ktime_get_ns() at exit. */
  timestampNs: number;
  durationNs: number;
  pid: number;
  tid: number;
  nr: number;
  /** Name from the x86_64 table, or the number as a string. */
  syscall: string;
  ret: number;
  comm: string;
  latencyNs: number;
}

/** Options of {@link traceSyscalls}. */
export interface TraceSyscallsOptions {
  filter: TaskFilter;
  /** Keep only syscalls that took at least this long. */
  minDurationNs?: number;
  buffer?: 'ring' | 'perf';
  durationS?: number;
  /** What happens when the ring fills: `drop` (default) or `sample` (failed syscalls are high priority; ring only). */
  overload?: OverloadMode;
  onEvent(e: SyscallEventRecord): void;
  onAttached?(): void;
}

/** One row of the `--summary` table. */
export interface SyscallSummaryRow {
  nr: number;
  syscall: string;
  count: number;
  errors: number;
  totalNs: number;
  maxNs: number;
  avgNs: number;
}

const E = {
  ts: SyscallEvent.offsetOf('ts'),
  dur: SyscallEvent.offsetOf('durationNs'),
  pid: SyscallEvent.offsetOf('pid'),
  tid: SyscallEvent.offsetOf('tid'),
  nr: SyscallEvent.offsetOf('syscallNr'),
  ret: SyscallEvent.offsetOf('ret'),
  comm: SyscallEvent.offsetOf('comm'),
};

function u64(view: DataView, off: number): number {
  return view.getUint32(off, true) + view.getUint32(off + 4, true) * 4294967296;
}

function loadPair(
  filter: TaskFilter,
  sink: ExitSink,
  start: BpfMap,
  minDurationNs: number,
): { enter: Program; exit: Program } {
  const enter = Program.load({ type: 'tracepoint', name: 'sys_enter', instructions: syscallEnter(start, filter) });
  try {
    return {
      enter,
      exit: Program.load({
        type: 'tracepoint',
        name: 'sys_exit',
        instructions: syscallExit(start, sink, minDurationNs),
      }),
    };
  } catch (e) {
    enter.close();
    throw e;
  }
}

function attachPair(p: { enter: Program; exit: Program }): Link[] {
  const links = [p.exit.attachTracepoint('raw_syscalls', 'sys_exit')];
  try {
    links.push(p.enter.attachTracepoint('raw_syscalls', 'sys_enter'));
  } catch (e) {
    links[0]!.close();
    throw e;
  }
  return links;
}

/** Streams syscall events until the duration ends or a signal. */
export async function traceSyscalls(opts: TraceSyscallsOptions): Promise<TraceSummary & { buffer: 'ring' | 'perf' }> {
  const buffer = opts.buffer ?? 'ring';
  const start = BpfMap.create({ type: 'hash', keySize: 8, valueSize: 8, maxEntries: START_ENTRIES, name: 'sys_start' });
  const drops = lossCounter(opts.overload ?? 'drop', 'sys_drops');
  const resources: { close(): void }[] = [start, drops];
  try {
    if (drops instanceof OverloadGuard && buffer !== 'ring')
      throw new RangeError("tsbpf: --overload sample needs the ring buffer (it reads the ring's fill level)");
    const latency = new LatencyRecorder();
    let events = 0;
    const decode = (view: DataView | RecordView, off: number) => {
      const now = monotonicNowNs();
      const ts = u64(view, off + E.ts);
      latency.record(now - ts);
      events++;
      const nr = view.getInt32(off + E.nr, true);
      const lo = view.getUint32(off + E.ret, true);
      const hi = view.getInt32(off + E.ret + 4, true);
      opts.onEvent({
        timestampNs: ts,
        durationNs: u64(view, off + E.dur),
        pid: view.getUint32(off + E.pid, true),
        tid: view.getUint32(off + E.tid, true),
        nr,
        syscall: syscallName(nr),
        ret: hi * 4294967296 + lo,
        comm: cString(view, off + E.comm, 16),
        latencyNs: now - ts,
      });
    };
    let reader: EventReader;
    let sink: ExitSink;
    if (buffer === 'ring') {
      const ringSize = 1 << 20;
      const ring = BpfMap.create({ type: 'ringbuf', maxEntries: ringSize, name: 'sys_events' });
      resources.push(ring);
      sink =
        drops instanceof OverloadGuard
          ? { kind: 'ring', ring, drops: drops.map, gate: { guard: drops, ringSize } }
          : { kind: 'ring', ring, drops };
      const onRecord: RecordCallback = (view, off) => decode(view, off);
      reader = new RingBuffer(ring, onRecord, { dropCounter: drops });
    } else {
      ({ reader, sink } = openPerf(decode, drops, resources));
    }
    const progs = loadPair(opts.filter, sink, start, opts.minDurationNs ?? 0);
    resources.push(progs.enter, progs.exit);
    const links = attachPair(progs);
    const summary = await runTraceSession({
      reader,
      links,
      latency,
      events: () => events,
      durationS: opts.durationS,
      onAttached: opts.onAttached,
      resources,
      finalCounts: () => overloadSummary(drops),
    });
    return { ...summary, buffer };
  } catch (e) {
    for (const r of resources) r.close();
    throw e;
  }
}

/** The perf-buffer variant (Chapter 28, exercise 2): same program, perf_event_output instead of the ring. */
function openPerf(
  decode: (view: DataView, off: number) => void,
  drops: DropCounter | OverloadGuard,
  resources: { close(): void }[],
): { reader: EventReader; sink: ExitSink } {
  const perf = createPerfEventArray('sys_events');
  resources.push(perf);
  const reader = new PerfBuffer(perf, (view: DataView, off: number) => decode(view, off), { dropCounter: drops });
  return { reader, sink: { kind: 'perf', perf, drops } };
}

function cString(view: DataView | RecordView, off: number, len: number): string {
  if ('cString' in view) return (view as RecordView).cString(off, len);
  let end = 0;
  while (end < len && view.getUint8(off + end) !== 0) end++;
  return Buffer.from(view.buffer, view.byteOffset + off, end).toString('utf8');
}

/** Options of {@link summarizeSyscalls}. */
export interface SummarizeOptions {
  filter: TaskFilter;
  minDurationNs?: number;
  durationS?: number;
  onAttached?(): void;
}

/** Aggregates per syscall in the kernel until the duration ends or a signal; rows sorted by total time. */
export async function summarizeSyscalls(
  opts: SummarizeOptions,
): Promise<{ rows: SyscallSummaryRow[]; durationS: number; reason: StopReason }> {
  const start = BpfMap.create({ type: 'hash', keySize: 8, valueSize: 8, maxEntries: START_ENTRIES, name: 'sys_start' });
  const stats = BpfMap.create({
    type: 'percpu_array',
    key: t.u32,
    value: SyscallStats,
    maxEntries: SUMMARY_SLOTS,
    name: 'sys_stats',
  });
  const resources: { close(): void }[] = [start, stats];
  const links: Link[] = [];
  const stop = untilStopped(opts.durationS);
  try {
    const progs = loadPair(opts.filter, { kind: 'summary', stats }, start, opts.minDurationNs ?? 0);
    resources.push(progs.enter, progs.exit);
    const t0 = performance.now();
    links.push(...attachPair(progs));
    opts.onAttached?.();
    const reason = await stop.done;
    for (const l of links) l.close();
    const durationS = (performance.now() - t0) / 1000;
    const rows: SyscallSummaryRow[] = [];
    const { keys, values } = stats.lookupBatch();
    for (let i = 0; i < keys.length; i++) {
      const perCpu = values[i] as { count: number; totalNs: number; maxNs: number; errors: number }[];
      let count = 0,
        totalNs = 0,
        maxNs = 0,
        errors = 0;
      for (const v of perCpu) {
        count += v.count;
        totalNs += v.totalNs;
        errors += v.errors;
        if (v.maxNs > maxNs) maxNs = v.maxNs;
      }
      if (count === 0) continue;
      const nr = keys[i] as number;
      rows.push({ nr, syscall: syscallName(nr), count, errors, totalNs, maxNs, avgNs: Math.round(totalNs / count) });
    }
    rows.sort((a, b) => b.totalNs - a.totalNs || b.count - a.count);
    return { rows, durationS: Math.round(durationS * 1000) / 1000, reason };
  } finally {
    stop.stop();
    for (const l of links) l.close();
    for (const r of resources) r.close();
  }
}
