/**
 * Event latency from the BPF side's `bpf_ktime_get_ns()` to receipt in JavaScript. Both clocks are
 * CLOCK_MONOTONIC: ktime_get_ns in the kernel, uv_hrtime (process.hrtime, performance.now) here.
 */
import { performance } from 'node:perf_hooks';

// performance.now() is uv_hrtime relative to a fixed origin; pinning that origin to CLOCK_MONOTONIC
// once lets the hot path read a plain number without allocating. The first performance.now() call
// is slow (lazy setup), so warm it up and keep the tightest of several bracketing reads.
const ORIGIN_NS = (() => {
  performance.now();
  let best = Infinity;
  let origin = 0;
  for (let i = 0; i < 16; i++) {
    const a = process.hrtime.bigint();
    const p = performance.now();
    const b = process.hrtime.bigint();
    const width = Number(b - a);
    if (width < best) {
      best = width;
      origin = Number(a) + width / 2 - p * 1e6;
    }
  }
  return origin;
})();

/** CLOCK_MONOTONIC now, in nanoseconds, as a number (exact to well under a microsecond). */
export function monotonicNowNs(): number {
  return ORIGIN_NS + performance.now() * 1e6;
}

/** What {@link LatencyRecorder.summary} reports. Times in nanoseconds; null when nothing was recorded. */
export interface LatencySummary {
  samples: number;
  p50Ns: number | null;
  p99Ns: number | null;
  maxNs: number | null;
}

const DEFAULT_CAPACITY = 1 << 20;

/**
 * Records latencies and reports p50/p99/max. Keeps every sample up to `capacity`, then a uniform
 * reservoir sample (so memory stays bounded at any event rate); the maximum is always exact.
 */
export class LatencyRecorder {
  readonly #samples: Float64Array;
  #stored = 0;
  #seen = 0;
  #max = -Infinity;

  constructor(capacity = DEFAULT_CAPACITY) {
    if (!Number.isInteger(capacity) || capacity < 1)
      throw new RangeError(`LatencyRecorder capacity must be a positive integer, got ${capacity}`);
    this.#samples = new Float64Array(capacity);
  }

  /** Records one latency in nanoseconds. */
  record(ns: number): void {
    this.#seen++;
    if (ns > this.#max) this.#max = ns;
    if (this.#stored < this.#samples.length) {
      this.#samples[this.#stored++] = ns;
      return;
    }
    const j = Math.floor(Math.random() * this.#seen);
    if (j < this.#samples.length) this.#samples[j] = ns;
  }

  /** Records the latency of an event stamped with `ktimeNs` (bpf_ktime_get_ns), received now. */
  recordSince(ktimeNs: number, nowNs = monotonicNowNs()): void {
    this.record(nowNs - ktimeNs);
  }

  /** Number of latencies recorded. */
  get count(): number {
    return this.#seen;
  }

  /** p50, p99 (nearest rank) and max. */
  summary(): LatencySummary {
    if (this.#stored === 0) return { samples: 0, p50Ns: null, p99Ns: null, maxNs: null };
    const sorted = this.#samples.slice(0, this.#stored).sort();
    const rank = (p: number) => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))]!;
    return {
      samples: this.#seen,
      p50Ns: Math.round(rank(0.5)),
      p99Ns: Math.round(rank(0.99)),
      maxNs: Math.round(this.#max),
    };
  }
}
