/**
 * `tsbpf trace exec` (Lab 12.2): every exec on the machine through a ring buffer, by zero-copy
 * reserve/submit, stack-and-copy ringbuf_output, or reserve-then-discard below a pid.
 */
import { BpfMap, OverloadGuard } from 'tsbpf';
import { Program } from 'tsbpf';
import { RingBuffer, type RecordCallback } from 'tsbpf';
import { execProgram, ProcessEvent, type ExecMode } from './exec-programs.js';
import { LatencyRecorder, monotonicNowNs } from './latency.js';
import { gateItems, lossCounter, overloadSummary, type OverloadMode } from './overload-policy.js';
import { runTraceSession, type TraceSummary } from './trace-session.js';

/** One exec, decoded. */
export interface ExecEvent {
  pid: number;
  uid: number;
  /** bpf_ktime_get_ns() at the exec (CLOCK_MONOTONIC ns). */
  timestampNs: number;
  comm: string;
  /** Kernel timestamp to receipt here, ns. */
  latencyNs: number;
}

/** Options of {@link traceExec}. */
export interface TraceExecOptions {
  mode?: ExecMode;
  /** `filtered` mode: discard events of pids below this (default 1000, as in the seed). */
  minPid?: number;
  durationS?: number;
  /** Ring size in bytes (power of two, page multiple). Default 256 KiB, as in the seed. */
  ringBytes?: number;
  /** What happens when the ring fills: `drop` (default) or `sample` (every exec is low priority: thinned evenly). */
  overload?: OverloadMode;
  onEvent(e: ExecEvent): void;
  onAttached?(): void;
}

const OFF = {
  pid: ProcessEvent.offsetOf('pid'),
  uid: ProcessEvent.offsetOf('uid'),
  ts: ProcessEvent.offsetOf('timestamp'),
  comm: ProcessEvent.offsetOf('comm'),
};

/** Traces sched:sched_process_exec until the duration ends or SIGINT/SIGTERM; resolves to the summary. */
export async function traceExec(opts: TraceExecOptions): Promise<TraceSummary & { mode: ExecMode }> {
  const mode = opts.mode ?? 'zerocopy';
  const ringSize = opts.ringBytes ?? 256 * 1024;
  const ring = BpfMap.create({ type: 'ringbuf', maxEntries: ringSize, name: 'exec_events' });
  const drops = lossCounter(opts.overload ?? 'drop', 'exec_drops');
  const resources: { close(): void }[] = [ring, drops];
  try {
    const gate = drops instanceof OverloadGuard ? { guard: drops, ringSize } : undefined;
    const instructions = [
      // Below the event the copy mode builds at r10-32 and its drop counter key at r10-40.
      ...gateItems(gate, ring, 'low', 'exit', -48),
      ...execProgram(mode, ring, drops instanceof OverloadGuard ? drops.map : drops, opts.minPid ?? 1000),
    ];
    const program = Program.load({ type: 'tracepoint', name: `exec_${mode}`, instructions });
    resources.push(program);
    const latency = new LatencyRecorder();
    let events = 0;
    const onRecord: RecordCallback = (view, off) => {
      const now = monotonicNowNs();
      const ts = view.getUint32(off + OFF.ts, true) + view.getUint32(off + OFF.ts + 4, true) * 4294967296;
      latency.record(now - ts);
      events++;
      opts.onEvent({
        pid: view.getUint32(off + OFF.pid, true),
        uid: view.getUint32(off + OFF.uid, true),
        timestampNs: ts,
        comm: view.cString(off + OFF.comm, 16),
        latencyNs: now - ts,
      });
    };
    const reader = new RingBuffer(ring, onRecord, { dropCounter: drops });
    const link = program.attachTracepoint('sched', 'sched_process_exec');
    const summary = await runTraceSession({
      reader,
      links: [link],
      latency,
      events: () => events,
      durationS: opts.durationS,
      onAttached: opts.onAttached,
      resources,
      finalCounts: () => overloadSummary(drops),
    });
    return { ...summary, mode };
  } catch (e) {
    for (const r of resources) r.close();
    throw e;
  }
}
