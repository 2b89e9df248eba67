/**
 * `tsbpf trace exec` (Lab 12.2): every exec on the machine through a ring buffer, by zero-copy
 * reserve/submit, stack-and-copy ringbuf_output, or reserve-then-discard below a pid.
 */
import { DropCounter } from 'tsbpf';
import { BpfMap } from 'tsbpf';
import { Program } from 'tsbpf';
import { RingBuffer, type RecordCallback } from 'tsbpf';
import { execProgram, ProcessEvent, type ExecMode } from './exec-programs.js';
import { LatencyRecorder, monotonicNowNs } from './latency.js';
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
  onEvent(e: ExecEvent): void;
  onAttached?(): void;
}

const OFF = { pid: ProcessEvent.offsetOf('pid'), uid: ProcessEvent.offsetOf('uid'), ts: ProcessEvent.offsetOf('timestamp'), comm: ProcessEvent.offsetOf('comm') };

/** Traces sched:sched_process_exec until the duration ends or SIGINT/SIGTERM; resolves to the summary. */
export async function traceExec(opts: TraceExecOptions): Promise<TraceSummary & { mode: ExecMode }> {
  const mode = opts.mode ?? 'zerocopy';
  const ring = BpfMap.create({ type: 'ringbuf', maxEntries: opts.ringBytes ?? 256 * 1024, name: 'exec_events' });
  const drops = DropCounter.create('exec_drops');
  const resources: { close(): void }[] = [ring, drops];
  try {
    const program = Program.load({ type: 'tracepoint', name: `exec_${mode}`, instructions: execProgram(mode, ring, drops, opts.minPid ?? 1000) });
    resources.push(program);
    const latency = new LatencyRecorder();
    let events = 0;
    const onRecord: RecordCallback = (view, off) => {
      const now = monotonicNowNs();
      const ts = view.getUint32(off + OFF.ts, true) + view.getUint32(off + OFF.ts + 4, true) * 4294967296;
      latency.record(now - ts);
      events++;
      opts.onEvent({
        pid: view.getUint32(off + OFF.pid, true), uid: view.getUint32(off + OFF.uid, true), timestampNs: ts,
        comm: view.cString(off + OFF.comm, 16), latencyNs: now - ts,
      });
    };
    const reader = new RingBuffer(ring, onRecord, { dropCounter: drops });
    const link = program.attachTracepoint('sched', 'sched_process_exec');
    const summary = await runTraceSession({ reader, links: [link], latency, events: () => events, durationS: opts.durationS, onAttached: opts.onAttached, resources });
    return { ...summary, mode };
  } catch (e) {
    for (const r of resources) r.close();
    throw e;
  }
}
