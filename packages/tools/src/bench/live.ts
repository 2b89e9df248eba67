/**
 * Suite `live`: Lab 12.2's targets on real tracepoint events — raw_syscalls:sys_enter filtered to
 * our own load generator (bench/c/syscall_loop.c pinned to the other core), 32-byte events through
 * a tsbpf RingBuffer: events/s delivered, drops, consumer CPU, event→user latency, cost per traced
 * syscall, and the trade-off curve over the reader's latency budget (maxLatencyMs).
 */
import { BpfMap, RingBuffer } from 'tsbpf';
import { median, spread, type BenchContext, type BenchSuite, type Chart, type Row, type SuiteResult } from './suite.js';
import { pacedLive } from './live-paced.js';
import {
  exactlyOnce,
  GENERATOR_SYSCALLS,
  liveCpus,
  runLive,
  type GeneratorSyscall,
  type LiveRunResult,
  type TracerAttach,
} from './syscall-events.js';

const RING_BYTES = 16 << 20;
/** The budget the headline rows use: half the latency target, leaving room for the drain. */
const HEADLINE_BUDGET_MS = 0.5;
const LAT_EDGES_US = [10, 25, 50, 100, 250, 500, 1000, 2000, 5000, 10000];
/**
 * The pipeline the headline and the curve use: the cheapest traced syscall (a syscall number the
 * kernel does not have: ENOSYS right after entry) and a raw tracepoint on sys_enter (no perf trace
 * buffer per call). The seed-era setup (tracefs tracepoint, getppid) is measured once for contrast.
 */
const SYSCALL: GeneratorSyscall = 'nosys';
const ATTACH: TracerAttach = 'raw_tp';

function summary(r: LiveRunResult) {
  return { ...r, histogram: undefined };
}

/**
 * CPU per reader wake-up with nothing to drain, through the public API: a RingBuffer over an
 * empty ring whose flush deadline (= the budget) wakes it on its timerfd, for `ms`. `blocking`:
 * the same with runBlocking() (ppoll timeout) instead of start() in the event loop. The fixed cost
 * each drain pays on top of its events.
 */
