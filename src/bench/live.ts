/**
 * Suite `live`: Lab 12.2's targets on real tracepoint events — raw_syscalls:sys_enter filtered to
 * our own load generator (bench/c/syscall_loop.c pinned to the other core), 32-byte events through
 * a tsbpf RingBuffer: events/s delivered, drops, consumer CPU, event→user latency, cost per traced
 * syscall, and the trade-off curve over the reader's latency budget (maxLatencyMs).
 */
import { median, spread, type BenchContext, type BenchSuite, type Chart, type Row, type SuiteResult } from './suite.js';
import { exactlyOnce, liveCpus, runLive, type LiveRunResult } from './syscall-events.js';

const RING_BYTES = 16 << 20;
/** The budget the headline rows use: half the latency target, leaving room for the drain. */
const HEADLINE_BUDGET_MS = 0.5;
const LAT_EDGES_US = [10, 25, 50, 100, 250, 500, 1000, 2000, 5000, 10000];

function summary(r: LiveRunResult) {
  return { ...r, histogram: undefined };
}

/** Suite `live`. */
export const suite: BenchSuite = {
  name: 'live',
  title: 'Lab 12.2 targets on live tracepoint events (raw_syscalls:sys_enter → ring buffer → TypeScript)',
  async run(ctx: BenchContext): Promise<SuiteResult> {
    const t0 = Date.now();
    const events = ctx.quick ? 100_000 : 1_000_000;
    const curveEvents = ctx.quick ? events : 500_000;
    const budgets = ctx.quick ? [0, HEADLINE_BUDGET_MS, 2] : [0, 0.1, 0.25, HEADLINE_BUDGET_MS, 1, 2, 5, 10];
    const headlineRepeats = ctx.quick ? 1 : Math.min(ctx.repeats, 3);
    const steps = 1 + budgets.length + headlineRepeats;
    let step = 0;
    const progress = (label: string) => (f: number) => ctx.progress((step + Math.min(1, f)) / steps, label);
    const rows: Row[] = [];
    const notes: string[] = [];
    const checks: Record<string, boolean> = {};
    const charts: Chart[] = [];

    // The generator alone: its syscall cost without any tracer.
    const bare = await runLive({ events, ringBytes: RING_BYTES, untraced: true });
    step++;
    const curve: { budget: number; r: LiveRunResult }[] = [];
    for (const b of budgets) {
      // The headline budget's point doubles as the first headline repeat, at the full event count.
      const n = b === HEADLINE_BUDGET_MS ? events : curveEvents;
      curve.push({ budget: b, r: await runLive({ events: n, ringBytes: RING_BYTES, maxLatencyMs: b, onProgress: progress(`maxLatencyMs ${b}`) }) });
      step++;
    }
    const head: LiveRunResult[] = [curve.find((c) => c.budget === HEADLINE_BUDGET_MS)!.r];
    for (let i = 1; i < headlineRepeats; i++) {
      head.push(await runLive({ events, ringBytes: RING_BYTES, maxLatencyMs: HEADLINE_BUDGET_MS, onProgress: progress('headline') }));
      step++;
    }
    const all = [...curve.map((c) => c.r), ...head.slice(1)];
    checks['every event delivered exactly once or counted lost (delivered + lost = produced; in order when nothing lost)'] = all.every(exactlyOnce);

    const m = (f: (r: LiveRunResult) => number) => ({ value: median(head.map(f)), spread: spread(head.map(f)) });
    const rate = m((r) => r.eventsPerSec / 1e6);
    const lost = m((r) => r.lost);
    const cpu = m((r) => r.consumerCpuPct);
    const p50 = m((r) => r.latency!.p50Us / 1000);
    const p99 = m((r) => r.latency!.p99Us / 1000);
    const max = m((r) => r.latency!.maxUs / 1000);
    const added = m((r) => r.nsPerCall - bare.nsPerCall);
    const genMax = 1e9 / bare.nsPerCall / 1e6;
    const label = `maxLatencyMs ${HEADLINE_BUDGET_MS}`;
    const met = [rate.value >= 1, lost.value === 0, p99.value < 1, cpu.value <= 5];
    rows.push({ name: `events/s delivered (${label})`, unit: 'Mevents/s', ...rate, claim: '1M events/sec', verdict: met[0] ? 'holds' : 'does not hold', note: rate.value < 1 ? `the generator alone makes ${genMax.toFixed(2)}M getppid/s untraced and ${(1e3 / median(head.map((r) => r.nsPerCall))).toFixed(2)}M/s traced on this machine: the producer side bounds the rate` : undefined });
    rows.push({ name: 'events lost (ring full)', unit: 'events', ...lost, claim: '0 loss (issue 8)', verdict: met[1] ? 'holds' : 'does not hold', note: `${RING_BYTES >> 20} MiB ring, counted by the BPF-side drop counter` });
    rows.push({ name: 'consumer CPU (whole Node process)', unit: '% of a core', ...cpu, claim: '< 1% CPU (seed); ≤ 5% (issue 8)', verdict: cpu.value < 1 ? 'holds' : met[3] ? 'holds' : 'does not hold', note: cpu.value < 1 ? undefined : met[3] ? 'meets the issue\'s 5%, not the seed\'s 1%' : undefined });
    rows.push({ name: 'event→user latency p50', unit: 'ms', ...p50, claim: '< 1 ms', verdict: p50.value < 1 ? 'holds' : 'does not hold' });
    rows.push({ name: 'event→user latency p99', unit: 'ms', ...p99, claim: '< 1 ms', verdict: met[2] ? 'holds' : 'does not hold' });
    rows.push({ name: 'event→user latency max', unit: 'ms', ...max, verdict: 'info' });
    rows.push({ name: 'cost added per traced syscall', unit: 'ns', ...added, claim: '~200 ns/event (zero-copy)', verdict: added.value <= 220 ? 'holds' : 'does not hold', note: `getppid ${bare.nsPerCall.toFixed(0)} ns untraced → ${median(head.map((r) => r.nsPerCall)).toFixed(0)} ns traced (tracepoint entry + filter + reserve/fill/submit + wake-ups)` });
    rows.push({ name: 'all four at once (rate, loss, p99, CPU)', value: met.filter(Boolean).length, unit: 'of 4', claim: 'all at once (issue 8)', verdict: met.every(Boolean) ? 'holds' : 'does not hold' });
    for (const c of curve) {
      const r = c.r;
      rows.push({
        name: `curve: maxLatencyMs ${c.budget}`, value: r.consumerCpuPct, unit: '% CPU', verdict: 'info',
        note: `${(r.eventsPerSec / 1e6).toFixed(2)}M events/s, p50 ${(r.latency!.p50Us / 1000).toFixed(3)} ms, p99 ${(r.latency!.p99Us / 1000).toFixed(3)} ms, lost ${r.lost}, ${r.wakeups} fd wake-ups, ${r.drains} drains`,
      });
    }
    charts.push({ kind: 'line', title: 'Consumer CPU vs latency budget (maxLatencyMs)', xLabel: 'maxLatencyMs', yLabel: '% of a core', labels: budgets, series: [{ name: 'consumer CPU', data: curve.map((c) => c.r.consumerCpuPct) }] });
    charts.push({ kind: 'line', title: 'Event→user latency vs budget', xLabel: 'maxLatencyMs', yLabel: 'ms', labels: budgets, series: [{ name: 'p50', data: curve.map((c) => c.r.latency!.p50Us / 1000) }, { name: 'p99', data: curve.map((c) => c.r.latency!.p99Us / 1000) }] });
    charts.push({ kind: 'line', title: 'Delivered rate vs budget', xLabel: 'maxLatencyMs', yLabel: 'Mevents/s', labels: budgets, series: [{ name: 'delivered', data: curve.map((c) => c.r.eventsPerSec / 1e6) }] });
    const h = head[0]!.histogram!;
    charts.push({
      kind: 'bar', title: `Latency distribution (${label})`, xLabel: 'event→user latency', yLabel: 'events',
      labels: [...LAT_EDGES_US.map((e) => `< ${e >= 1000 ? `${e / 1000} ms` : `${e} µs`}`), `≥ ${LAT_EDGES_US.at(-1)! / 1000} ms`],
      series: [{ name: 'events', data: h.buckets(LAT_EDGES_US) }],
    });
    const cpus = liveCpus();
    notes.push(`${events.toLocaleString('en-US')} getppid() calls per headline run (${curveEvents.toLocaleString('en-US')} per other curve point) by bench/c/syscall_loop.c on CPU ${cpus.generator}; the tracer (tsbpf assembler) keeps that process's getppid calls and reserves/fills/submits a 32-byte event {ktime, seq, id, pid_tgid}; the reader (tsbpf RingBuffer, zero-copy callback) runs in this Node process pinned to CPU ${cpus.consumer}. Latency = reader's CLOCK_MONOTONIC at drain − the event's bpf_ktime_get_ns. CPU = process.cpuUsage() of the whole Node process over the run.`);
    notes.push('Trade-off: maxLatencyMs 0 wakes the reader on every readiness (lowest latency, most wake-ups and CPU); a budget lets events accumulate and drains them in one pass, so CPU falls roughly with 1/budget while p99 rises towards the budget.');
    return { suite: 'live', title: this.title, rows, charts, notes, checks, durationMs: Date.now() - t0, extra: { events, ringBytes: RING_BYTES, bare: summary(bare), curve: curve.map((c) => ({ budget: c.budget, ...summary(c.r) })), headline: head.map(summary) } };
  },
};
