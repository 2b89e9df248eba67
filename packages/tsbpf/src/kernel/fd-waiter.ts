/**
 * Waiting for event-buffer fds in Node's own event loop: uv_poll readiness on every fd (no thread
 * per fd, no busy polling), a flush deadline for producers that never wake us (BPF_RB_NO_WAKEUP,
 * perf watermarks), and a latency budget that trades wake-ups for batching at high rates.
 * Shared by RingBuffer and PerfBuffer.
 */
import { ClosedError } from './errors.js';
import { native, type PollHandle } from './native.js';

const READABLE = 1;
const EINTR = 4;
/** epollCtl operations and epollWaitTimer's result bits (native.ts). */
const EPOLL_ADD = 1;
const EPOLL_DEL = 2;
const WOKE_FD = 1;

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
  if (typeof maxLatencyMs !== 'number' || !(maxLatencyMs >= 0) || maxLatencyMs > 60_000)
    throw new RangeError(`tsbpf: ${who}: maxLatencyMs must be 0..60000, got ${String(maxLatencyMs)}`);
  const flushMs = o.flushMs ?? (maxLatencyMs > 0 ? maxLatencyMs : 100);
  if (typeof flushMs !== 'number' || !(flushMs >= 0) || flushMs > 3_600_000)
    throw new RangeError(`tsbpf: ${who}: flushMs must be 0..3600000, got ${String(flushMs)}`);
  return { maxLatencyMs, flushMs };
}