async function wakeCostUs(
  budgetMs: number,
  ms: number,
  blocking: boolean,
): Promise<{ usPerWake: number; wakesPerSec: number }> {
  using ring = BpfMap.create({ type: 'ringbuf', maxEntries: 4096, name: 'wake_probe' });
  using rb = new RingBuffer(ring, () => {}, { maxLatencyMs: budgetMs, flushMs: budgetMs });
  let n = 0;
  const c0 = process.cpuUsage(),
    t0 = performance.now();
  const tick = (): boolean => {
    n++;
    return performance.now() - t0 >= ms;
  };
  if (blocking) rb.runBlocking({ afterDrain: tick });
  else
    await new Promise<void>((resolve) => {
      rb.start({
        afterDrain: () => {
          if (tick()) {
            rb.stop();
            resolve();
          }
        },
      });
    });
  const c = process.cpuUsage(c0),
    dt = performance.now() - t0;
  return { usPerWake: (c.user + c.system) / n, wakesPerSec: n / (dt / 1000) };
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
    const steps = 2 + budgets.length + headlineRepeats + (ctx.quick ? 4 : 16);
    let step = 0;
    const progress = (label: string) => (f: number) => ctx.progress((step + Math.min(1, f)) / steps, label);
    const rows: Row[] = [];
    const notes: string[] = [];
    const checks: Record<string, boolean> = {};
    const charts: Chart[] = [];

    // The generator alone: its syscall cost without any tracer, for each syscall it can make.
    const bareBy: Record<string, LiveRunResult> = {};
    for (const sc of Object.keys(GENERATOR_SYSCALLS) as GeneratorSyscall[])
      bareBy[sc] = await runLive({
        events: Math.min(events, 500_000),
        ringBytes: RING_BYTES,
        untraced: true,
        syscall: sc,
      });
    const bare = bareBy[SYSCALL]!;
    step++;
    const pipe = { syscall: SYSCALL, attach: ATTACH };
    const wakeBlocking = await wakeCostUs(HEADLINE_BUDGET_MS, ctx.quick ? 200 : 1000, true);
    const wake = await wakeCostUs(HEADLINE_BUDGET_MS, ctx.quick ? 200 : 1000, false);
    // The promise-per-wake reader (await waitReadable(); consume()) at the headline budget, for contrast.
    const awaitRun = await runLive({
      events: curveEvents,
      ringBytes: RING_BYTES,
      maxLatencyMs: HEADLINE_BUDGET_MS,
      ...pipe,
      reader: 'await',
    });
    // The earlier setup for contrast: tracefs tracepoint + getppid.
    const oldSetup = await runLive({
      events: curveEvents,
      ringBytes: RING_BYTES,
      maxLatencyMs: HEADLINE_BUDGET_MS,
      syscall: 'getppid',
      attach: 'tracepoint',
    });
    const curve: { budget: number; r: LiveRunResult }[] = [];
    for (const b of budgets) {
      // The headline budget's point doubles as the first headline repeat, at the full event count.
      const n = b === HEADLINE_BUDGET_MS ? events : curveEvents;
      curve.push({
        budget: b,
        r: await runLive({
          events: n,
          ringBytes: RING_BYTES,
          maxLatencyMs: b,
          ...pipe,
          onProgress: progress(`maxLatencyMs ${b}`),
        }),
      });
      step++;
    }
    const head: LiveRunResult[] = [curve.find((c) => c.budget === HEADLINE_BUDGET_MS)!.r];
    for (let i = 1; i < headlineRepeats; i++) {
      head.push(
        await runLive({
          events,
          ringBytes: RING_BYTES,
          maxLatencyMs: HEADLINE_BUDGET_MS,
          ...pipe,
          onProgress: progress('headline'),
        }),
      );
      step++;
    }
    const paced = await pacedLive(ctx, {
      ringBytes: RING_BYTES,
      budgetMs: HEADLINE_BUDGET_MS,
      syscall: SYSCALL,
      attach: ATTACH,
      fullRateEvents: events,
      step: (l) => {
        step++;
        return progress(l);
      },
    });
    const pacedTs = [
      ...(paced.extra.pairs as { ts: LiveRunResult; blk: LiveRunResult }[]),
      ...(paced.extra.curve as { ts: LiveRunResult; blk: LiveRunResult }[]),
    ].flatMap((p) => [p.ts, p.blk]);
    const all = [...curve.map((c) => c.r), ...head.slice(1), oldSetup, awaitRun, ...pacedTs];
    checks['C consumer: every event delivered exactly once or counted lost'] = paced.exact;
    checks[
      'every event delivered exactly once or counted lost (delivered + lost = produced; in order when nothing lost)'
    ] = all.every(exactlyOnce);

    const m = (f: (r: LiveRunResult) => number) => ({ value: median(head.map(f)), spread: spread(head.map(f)) });
    const rate = m((r) => r.steadyEventsPerSec / 1e6);
    const lost = m((r) => r.lost);
    const cpu = m((r) => r.consumerCpuPct);
    const p50 = m((r) => r.latency!.p50Us / 1000);
    const p99 = m((r) => r.latency!.p99Us / 1000);
    const max = m((r) => r.latency!.maxUs / 1000);
    const added = m((r) => r.nsPerCall - bare.nsPerCall);
    const genMax = 1e9 / bare.nsPerCall / 1e6;
    const label = `maxLatencyMs ${HEADLINE_BUDGET_MS}`;
    const met = [rate.value >= 1, lost.value === 0, p99.value < 1, cpu.value <= 5];
    const scLabel = GENERATOR_SYSCALLS[SYSCALL].label;
    const tracedNs = median(head.map((r) => r.nsPerCall));
    rows.push({
      name: `events/s delivered, steady state (${label})`,
      unit: 'Mevents/s',
      ...rate,
      claim: '1M events/sec',
      verdict: met[0] ? 'holds' : 'does not hold',
      note: `whole run ${median(head.map((r) => r.eventsPerSec / 1e6)).toFixed(2)}M/s; the generator makes ${genMax.toFixed(2)}M ${scLabel}/s untraced and ${(1e3 / tracedNs).toFixed(2)}M/s traced on one core: ${rate.value < 1 ? 'the producer side bounds the rate' : 'the consumer keeps up'}`,
    });
    rows.push({
      name: 'events lost (ring full)',
      unit: 'events',
      ...lost,
      claim: '0 loss (issue 8)',
      verdict: met[1] ? 'holds' : 'does not hold',
      note: `${RING_BYTES >> 20} MiB ring, counted by the BPF-side drop counter`,
    });
    rows.push({
      name: 'consumer CPU, steady state (whole Node process)',
      unit: '% of a core',
      ...cpu,
      claim: '< 1% CPU (seed); ≤ 5% (issue 8)',
      verdict: cpu.value < 1 ? 'holds' : met[3] ? 'holds' : 'does not hold',
      note: `${cpu.value < 1 ? '' : met[3] ? "meets the issue's 5%, not the seed's 1%; " : ''}whole run incl. ramp-up ${median(head.map((r) => r.consumerCpuPctWhole)).toFixed(1)}%`,
    });
    rows.push({
      name: 'event→user latency p50',
      unit: 'ms',
      ...p50,
      claim: '< 1 ms',
      verdict: p50.value < 1 ? 'holds' : 'does not hold',
    });
    rows.push({
      name: 'event→user latency p99',
      unit: 'ms',
      ...p99,
      claim: '< 1 ms',
      verdict: met[2] ? 'holds' : 'does not hold',
    });
    rows.push({ name: 'event→user latency max', unit: 'ms', ...max, verdict: 'info' });
    rows.push({
      name: 'cost added per traced syscall',
      unit: 'ns',
      ...added,
      claim: '~200 ns/event (zero-copy)',
      verdict: added.value <= 220 ? 'holds' : 'does not hold',
      note: `${scLabel} ${bare.nsPerCall.toFixed(0)} ns untraced → ${tracedNs.toFixed(0)} ns traced (sys_enter tracing slow path + raw tracepoint + filter + reserve/fill/submit)`,
    });
    rows.push({
      name: `reader wake-up cost, nothing to drain (maxLatencyMs ${HEADLINE_BUDGET_MS})`,
      value: wake.usPerWake,
      unit: 'µs CPU/wake',
      verdict: 'info',
      note: `event-driven (start()): ${wake.wakesPerSec.toFixed(0)} wakes/s → ${((wake.usPerWake * wake.wakesPerSec) / 1e4).toFixed(1)}% of a core before any event: consumer CPU ≈ wakes/s × this + events/s × the per-event drain cost`,
    });
    rows.push({
      name: `reader wake-up cost, nothing to drain, runBlocking() (maxLatencyMs ${HEADLINE_BUDGET_MS})`,
      value: wakeBlocking.usPerWake,
      unit: 'µs CPU/wake',
      verdict: 'info',
      note: `${wakeBlocking.wakesPerSec.toFixed(0)} wakes/s → ${((wakeBlocking.usPerWake * wakeBlocking.wakesPerSec) / 1e4).toFixed(1)}% of a core: one ppoll per wake, no event-loop iteration (start(): two epoll_pwait + one timerfd_settime)`,
    });
    rows.push({
      name: 'all four at once (rate, loss, p99, CPU)',
      value: met.filter(Boolean).length,
      unit: 'of 4',
      claim: 'all at once (issue 8)',
      verdict: met.every(Boolean) ? 'holds' : 'does not hold',
    });
    const fullC = paced.extra.fullC as { consumerCpuPct: number }[];
    const fullRatios = head.map((r, i) => r.consumerCpuPct / fullC[Math.min(i, fullC.length - 1)]!.consumerCpuPct);
    rows.push({
      name: 'full rate: consumer CPU vs C (same budget)',
      unit: '×',
      value: median(fullRatios),
      spread: spread(fullRatios),
      claim: '≤ 1.3× C',
      verdict: median(fullRatios) <= 1.3 ? 'holds' : 'does not hold',
      note: 'tsbpf headline run i over C full-rate run i; both consumers drain as fast as the generator produces',
    });
    rows.push(...paced.rows);
    charts.push(...paced.charts);
    notes.push(...paced.notes);
    for (const sc of Object.keys(bareBy))
      rows.push({
        name: `generator untraced: ${GENERATOR_SYSCALLS[sc as GeneratorSyscall].label}`,
        value: bareBy[sc]!.nsPerCall,
        unit: 'ns/call',
        verdict: 'info',
        note: `${(1e3 / bareBy[sc]!.nsPerCall).toFixed(2)}M calls/s on one core`,
      });
    rows.push({
      name: 'contrast: tracefs tracepoint + getppid (maxLatencyMs 0.5)',
      value: oldSetup.nsPerCall,
      unit: 'ns/call',
      verdict: 'info',
      note: `added ${(oldSetup.nsPerCall - bareBy.getppid!.nsPerCall).toFixed(0)} ns over untraced getppid; ${(oldSetup.steadyEventsPerSec / 1e6).toFixed(2)}M events/s, CPU ${oldSetup.consumerCpuPct.toFixed(1)}%, p99 ${(oldSetup.latency!.p99Us / 1000).toFixed(3)} ms, lost ${oldSetup.lost}`,
    });
    rows.push({
      name: `contrast: await waitReadable() + consume() loop (maxLatencyMs ${HEADLINE_BUDGET_MS})`,
      value: awaitRun.consumerCpuPct,
      unit: '% CPU',
      verdict: 'info',
      note: `${(awaitRun.steadyEventsPerSec / 1e6).toFixed(2)}M events/s, p50 ${(awaitRun.latency!.p50Us / 1000).toFixed(3)} ms, p99 ${(awaitRun.latency!.p99Us / 1000).toFixed(3)} ms, lost ${awaitRun.lost}, ${awaitRun.drains} drains (the rows above use RingBuffer.start())`,
    });
    for (const c of curve) {
      const r = c.r;
      rows.push({
        name: `curve: maxLatencyMs ${c.budget}`,
        value: r.consumerCpuPct,
        unit: '% CPU',
        verdict: 'info',
        note: `${(r.steadyEventsPerSec / 1e6).toFixed(2)}M events/s, p50 ${(r.latency!.p50Us / 1000).toFixed(3)} ms, p99 ${(r.latency!.p99Us / 1000).toFixed(3)} ms, lost ${r.lost}, ${r.wakeups} fd wake-ups, ${r.drains} drains`,
      });
    }
    charts.push({
      kind: 'line',
      title: 'Consumer CPU vs latency budget (maxLatencyMs)',
      xLabel: 'maxLatencyMs',
      yLabel: '% of a core',
      labels: budgets,
      series: [{ name: 'consumer CPU', data: curve.map((c) => c.r.consumerCpuPct) }],
    });
    charts.push({
      kind: 'line',
      title: 'Event→user latency vs budget',
      xLabel: 'maxLatencyMs',
      yLabel: 'ms',
      labels: budgets,
      series: [
        { name: 'p50', data: curve.map((c) => c.r.latency!.p50Us / 1000) },
        { name: 'p99', data: curve.map((c) => c.r.latency!.p99Us / 1000) },
      ],
    });
    charts.push({
      kind: 'line',
      title: 'Delivered rate vs budget',
      xLabel: 'maxLatencyMs',
      yLabel: 'Mevents/s',
      labels: budgets,
      series: [{ name: 'delivered', data: curve.map((c) => c.r.steadyEventsPerSec / 1e6) }],
    });
    const h = head[0]!.histogram!;
    charts.push({
      kind: 'bar',
      title: `Latency distribution (${label})`,
      xLabel: 'event→user latency',
      yLabel: 'events',
      labels: [
        ...LAT_EDGES_US.map((e) => `< ${e >= 1000 ? `${e / 1000} ms` : `${e} µs`}`),
        `≥ ${LAT_EDGES_US.at(-1)! / 1000} ms`,
      ],
      series: [{ name: 'events', data: h.buckets(LAT_EDGES_US) }],
    });
    const cpus = liveCpus();
    notes.push(
      `${events.toLocaleString('en-US')} ${GENERATOR_SYSCALLS[SYSCALL].label} calls per headline run (${curveEvents.toLocaleString('en-US')} per other curve point) by bench/c/syscall_loop.c on CPU ${cpus.generator}, sequence number in an ignored argument; the tracer (tsbpf assembler, raw tracepoint on sys_enter) keeps that process's calls and reserves/fills/submits a 32-byte event {ktime, seq, id, pid_tgid}; the reader (tsbpf RingBuffer, zero-copy callback, event-driven via start()) runs in this Node process pinned to CPU ${cpus.consumer}. Latency = one CLOCK_MONOTONIC reading per drain − each event's bpf_ktime_get_ns; p50/p99 over the steady state (events after the first 10 %, which include V8 compiling each new reader's drain on this pinned core), max over every event. Rate and CPU = steady state: between the drains that cross 10 % and 90 % of the events (process.cpuUsage of the whole Node process, all threads). The budget runs on a timerfd, so sub-millisecond budgets are exact.`,
    );
    notes.push(
      'Trade-off: maxLatencyMs 0 wakes the reader on every readiness (lowest latency, most wake-ups and CPU); a budget lets events accumulate and drains them in one pass, so CPU falls roughly with 1/budget while p99 rises towards the budget.',
    );
    return {
      suite: 'live',
      title: this.title,
      rows,
      charts,
      notes,
      checks,
      durationMs: Date.now() - t0,
      extra: {
        events,
        ringBytes: RING_BYTES,
        wakeCost: wake,
        wakeCostBlocking: wakeBlocking,
        awaitRun: summary(awaitRun),
        syscall: SYSCALL,
        attach: ATTACH,
        bare: summary(bare),
        bareBySyscall: Object.fromEntries(Object.entries(bareBy).map(([k, v]) => [k, v.nsPerCall])),
        oldSetup: summary(oldSetup),
        curve: curve.map((c) => ({ budget: c.budget, ...summary(c.r) })),
        headline: head.map(summary),
        paced: paced.extra,
      },
    };
  },
};
