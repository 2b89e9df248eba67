/**
 * The native boundary: a typed view of the N-API addon (native/tsbpf_native.c). Syscall wrappers
 * return the result or -errno; nothing here interprets results — callers do.
 */
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';

/** A uv_poll watcher handle; opaque. */
export type PollHandle = { readonly __pollHandle: unique symbol };

export interface NativeBinding {
  /**
   * bpf(cmd, attr, sizeof attr) → result or -errno. attr is an ArrayBuffer (cheapest to check: hot
   * paths pass one) or a Uint8Array/Buffer; its byte length is the size given to the kernel.
   */
  bpf(cmd: number, attr: ArrayBuffer | Uint8Array): number;
  /** The address of a buffer's first byte, for pointer fields of kernel structs. */
  addressOf(view: ArrayBufferView | ArrayBuffer): number;
  perfEventOpen(attr: ArrayBufferView, pid: number, cpu: number, groupFd: number, flags: number): number;
  ioctl(fd: number, request: number, arg: number | ArrayBufferView): number;
  close(fd: number): number;
  /** mmap → an external ArrayBuffer over the mapping, or -errno. */
  mmap(fd: number, length: number, prot: number, flags: number, offset: number): ArrayBuffer | number;
  /** Detach the ArrayBuffer, then munmap. Safe twice. */
  unmap(buffer: ArrayBuffer): number;
  /** Watch fd readiness (events: 1 readable, 2 writable, 4 disconnect, 8 prioritized). */
  pollStart(fd: number, events: number, cb: (status: number, events: number) => void): PollHandle | number;
  pollStop(h: PollHandle): number;
  pollResume(h: PollHandle, events: number): number;
  pollClose(h: PollHandle): number;
  /** timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC) → fd or -errno. */
  timerfdCreate(): number;
  /** One-shot timerfd_settime: expire `ns` from now (integer ns); 0 disarms and clears a pending expiry. → 0 or -errno. */
  timerfdSet(fd: number, ns: number): number;
  /** CLOCK_MONOTONIC in ns (a double). */
  monotonicNs(): number;
  /** Blocking clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME) to `ns` → 0 or -errno. */
  sleepUntil(ns: number): number;
  /** Blocking ppoll(POLLIN) on `fds` (1..64) → fds readable, 0 on timeout, or -errno; timeoutNs < 0: no timeout. */
  pollWait(fds: Int32Array, timeoutNs: number): number;
  /** sched_setaffinity for the calling thread: `mask` bit n = CPU n. → 0 or -errno. */
  schedSetaffinity(mask: Uint8Array): number;
  /** sched_getaffinity for the calling thread into `mask` → bytes written, or -errno. */
  schedGetaffinity(mask: Uint8Array): number;
  /** sched_getcpu(): the CPU the calling thread is on now, or -errno. */
  schedGetcpu(): number;
  /** setsockopt(fd, level, optname, optval) → 0 or -errno (socket filters: SO_ATTACH_BPF / SO_DETACH_BPF). */
  setsockopt(fd: number, level: number, optname: number, optval: ArrayBufferView): number;
  readonly pageSize: number;
}

const here = dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);

function load(): NativeBinding {
  // Same relative path from src/kernel (tsx) and dist/kernel (compiled).
  const path = join(here, '..', '..', 'build', 'Release', 'tsbpf_native.node');
  try {
    return require(path) as NativeBinding;
  } catch (e) {
    throw new Error(`tsbpf: the native addon is not built (${path}): run \`npm install\` (needs make and a C compiler). ${(e as Error).message}`);
  }
}

/** The loaded addon. */
export const native: NativeBinding = load();

/** mmap protection and flags (x86_64 Linux). */
export const PROT = { read: 1, write: 2 } as const;
export const MAP_SHARED = 1;