/**
 * One reader's waiter over a set of fds. `hasData` looks at the buffers without consuming; the
 * reader calls `drained(n)` after each drain so the latency budget knows when the last one was.
 *
 * The budget and flush deadlines run on a timerfd (CLOCK_MONOTONIC, ns resolution) watched by the
 * same uv_poll machinery as the buffers: Node's own timers have 1 ms granularity, which would turn
 * a 0.25 ms budget into 1 ms. One timerfd per reader, created on first use, armed one-shot; when
 * timerfd_create is refused the deadlines fall back to setTimeout.
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
  #timeoutTimer: NodeJS.Timeout | undefined;
  /** The deadline timer: a timerfd (fd >= 0) or, when that is unavailable, a Node timer. */
  #timerFd = -1;
  #timerHandle: PollHandle | undefined;
  #timerFallback: NodeJS.Timeout | undefined;
  #timerUnavailable = false;
  #timerWatched = false;
  /** What the armed deadline means: 0 none, 1 end of the latency budget, 2 flush deadline. */
  #deadline = 0;
  /** Event-driven mode (run()): the synchronous drain, and whether the budget timer is driving it. */
  #running: (() => number) | undefined;
  #busy = false;
  readonly #onReady = (status: number): void => {
    if (!this.#armed) return;
    this.stats.wakeups++;
    if (this.#running !== undefined) {
      this.#runWake(false);
      return;
    }
    // status < 0 (e.g. the fd went bad) also ends the wait: the caller's drain reports the error.
    void status;
    this.#settle('ready');
  };
  readonly #onDeadline = (): void => {
    if (this.#running !== undefined) {
      this.#runWake(true);
      return;
    }
    const kind = this.#deadline;
    this.#deadline = 0;
    // A fired timerfd stays readable until re-armed or disarmed; an idle watch would keep Node's
    // event loop alive, so it is stopped until the next deadline.
    if (this.#timerFd >= 0) {
      native.timerfdSet(this.#timerFd, 0);
      this.#stopTimerWatch();
    }
    if (this.#closed || kind === 0) return;
    if (kind === 1) {
      if (this.#hasData()) {
        this.stats.budgetDrains++;
        this.#settle('ready');
      } else this.#watch();
    } else if (this.#hasData()) {
      this.stats.flushes++;
      this.#settle('ready');
    } else if (this.#armed) {
      this.#arm(2, this.#flushMs);
    }
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
    if (this.#armed) this.#armFd(this.#fds.length - 1);
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
    if (this.#running !== undefined)
      return Promise.reject(new Error(`tsbpf: ${this.#what} is started (event-driven); stop() it before waiting`));
    return new Promise<WaitResult>((resolve) => {
      this.#pending.push(resolve);
      if (this.#pending.length > 1) return; // joins the wait in progress
      if (timeoutMs >= 0) this.#timeoutTimer = setTimeout(() => this.#settle('timeout'), timeoutMs);
      if (this.#maxLatencyMs > 0) {
        const left = this.#maxLatencyMs - (performance.now() - this.#lastDrainAt);
        if (left > 0) {
          // Inside the budget: do not watch the fds; look again when it ends.
          this.#arm(1, left);
          return;
        }
      }
      if (this.#hasData()) {
        this.#settle('ready');
        return;
      }
      this.#watch();
    });
  }

  /** Whether run() is driving the reader. */
  get running(): boolean {
    return this.#running !== undefined;
  }

  /**
   * Event-driven mode, what an epoll loop gives libbpf users: `drain` runs synchronously inside
   * the readiness callbacks (no promise, no Node timer per wake) and returns the records it
   * delivered. Idle: the fds are watched (plus the flush deadline). After a drain that delivered
   * with a latency budget: the fds are not watched and the timerfd re-fires every budget, one
   * drain each (one timerfd_settime per wake, no epoll_ctl); the first drain that finds nothing
   * goes back to watching the fds. A drain that throws stops the mode and the error propagates
   * (an uncaught exception from the event loop).
   */
  run(drain: () => number): void {
    if (this.#closed) throw new ClosedError(this.#what);
    if (typeof drain !== 'function') throw new TypeError('tsbpf: run expects a function');
    if (this.#running !== undefined) throw new Error(`tsbpf: ${this.#what} is already started`);
    if (this.#pending.length > 0) throw new Error(`tsbpf: ${this.#what} has a wait in progress; cannot start`);
    this.#running = drain;
    // Data already there makes the fds readable at once (level-triggered), so nothing is missed.
    this.#runIdle();
  }

  /**
   * Blocking mode, for a thread whose only job is reading (a worker_threads Worker, a dedicated
   * process): waits in the kernel instead of Node's event loop, with libbpf's C strategy and its
   * syscalls — one epoll set holding the fds and a timerfd. Idle: the fds are watched and the timerfd
   * ticks every flushMs. After a drain that delivered (with a latency budget): the fds leave the set
   * and the timerfd ticks every maxLatencyMs, one drain per tick, until a tick's drain finds nothing.
   * A wake-up is one native call (epoll_wait, plus a read of the timerfd when it fired) and no
   * event-loop iteration (libuv's loop adds a second epoll call per iteration for its idle-time
   * metrics, plus a timerfd re-arm). `step` drains and returns the records delivered, or -1 to end
   * the loop; the loop also ends when the waiter closes. Blocks the calling thread throughout.
   */
  runBlocking(step: () => number): void {
    if (this.#closed) throw new ClosedError(this.#what);
    if (typeof step !== 'function') throw new TypeError('tsbpf: runBlocking expects a function');
    if (this.#running !== undefined || this.#pending.length > 0)
      throw new Error(`tsbpf: ${this.#what} is started or has a wait in progress; cannot block`);
    const fds = this.#fds.slice();
    const budgetNs = Math.round(this.#maxLatencyMs * 1e6);
    const flushNs = Math.round(this.#flushMs * 1e6);
    const fail = (what: string, r: number): Error => new Error(`tsbpf: ${this.#what}: ${what} failed (errno ${-r})`);
    const ep = native.epollCreate();
    if (ep < 0) throw fail('epoll_create1', ep);
    const tfd = native.timerfdCreate();
    try {
      if (tfd < 0) throw fail('timerfd_create', tfd);
      let r = native.epollCtl(ep, EPOLL_ADD, tfd);
      if (r < 0) throw fail('epoll_ctl', r);
      /** Idle (fds in the set, flush ticks) or busy (budget ticks only). */
      let busy = false;
      const setIdle = (idle: boolean): void => {
        for (const fd of fds) {
          const e = native.epollCtl(ep, idle ? EPOLL_ADD : EPOLL_DEL, fd);
          if (e < 0) throw fail('epoll_ctl', e);
        }
        // Re-arming restarts the period, and clears an expiry not yet read.
        const t = native.timerfdSetInterval(tfd, idle ? flushNs : budgetNs);
        if (t < 0) throw fail('timerfd_settime', t);
        busy = !idle;
      };
      setIdle(true);
      for (;;) {
        r = native.epollWaitTimer(ep, tfd);
        if (r === -EINTR) continue;
        if (r < 0) throw fail('epoll_wait', r);
        if ((r & WOKE_FD) !== 0) this.stats.wakeups++;
        if (this.#closed) return;
        const n = step();
        if (n < 0 || this.#closed) return;
        if ((r & WOKE_FD) === 0 && n > 0) {
          if (busy) this.stats.budgetDrains++;
          else this.stats.flushes++;
        }
        // Bytes left after a drain are a record the producer has reserved but not yet submitted
        // (level-triggered readiness would spin on it): keep the cadence, as after a drain.
        const stayBusy: boolean = budgetNs > 0 && (n > 0 || (busy && this.#hasData()));
        if (stayBusy !== busy) setIdle(!stayBusy);
      }
    } finally {
      if (tfd >= 0) native.close(tfd);
      native.close(ep);
    }
  }

  /** Leaves event-driven mode: stops watching and disarms the deadline. Safe when not running. */
  halt(): void {
    if (this.#running === undefined) return;
    this.#running = undefined;
    this.#busy = false;
    this.#disarm();
    this.#disarmDeadline();
  }

  #runIdle(): void {
    this.#busy = false;
    this.#armed = true;
    for (let i = 0; i < this.#fds.length; i++) this.#armFd(i);
    if (this.#flushMs > 0) this.#arm(2, this.#flushMs);
    else this.#disarmDeadline();
  }

  #runWake(byTimer: boolean): void {
    let n: number;
    try {
      n = this.#running!();
    } catch (e) {
      this.halt();
      throw e;
    }
    if (byTimer && n > 0) {
      if (this.#busy) this.stats.budgetDrains++;
      else this.stats.flushes++;
    }
    if (this.#closed || this.#running === undefined) return;
    if (byTimer && this.#busy) {
      // Bytes left after a drain are a record reserved but not yet submitted: watching the fds
      // now would wake at once (readiness is level-triggered), so stay on the budget cadence.
      if (n > 0 || this.#hasData()) this.#arm(1, this.#maxLatencyMs);
      else this.#runIdle();
      return;
    }
    if (n > 0 && this.#maxLatencyMs > 0) {
      // Busy: stop watching the fds, drain again when the budget ends.
      if (!this.#busy) {
        this.#disarm();
        this.#busy = true;
      }
      this.#arm(1, this.#maxLatencyMs);
    } else if (byTimer) {
      // An idle flush tick: look again after flushMs (re-arming also clears the fired expiry).
      if (this.#flushMs > 0) this.#arm(2, this.#flushMs);
      else this.#disarmDeadline();
    }
  }

  #watch(): void {
    this.#armed = true;
    for (let i = 0; i < this.#fds.length; i++) this.#armFd(i);
    if (this.#flushMs > 0) this.#arm(2, this.#flushMs);
  }

  /** Arms the one-shot deadline `ms` from now (kind 1 budget, 2 flush). */
  #arm(kind: 1 | 2, ms: number): void {
    this.#deadline = kind;
    if (!this.#timerUnavailable && this.#timerFd < 0) this.#openTimer();
    if (this.#timerFd >= 0) {
      // At least 1 µs: 0 would disarm.
      const r = native.timerfdSet(this.#timerFd, Math.max(1000, Math.round(ms * 1e6)));
      if (r === 0) {
        if (!this.#timerWatched) {
          native.pollResume(this.#timerHandle!, READABLE);
          this.#timerWatched = true;
        }
        return;
      }
      this.#closeTimer();
      this.#timerUnavailable = true;
    }
    if (this.#timerFallback) clearTimeout(this.#timerFallback);
    this.#timerFallback = setTimeout(() => {
      this.#timerFallback = undefined;
      this.#onDeadline();
    }, ms);
  }

  #openTimer(): void {
    const fd = native.timerfdCreate();
    if (fd < 0) {
      this.#timerUnavailable = true;
      return;
    }
    const h = native.pollStart(fd, READABLE, this.#onDeadline);
    if (typeof h === 'number') {
      native.close(fd);
      this.#timerUnavailable = true;
      return;
    }
    this.#timerFd = fd;
    this.#timerHandle = h;
    this.#timerWatched = true;
  }

  #stopTimerWatch(): void {
    if (this.#timerWatched && this.#timerHandle !== undefined) native.pollStop(this.#timerHandle);
    this.#timerWatched = false;
  }

  #closeTimer(): void {
    if (this.#timerHandle !== undefined) native.pollClose(this.#timerHandle);
    if (this.#timerFd >= 0) native.close(this.#timerFd);
    this.#timerHandle = undefined;
    this.#timerFd = -1;
    this.#timerWatched = false;
  }

  #disarmDeadline(): void {
    if (this.#deadline === 0) return;
    this.#deadline = 0;
    if (this.#timerFd >= 0) {
      native.timerfdSet(this.#timerFd, 0);
      this.#stopTimerWatch();
    }
    if (this.#timerFallback) {
      clearTimeout(this.#timerFallback);
      this.#timerFallback = undefined;
    }
  }

  #armFd(i: number): void {
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
    this.#disarmDeadline();
    if (this.#timeoutTimer) {
      clearTimeout(this.#timeoutTimer);
      this.#timeoutTimer = undefined;
    }
    const p = this.#pending;
    this.#pending = [];
    for (const resolve of p) resolve(r);
  }

  /** Ends any wait ('closed') and releases the uv handles and the timerfd. The buffer fds stay the caller's to close. */
  close(): void {
    if (this.#closed) return;
    this.halt();
    this.#settle('closed');
    this.#closed = true;
    for (const h of this.#handles) if (h !== undefined) native.pollClose(h);
    this.#handles.length = 0;
    this.#closeTimer();
  }
}
