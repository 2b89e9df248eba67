/**
 * `tsbpf trace open` (Chapter 28, exercise 4): openat filenames as variable-length records, each
 * reserved at exactly header + strlen + 1 bytes.
 */
import { OverloadGuard } from 'tsbpf';
import { BpfMap } from 'tsbpf';
import { Program } from 'tsbpf';
import { RingBuffer, type RecordCallback } from 'tsbpf';
import { LatencyRecorder, monotonicNowNs } from './latency.js';
import { OPEN_HEADER_SIZE, OpenEventHeader, openatProgram } from './open-programs.js';
import type { TaskFilter } from './task-filter.js';
import { runTraceSession, type TraceSummary } from './trace-session.js';
import { lossCounter, overloadSummary, type OverloadMode } from './overload-policy.js';

/** One openat call. */
export interface OpenEvent {
  timestampNs: number;
  pid: number;
  tid: number;
  /** open flags (O_*). */
  flags: number;
  comm: string;
  filename: string;
  /** Size of the ring record: header (40) + filename bytes + NUL. */
  recordBytes: number;
  latencyNs: number;
}

const H = {
  ts: OpenEventHeader.offsetOf('ts'),
  pid: OpenEventHeader.offsetOf('pid'),
  tid: OpenEventHeader.offsetOf('tid'),
  flags: OpenEventHeader.offsetOf('flags'),
  len: OpenEventHeader.offsetOf('len'),
  comm: OpenEventHeader.offsetOf('comm'),
};

/** O_* flag names (x86_64), for display. */
const O_FLAGS: [number, string][] = [
  [0o100, 'O_CREAT'],
  [0o200, 'O_EXCL'],
  [0o400, 'O_NOCTTY'],
  [0o1000, 'O_TRUNC'],
  [0o2000, 'O_APPEND'],
  [0o4000, 'O_NONBLOCK'],
  [0o10000, 'O_DSYNC'],
  [0o40000, 'O_DIRECT'],
  [0o200000, 'O_DIRECTORY'],
  [0o400000, 'O_NOFOLLOW'],
  [0o1000000, 'O_NOATIME'],
  [0o2000000, 'O_CLOEXEC'],
  [0o10000000, 'O_PATH'],
  [0o20000000, 'O_TMPFILE'],
];

/** `O_RDONLY|O_CLOEXEC`. */
export function openFlagsText(flags: number): string {
  const acc = ['O_RDONLY', 'O_WRONLY', 'O_RDWR', 'O_ACCMODE'][flags & 3]!;
  const parts = [acc];
  let rest = flags & ~3;
  for (const [bit, name] of O_FLAGS)
    if (rest & bit) {
      parts.push(name);
      rest &= ~bit;
    }
  if (rest & 0o4010000) rest &= ~0o4010000; // O_SYNC includes O_DSYNC
  if (rest) parts.push(`0${rest.toString(8)}`);
  return parts.join('|');
}

/** Options of {@link traceOpen}. */
export interface TraceOpenOptions {
  filter: TaskFilter;
  durationS?: number;
  /** What happens when the ring fills: `drop` (default) or `sample` (opens that may write are high priority). */
  overload?: OverloadMode;
  onEvent(e: OpenEvent): void;
  onAttached?(): void;
}

/** Traces syscalls:sys_enter_openat until the duration ends or a signal. */
export async function traceOpen(opts: TraceOpenOptions): Promise<TraceSummary> {
  const ringSize = 1 << 20;
  const ring = BpfMap.create({ type: 'ringbuf', maxEntries: ringSize, name: 'open_events' });
  const drops = lossCounter(opts.overload ?? 'drop', 'open_drops');
  const resources: { close(): void }[] = [ring, drops];
  try {
    const gate = drops instanceof OverloadGuard ? { guard: drops, ringSize } : undefined;
    const program = Program.load({
      type: 'tracepoint',
      name: 'trace_openat',
      instructions: openatProgram(ring, drops instanceof OverloadGuard ? drops.map : drops, opts.filter, gate),
    });
    resources.push(program);
    const latency = new LatencyRecorder();
    let events = 0;
    const onRecord: RecordCallback = (view, off, length) => {
      const now = monotonicNowNs();
      const ts = view.getUint32(off + H.ts, true) + view.getUint32(off + H.ts + 4, true) * 4294967296;
      latency.record(now - ts);
      events++;
      const len = view.getUint32(off + H.len, true);
      opts.onEvent({
        timestampNs: ts,
        pid: view.getUint32(off + H.pid, true),
        tid: view.getUint32(off + H.tid, true),
        flags: view.getUint32(off + H.flags, true),
        comm: view.cString(off + H.comm, 16),
        filename: view.cString(off + OPEN_HEADER_SIZE, Math.min(len, length - OPEN_HEADER_SIZE)),
        recordBytes: length,
        latencyNs: now - ts,
      });
    };
    const reader = new RingBuffer(ring, onRecord, { dropCounter: drops });
    const link = program.attachTracepoint('syscalls', 'sys_enter_openat');
    return await runTraceSession({
      reader,
      links: [link],
      latency,
      events: () => events,
      durationS: opts.durationS,
      onAttached: opts.onAttached,
      resources,
      finalCounts: () => overloadSummary(drops),
    });
  } catch (e) {
    for (const r of resources) r.close();
    throw e;
  }
}
