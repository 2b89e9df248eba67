/**
 * Suite `sizing`: Chapter 28 exercise 1 — ring sizes from 64 KiB to 64 MiB under one fixed load
 * (the live syscall generator at full speed, a reader that drains every 10 ms): loss rate vs size.
 */
import type { BenchContext, BenchSuite, Chart, Row, SuiteResult } from './suite.js';
import { exactlyOnce, runLive, type LiveRunResult } from './syscall-events.js';

/** The reader drains once per this budget: the ring must hold that much traffic. */
const READER_BUDGET_MS = 10;

/** Suite `sizing`. */
export const suite: BenchSuite = {
  name: 'sizing',
  title: 'Ring buffer sizing: loss rate vs ring size under a fixed load',
  async run(ctx: BenchContext): Promise<SuiteResult> {
    const t0 = Date.now();
    const events = ctx.quick ? 100_000 : 300_000;
    const sizes: number[] = [];
    for (let s = 64 << 10; s <= 64 << 20; s *= ctx.quick ? 16 : 2) sizes.push(s);
    const results: LiveRunResult[] = [];
    for (const [i, size] of sizes.entries()) {
      results.push(
        await runLive({
          events,
          ringBytes: size,
          maxLatencyMs: READER_BUDGET_MS,
          onProgress: (f) => ctx.progress((i + Math.min(1, f)) / sizes.length, `${fmtSize(size)} ring`),
        }),
      );
    }
    const lossPct = results.map((r) => (r.lost / r.produced) * 100);
    const rows: Row[] = sizes.map((size, i) => {
      const r = results[i]!;
      return {
        name: `${fmtSize(size)} ring`,
        value: lossPct[i]!,
        unit: '% lost',
        verdict: 'info' as const,
        claim: size === 256 << 10 ? 'rule of thumb: start with 256KB' : undefined,
        note: `${r.lost.toLocaleString('en-US')} of ${r.produced.toLocaleString('en-US')} lost; ${(r.eventsPerSec / 1e6).toFixed(2)}M events/s delivered; p99 ${(r.latency ? r.latency.p99Us / 1000 : NaN).toFixed(2)} ms`,
      };
    });
    const smallestLoses = lossPct[0]! > 0;
    const firstLossless = sizes.find((_, i) => lossPct[i] === 0);
    const rate = Math.max(...results.map((r) => r.produced / (r.elapsedMs / 1000)));
    rows.push({
      name: 'too small: events dropped under load',
      value: lossPct[0]!,
      unit: '% lost at 64 KiB',
      claim: 'Too small: Events dropped under load',
      verdict: smallestLoses ? 'holds' : 'does not hold',
    });
    rows.push({
      name: 'smallest ring without loss',
      value: firstLossless ?? NaN,
      unit: 'bytes',
      verdict: firstLossless !== undefined ? 'info' : 'does not hold',
      note: `≈ ${(rate / 1e6).toFixed(2)}M events/s × 40 bytes (32 + 8 header) × ${READER_BUDGET_MS} ms budget ≈ ${fmtSize((rate * 40 * READER_BUDGET_MS) / 1000)} needed`,
    });
    const charts: Chart[] = [
      {
        kind: 'line',
        title: 'Loss vs ring size (fixed load)',
        xLabel: 'ring size (bytes)',
        yLabel: '% events lost',
        labels: sizes,
        logX: true,
        series: [{ name: 'lost', data: lossPct }],
      },
    ];
    const checks = {
      'delivered + lost = produced at every size (drops counted exactly by the BPF-side counter)':
        results.every(exactlyOnce),
      'loss never rises with size by more than noise': lossPct.every((p, i) => i === 0 || p <= lossPct[i - 1]! + 5),
    };
    const notes = [
      `${events.toLocaleString('en-US')} events per size from the live syscall generator at full speed; the reader (tsbpf RingBuffer, maxLatencyMs ${READER_BUDGET_MS}) drains once per ${READER_BUDGET_MS} ms, so the ring has to absorb that much traffic.`,
    ];
    return {
      suite: 'sizing',
      title: this.title,
      rows,
      charts,
      notes,
      checks,
      durationMs: Date.now() - t0,
      extra: { events, sizes, results: results.map((r) => ({ ...r, histogram: undefined })) },
    };
  },
};

function fmtSize(n: number): string {
  if (n >= 1 << 20) return `${+(n / (1 << 20)).toFixed(1)} MiB`;
  return `${+(n / 1024).toFixed(1)} KiB`;
}
