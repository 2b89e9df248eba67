/**
 * kprobes, found by probing: the `kprobe` PMU (or tracefs kprobe_events) must exist. This kernel
 * family is often built without CONFIG_KPROBES; then a request fails with a clear NotSupportedError
 * that points at fentry/fexit instead of a raw errno.
 */
import { existsSync } from 'node:fs';
import { ensureTracefs } from './fs-mounts.js';
import { NotSupportedError } from '../pure/errors.js';
import { Link, requireProgramType } from './link.js';
import { attachToPerfEvent, perfEventOpen } from './perf-event.js';
import type { Program } from './program.js';
import { dynamicPmu } from './attach-uprobe.js';
import { argError, cString } from './syscall.js';
import { native } from './native.js';

/** What the kernel offers for kprobes. */
export interface KprobeSupport {
  /** The kprobe PMU exists (perf_event_open based kprobes). */
  pmu: boolean;
  /** tracefs has kprobe_events (legacy text interface). */
  tracefs: boolean;
  /** Either of the two. */
  supported: boolean;
}

let cached: KprobeSupport | undefined;

/** Probes kprobe support once: the kprobe PMU and tracefs kprobe_events. */
export function kprobeSupport(): KprobeSupport {
  if (cached) return cached;
  const pmu = existsSync('/sys/bus/event_source/devices/kprobe/type');
  let tracefs = false;
  try {
    tracefs = existsSync(`${ensureTracefs()}/kprobe_events`);
  } catch {
    /* no tracefs: no legacy kprobes either */
  }
  cached = { pmu, tracefs, supported: pmu || tracefs };
  return cached;
}

/** Options for attachKprobe. */
export interface KprobeOptions {
  /** Offset into the function. */
  offset?: number;
  /** kretprobe instead of kprobe. */
  retprobe?: boolean;
  cookie?: bigint;
}

/**
 * Attaches a `kprobe` program to kernel function `fn`. On kernels without kprobes it throws
 * NotSupportedError (feature `kprobes`) saying so, and suggesting fentry/fexit.
 */
export function attachKprobe(program: Program, fn: string, opts: KprobeOptions = {}): Link {
  const kind = opts.retprobe ? 'kretprobe' : 'kprobe';
  requireProgramType(program, ['kprobe'], kind);
  if (typeof fn !== 'string' || !/^[A-Za-z_][A-Za-z0-9_.]*$/.test(fn))
    throw argError(`${kind} function must be a kernel symbol name, got ${JSON.stringify(fn)}`);
  const what = `${kind} ${fn}`;
  const support = kprobeSupport();
  const pmu = dynamicPmu('kprobe');
  if (!support.supported || !pmu) {
    throw new NotSupportedError(
      'kprobes',
      `cannot attach ${what}: this kernel lacks kprobes (CONFIG_KPROBES is off: no kprobe PMU in /sys/bus/event_source/devices and no kprobe_events in tracefs); ` +
        `use fentry/fexit instead: Program.loadTracing({ kind: '${opts.retprobe ? 'fexit' : 'fentry'}', target: '${fn}', ... }).attachTracing()`,
    );
  }
  const name = cString(fn);
  const config = opts.retprobe ? 1n << BigInt(pmu.bit('retprobe')) : 0n;
  const perf = perfEventOpen(
    { type: pmu.type, config, sample: 1, wakeupEvents: 1, config1: native.addressOf(name), config2: opts.offset ?? 0 },
    -1,
    0,
    what,
    undefined,
    name,
  );
  return Link.create([attachToPerfEvent(program, perf, what, opts.cookie)], what);
}
