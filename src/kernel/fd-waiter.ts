/**
 * Waiting for event-buffer fds in Node's own event loop: uv_poll readiness on every fd (no thread
 * per fd, no busy polling), a flush deadline for producers that never wake us (BPF_RB_NO_WAKEUP,
 * perf watermarks), and a latency budget that trades wake-ups for batching at high rates.
 * Shared by RingBuffer and PerfBuffer.
 */
import { ClosedError } from './errors.js';
import { native, PollHandle } from './native.js';

const READABLE = 1;

/** How a wait ended. */
export type WaitResult = 'ready' | 'timeout' | 'closed';

/** Options of the waiting machinery, in milliseconds. */
export interface WaitOptions {
  /**
   * Latency budget: after a drain that delivered records, stop watching the fds for up to this
   * long and then drain again. At low rates the next event still wakes the reader at once; at
   * high rates the reader wakes about once per budget instead of once per event. 0 (default) =
   * wake on every readiness.
   */
  maxLatencyMs?: number;
  /**
   * Deadline while waiting: look for data at least this often even without a wake-up, so records
   * submitted with BPF_RB_NO_WAKEUP (or below a perf watermark) never strand a reader. Default:
   * maxLatencyMs when set, else 100. 0 disables it.
   */
  flushMs?: number;
}

/** Counters for tests and benchmarks. */
export interface WaitStats {
  /** Wake-ups by fd readiness. */
  wakeups: number;
  /** Wake-ups by the flush deadline that found data. */
  flushes: number;
  /** Drains that ran after the latency budget elapsed. */
  budgetDrains: number;
}

export function checkWaitOptions(o: WaitOptions, who: string): { maxLatencyMs: number; flushMs: number } {
  const maxLatencyMs = o.maxLatencyMs ?? 0;
  if (typeof maxLatencyMs !== 'number' || !(maxLatencyMs >= 0) || maxLatencyMs > 60_000) throw new RangeError(`${who}: maxLatencyMs must be 0..60000, got ${String(maxLatencyMs)}`);
  const flushMs = o.flushMs ?? (maxLatencyMs > 0 ? maxLatencyMs : 100);
  if (typeof flushMs !== 'number' || !(flushMs >= 0) || flushMs > 3_600_000) throw new RangeError(`${who}: flushMs must be 0..3600000, got ${String(flushMs)}`);
  return { maxLatencyMs, flushMs };
}

/**
 * One reader's waiter over a set of fds. `hasData` looks at the buffers without consuming; the
 * reader calls `drained(n)` after each drain so the latency budget knows when the last one was.
 */
export class FdWaiter {
  readonly stats: WaitStats = { wakeups: 0, flushes: 0, budgetDrains: 0 };
  readonly #fds: number[] = [];
  readonly #handles: (PollHandle | undefined)[] = [];
  readonly #hasData: () => boolean;
  readonly #maxLatencyMs: number;
  readonly #flushMs: number;
  readonly #what: string;
  #armed = false;
  #closed = false;
  #lastDrainAt = -Infinity;
  #pending: ((r: WaitResult) => void)[] = [];
  #flushTimer: NodeJS.Timeout | undefined;
  #timeoutTimer: NodeJS.Timeout | undefined;
  #budgetTimer: NodeJS.Timeout | undefined;
  readonly #onReady = (status: number): void => {
    if (!this.#armed) return;
    this.stats.wakeups++;
    // status < 0 (e.g. the fd went bad) also ends the wait: the caller's drain reports the error.
    void status;
    this.#settle('ready');
  };

  constructor(what: string, hasData: () => boolean, opts: { maxLatencyMs: number; flushMs: number }) {
    this.#what = what;
    this.#hasData = hasData;
    this.#maxLatencyMs = opts.maxLatencyMs;
    this.#flushMs = opts.flushMs;
  }

  /** Adds an fd to watch (the reader owns it and closes it after close()). */
  add(fd: number): void {
    if (this.#closed) throw new ClosedError(this.#what);
    this.#fds.push(fd);
    this.#handles.push(undefined);
    if (this.#armed) this.#arm(this.#fds.length - 1);
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Notes a drain of `n` records (starts the latency budget when n > 0). */
  drained(n: number): void {
    if (n > 0) this.#lastDrainAt = performance.now();
  }

  /**
   * Resolves 'ready' when there is data to drain (immediately when there already is and the
   * latency budget allows), 'timeout' after timeoutMs (< 0: never), 'closed' when the reader closes.
   */
  wait(timeoutMs: number): Promise<WaitResult> {
    if (this.#closed) return Promise.reject(new ClosedError(this.#what));
    return new Promise<WaitResult>((resolve) => {
      this.#pending.push(resolve);
      if (this.#pending.length > 1) return; // joins the wait in progress
      if (timeoutMs >= 0) this.#timeoutTimer = setTimeout(() => this.#settle('timeout'), timeoutMs);
      const sinceDrain = performance.now() - this.#lastDrainAt;
      if (this.#maxLatencyMs > 0 && sinceDrain < this.#maxLatencyMs) {
        // Inside the budget: do not watch the fds; look again when it ends.
        this.#budgetTimer = setTimeout(() => {
          this.#budgetTimer = undefined;
          if (this.#hasData()) { this.stats.budgetDrains++; this.#settle('ready'); } else this.#watch();
        }, Math.max(1, this.#maxLatencyMs - sinceDrain));
        return;
      }
      if (this.#hasData()) { this.#settle('ready'); return; }
      this.#watch();
    });
  }

  #watch(): void {
    this.#armed = true;
    for (let i = 0; i < this.#fds.length; i++) this.#arm(i);
    if (this.#flushMs > 0) this.#scheduleFlush();
  }

  #scheduleFlush(): void {
    this.#flushTimer = setTimeout(() => {
      this.#flushTimer = undefined;
      if (this.#hasData()) { this.stats.flushes++; this.#settle('ready'); } else if (this.#armed) this.#scheduleFlush();
    }, this.#flushMs);
  }

  #arm(i: number): void {
    const h = this.#handles[i];
    if (h === undefined) {
      const r = native.pollStart(this.#fds[i]!, READABLE, this.#onReady);
      if (typeof r === 'number') throw new Error(`tsbpf: cannot watch ${this.#what} fd ${this.#fds[i]}: uv error ${r}`);
      this.#handles[i] = r;
    } else {
      native.pollResume(h, READABLE);
    }
  }

  #disarm(): void {
    if (!this.#armed) return;
    this.#armed = false;
    for (const h of this.#handles) if (h !== undefined) native.pollStop(h);
  }

  #settle(r: WaitResult): void {
    this.#disarm();
    if (this.#flushTimer) { clearTimeout(this.#flushTimer); this.#flushTimer = undefined; }
    if (this.#timeoutTimer) { clearTimeout(this.#timeoutTimer); this.#timeoutTimer = undefined; }
    if (this.#budgetTimer) { clearTimeout(this.#budgetTimer); this.#budgetTimer = undefined; }
    const p = this.#pending;
    this.#pending = [];
    for (const resolve of p) resolve(r);
  }

  /** Ends any wait ('closed') and releases the uv handles. The fds stay the caller's to close. */
  close(): void {
    if (this.#closed) return;
    this.#settle('closed');
    this.#closed = true;
    for (const h of this.#handles) if (h !== undefined) native.pollClose(h);
    this.#handles.length = 0;
  }
}
