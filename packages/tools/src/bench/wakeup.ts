/**
 * Suite `wakeup`: kernel-side batching (Chapter 28 "BPF-side batching", Lab 12.2 "reduce wakeup
 * frequency") on the live syscall pipeline — BPF_RB_NO_WAKEUP except every Nth event, adaptive
 * wake-ups from bpf_ringbuf_query(AVAIL_DATA), never waking (timer only), against default
 * wake-ups and against the reader-side latency budget: consumer CPU and latency.
 */
import { median, type BenchContext, type BenchSuite, type Chart, type Row, type SuiteResult } from './suite.js';
import { exactlyOnce, runLive, type LiveRunResult, type WakeupMode } from './syscall-events.js';

const RING_BYTES = 16 << 20;
/** The reader's flush deadline in NO_WAKEUP modes: the longest a stranded record waits. */
const FLUSH_MS = 10;

interface Mode {
  name: string;
  wakeup: WakeupMode;
  maxLatencyMs: number;
  flushMs?: number;
}

const MODES: Mode[] = [
  { name: 'default wake-ups (flags 0)', wakeup: { kind: 'default' }, maxLatencyMs: 0 },
  { name: 'NO_WAKEUP, FORCE every 64th', wakeup: { kind: 'every', n: 64 }, maxLatencyMs: 0, flushMs: FLUSH_MS },
  { name: 'NO_WAKEUP, FORCE every 1024th', wakeup: { kind: 'every', n: 1024 }, maxLatencyMs: 0, flushMs: FLUSH_MS },
  {
    name: 'adaptive: FORCE at ≥ 64 KiB queued',
    wakeup: { kind: 'adaptive', bytes: 64 << 10 },
    maxLatencyMs: 0,
    flushMs: FLUSH_MS,
  },
  {
    name: 'adaptive: FORCE once 0.5 ms passed since the last forced wake-up (time in an array map)',
    wakeup: { kind: 'timed', budgetNs: 500_000 },
    maxLatencyMs: 0,
    flushMs: FLUSH_MS,
  },
  {
    name: `NO_WAKEUP always (reader timer ${FLUSH_MS} ms)`,
    wakeup: { kind: 'never' },
    maxLatencyMs: 0,
    flushMs: FLUSH_MS,
  },
  { name: 'reader budget maxLatencyMs 0.5 (for contrast)', wakeup: { kind: 'default' }, maxLatencyMs: 0.5 },
];

/** Suite `wakeup`. */
export const suite: BenchSuite = {
  name: 'wakeup',
  title: 'Kernel-side wake-up batching (BPF_RB_NO_WAKEUP every Nth, adaptive) vs default vs reader budget',
  async run(ctx: BenchContext): Promise<SuiteResult> {
    const t0 = Date.now();
    const events = ctx.quick ? 100_000 : 500_000;
    const results: LiveRunResult[] = [];
    for (const [i, m] of MODES.entries()) {
      results.push(
        await runLive({
          events,
          ringBytes: RING_BYTES,
          syscall: 'nosys',
          attach: 'raw_tp',
          wakeup: m.wakeup,
          maxLatencyMs: m.maxLatencyMs,
          flushMs: m.flushMs,
          onProgress: (f) => ctx.progress((i + Math.min(1, f)) / MODES.length, m.name),
        }),
      );
    }
    const checks: Record<string, boolean> = {
      'every event delivered exactly once or counted lost, in every mode': results.every(exactlyOnce),
    };
    const base = results[0]!;
    const rows: Row[] = [];
    for (const [i, m] of MODES.entries()) {
      const r = results[i]!;
      const kernelSide = m.wakeup.kind !== 'default';
      const lower = r.consumerCpuPct < base.consumerCpuPct * 0.9;
      rows.push({
        name: m.name,
        value: r.consumerCpuPct,
        unit: '% CPU',
        claim: i === 0 ? undefined : 'batching wake-ups cuts consumer overhead',
        verdict: i === 0 ? 'info' : lower ? 'holds' : 'does not hold',
        ratio: i === 0 ? undefined : { value: r.consumerCpuPct / base.consumerCpuPct, against: 'default' },
        note: `p50 ${(r.latency!.p50Us / 1000).toFixed(3)} ms, p99 ${(r.latency!.p99Us / 1000).toFixed(3)} ms, ${(r.eventsPerSec / 1e6).toFixed(2)}M events/s, lost ${r.lost}, ${r.wakeups} fd wake-ups, ${r.flushes} timer flushes, ${r.drains} drains, ${(r.nsPerCall).toFixed(0)} ns/syscall${kernelSide && !lower ? ' — ring readiness is level-triggered: a reader that re-arms while data is queued wakes at once, so NO_WAKEUP alone does not batch' : ''}`,
      });
    }
    const charts: Chart[] = [
      {
        kind: 'bar',
        title: 'Consumer CPU by wake-up strategy',
        yLabel: '% of a core',
        labels: MODES.map((m) => m.name),
        series: [{ name: 'consumer CPU', data: results.map((r) => r.consumerCpuPct) }],
      },
      {
        kind: 'bar',
        title: 'Latency by wake-up strategy',
        yLabel: 'ms',
        labels: MODES.map((m) => m.name),
        series: [
          { name: 'p50', data: results.map((r) => r.latency!.p50Us / 1000) },
          { name: 'p99', data: results.map((r) => r.latency!.p99Us / 1000) },
        ],
      },
    ];
    const notes = [
      `${events.toLocaleString('en-US')} events per mode through the live syscall pipeline (see the live suite: raw tracepoint, ENOSYS syscall), CPU over the steady-state window, ${RING_BYTES >> 20} MiB ring. "every Nth" keeps a per-CPU counter in a map; "adaptive" asks bpf_ringbuf_query(BPF_RB_AVAIL_DATA) and forces a wake-up once 64 KiB are queued; the timed one keeps the last forced wake-up's bpf_ktime_get_ns in an array map and forces one when 0.5 ms have passed. NO_WAKEUP modes rely on the reader's ${FLUSH_MS} ms flush deadline for stragglers.`,
      `Median cost per traced syscall across modes: ${median(results.map((r) => r.nsPerCall)).toFixed(0)} ns.`,
    ];
    return {
      suite: 'wakeup',
      title: this.title,
      rows,
      charts,
      notes,
      checks,
      durationMs: Date.now() - t0,
      extra: { events, modes: MODES.map((m, i) => ({ ...m, ...results[i]!, histogram: undefined })) },
    };
  },
};
