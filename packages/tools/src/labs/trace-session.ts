/**
 * The life of a tracer: attach, drain the event buffer until --duration or a signal, then detach
 * first (no new events), drain what is left, and report events, rate, BPF-side drops and latency.
 */
import type { Link } from 'tsbpf';
import type { LatencyRecorder, LatencySummary } from './latency.js';
import { untilStopped, type StopReason } from './stop-signal.js';

/** What every tracer reports at the end (the `summary` JSON record, minus its `type`). */
export interface TraceSummary {
  /** Events delivered to user space. */
  events: number;
  /** Wall time from attach to detach, seconds. */
  durationS: number;
  eventsPerSec: number;
  /** Events the BPF side could not reserve (its per-CPU drop counter) plus buffer-reported losses. */
  dropped: number;
  /** bpf_ktime_get_ns() in the program to receipt in JavaScript. */
  latency: LatencySummary;
  reason: StopReason;
  /** With `--overload sample`: low-priority events the BPF-side policy chose not to send. */
  sampledOut?: number;
  /** With `--overload sample`: the sampling in force at the end, low-priority events kept 1 in this. */
  keepOneIn?: number;
}

/** The reader side a session drives: RingBuffer or PerfBuffer. */
export interface EventReader {
  poll(timeoutMs?: number): Promise<number>;
  consume(): number;
  readonly lost: number;
  close(): void;
}

/** Options of {@link runTraceSession}. */
export interface SessionOptions {
  reader: EventReader;
  links: Link[];
  latency: LatencyRecorder;
  /** Events counted by the caller's callback. */
  events: () => number;
  durationS?: number;
  /** Called once attached, before waiting (print headers, signal readiness). */
  onAttached?: () => void;
  /** Everything else to close at the end (programs, maps). */
  resources?: { close(): void }[];
  /** How often to look for the stop request while idle, ms. */
  pollMs?: number;
  /** More summary fields, read after the final drain and before anything is closed. */
  finalCounts?: () => Partial<TraceSummary>;
}

/** Runs the session to its end and returns the summary. Closes links, reader and resources. */
export async function runTraceSession(o: SessionOptions): Promise<TraceSummary> {
  const started = performance.now();
  const stop = untilStopped(o.durationS);
  let reason: StopReason = 'stopped';
  let dropped = 0;
  let elapsedS = 0;
  let more: Partial<TraceSummary> = {};
  try {
    o.onAttached?.();
    const pollMs = o.pollMs ?? 100;
    let ended = false;
    stop.done.then(
      () => {
        ended = true;
      },
      () => {
        ended = true;
      },
    );
    while (!ended) await o.reader.poll(pollMs);
    reason = await stop.done;
    // Detach first so the final drain sees everything that will ever be produced.
    for (const l of o.links) l.close();
    elapsedS = (performance.now() - started) / 1000;
    o.reader.consume();
    dropped = o.reader.lost;
    more = o.finalCounts?.() ?? {};
  } finally {
    stop.stop();
    for (const l of o.links) l.close();
    o.reader.close();
    for (const r of o.resources ?? []) r.close();
  }
  const events = o.events();
  return {
    events,
    durationS: round3(elapsedS),
    eventsPerSec: round1(elapsedS > 0 ? events / elapsedS : 0),
    dropped,
    latency: o.latency.summary(),
    reason,
    ...more,
  };
}

function round1(n: number): number {
  return Math.round(n * 10) / 10;
}
function round3(n: number): number {
  return Math.round(n * 1000) / 1000;
}
