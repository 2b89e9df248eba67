/**
 * Counting perf events: `PerfCounter` opens one hardware or software counter on the calling thread
 * (cycles, instructions, task-clock, …), starts and stops it around a piece of work, and reads its value.
 * This is what `perf stat` does for one event, and what a benchmark needs to report cycles or
 * instructions per packet around a BPF test-run (the kernel work runs on the calling thread, so a
 * per-thread counter that includes kernel mode sees it).
 *
 * Virtual machines usually have no PMU: opening a hardware counter there throws `NotSupportedError`
 * (feature `hardware performance counters`), and software counters still work.
 */
import { readSync } from 'node:fs';
import { NotSupportedError } from '../pure/errors.js';
import { BpfError, ClosedError } from './errors.js';
import { HARDWARE_EVENT, SOFTWARE_EVENT, type HardwareEventName, type SoftwareEventName } from './attach-perf-event.js';
import { PERF_IOC } from './link.js';
import { native } from './native.js';
import { PERF_ATTR_FLAG, PERF_TYPE, perfEventOpen } from './perf-event.js';
import type { OwnedFd } from './syscall.js';

/** `PERF_EVENT_IOC_RESET` (`_IO('$', 3)`). */
const PERF_IOC_RESET = 0x2403;
const ENOENT = 2,
  ENODEV = 19,
  EOPNOTSUPP = 95;

/** Which counter: a hardware event (needs a PMU) or a software one (always there). */
export type PerfCounterEvent =
  | { type: 'hardware'; event: HardwareEventName }
  | { type: 'software'; event: SoftwareEventName };

/** Options of {@link PerfCounter.open}. */
export interface PerfCounterOptions {
  /** Count kernel-mode work too (default true: test-runs and syscalls execute in the kernel). */
  kernel?: boolean;
  /** Count user-mode work (default true). */
  user?: boolean;
}

/**
 * One counting perf event on the calling thread, any CPU. Created disabled: `start()` resets and
 * enables it, `stop()` disables it, `value` reads the count. `close()` or `using` releases it.
 */
export class PerfCounter {
  /** What is counted, e.g. `hardware cpu-cycles`. */
  readonly name: string;
  readonly #fd: OwnedFd;
  readonly #buf = new Uint8Array(8);
  readonly #view = new DataView(this.#buf.buffer);

  private constructor(name: string, fd: OwnedFd) {
    this.name = name;
    this.#fd = fd;
  }

  /**
   * Opens a counter for the calling thread. Throws `NotSupportedError` when the machine has no such
   * event (no PMU, as in most VMs, for hardware events), `BpfError` for other refusals (e.g. EACCES
   * without CAP_PERFMON and a strict `kernel.perf_event_paranoid`).
   */
  static open(what: PerfCounterEvent, opts: PerfCounterOptions = {}): PerfCounter {
    if (what === null || typeof what !== 'object') throw new TypeError('tsbpf: PerfCounter.open needs { type, event }');
    const table: Record<string, number> =
      what.type === 'hardware' ? HARDWARE_EVENT : what.type === 'software' ? SOFTWARE_EVENT : {};
    if (what.type !== 'hardware' && what.type !== 'software')
      throw new TypeError(
        `tsbpf: perf counter type must be 'hardware' or 'software', got ${String((what as { type: unknown }).type)}`,
      );
    const config = table[what.event];
    if (config === undefined)
      throw new RangeError(
        `tsbpf: unknown ${what.type} event "${String(what.event)}" (known: ${Object.keys(table).join(', ')})`,
      );
    const name = `${what.type} ${what.event}`;
    let flags = PERF_ATTR_FLAG.disabled | PERF_ATTR_FLAG.exclude_hv;
    if (opts.kernel === false) flags |= PERF_ATTR_FLAG.exclude_kernel;
    if (opts.user === false) flags |= PERF_ATTR_FLAG.exclude_user;
    try {
      const fd = perfEventOpen(
        { type: what.type === 'hardware' ? PERF_TYPE.hardware : PERF_TYPE.software, config, flags },
        0,
        -1,
        `perf counter ${name}`,
      );
      return new PerfCounter(name, fd);
    } catch (e) {
      if (e instanceof BpfError && (e.errno === ENOENT || e.errno === ENODEV || e.errno === EOPNOTSUPP)) {
        throw new NotSupportedError(
          what.type === 'hardware' ? 'hardware performance counters' : `software perf event ${what.event}`,
          `perf_event_open refused ${name} with ${e.code}: ${what.type === 'hardware' ? 'this machine exposes no PMU (usual in virtual machines); use a software counter such as task-clock' : 'this kernel lacks the event'}`,
          { cause: e },
        );
      }
      throw e;
    }
  }

  /** Resets the count to zero and starts counting. */
  start(): void {
    this.#ioctl(PERF_IOC_RESET, 'PERF_EVENT_IOC_RESET');
    this.#ioctl(PERF_IOC.enable, 'PERF_EVENT_IOC_ENABLE');
  }

  /** Stops counting; `value` keeps the count. */
  stop(): void {
    this.#ioctl(PERF_IOC.disable, 'PERF_EVENT_IOC_DISABLE');
  }

  /** The count so far (events, or nanoseconds for the clock events), exact below 2^53. */
  get value(): number {
    if (this.#fd.closed) throw new ClosedError(`perf counter ${this.name}`);
    const n = readSync(this.#fd.fd, this.#buf, 0, 8, null);
    if (n !== 8)
      throw new BpfError(5, { syscall: 'read', object: `perf counter ${this.name}`, hint: `short read of ${n} bytes` });
    return Number(this.#view.getBigUint64(0, true));
  }

  /** Runs `work` between start() and stop() and returns the count. */
  measure(work: () => void): number {
    this.start();
    try {
      work();
    } finally {
      this.stop();
    }
    return this.value;
  }

  /** Closes the counter. Safe twice. */
  close(): void {
    this.#fd.close();
  }

  [Symbol.dispose](): void {
    this.close();
  }

  #ioctl(request: number, name: string): void {
    if (this.#fd.closed) throw new ClosedError(`perf counter ${this.name}`);
    const r = native.ioctl(this.#fd.fd, request, 0);
    if (r < 0) throw new BpfError(-r, { syscall: 'ioctl', command: name, object: `perf counter ${this.name}` });
  }
}
