/**
 * CPU placement of the calling thread for tests whose outcome depends on which per-CPU buffer an
 * event lands in (perf buffers, per-CPU maps): pin, run, restore. Uses the addon's thin
 * sched_setaffinity/sched_getcpu wrappers; the decisions are here.
 */
import { native } from '../../src/kernel/native.js';

/** Bytes of a cpu_set_t (1024 CPUs), the glibc default. */
const MASK_BYTES = 128;

function mask(cpus: readonly number[]): Uint8Array {
  const m = new Uint8Array(MASK_BYTES);
  for (const c of cpus) m[c >> 3]! |= 1 << (c & 7);
  return m;
}

/** The CPUs the calling thread may run on now (its affinity mask). */
export function allowedCpus(): number[] {
  const m = new Uint8Array(MASK_BYTES);
  const r = native.schedGetaffinity(m);
  if (r < 0) throw new Error(`sched_getaffinity failed: ${r}`);
  const out: number[] = [];
  for (let c = 0; c < r * 8; c++) if (m[c >> 3]! & (1 << (c & 7))) out.push(c);
  return out;
}

/** Runs `fn` with the calling thread pinned to `cpu`, then restores the previous mask. */
export function onCpu<T>(cpu: number, fn: () => T): T {
  const before = allowedCpus();
  const r = native.schedSetaffinity(mask([cpu]));
  if (r < 0) throw new Error(`sched_setaffinity(${cpu}) failed: ${r}`);
  try {
    // sched_setaffinity migrates the caller before it returns.
    const now = native.schedGetcpu();
    if (now !== cpu) throw new Error(`pinned to CPU ${cpu} but running on ${now}`);
    return fn();
  } finally {
    native.schedSetaffinity(mask(before));
  }
}
