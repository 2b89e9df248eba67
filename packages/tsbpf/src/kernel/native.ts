/**
 * The native boundary: a typed view of the N-API addon (native/tsbpf_native.c). Syscall wrappers
 * return the result or -errno; nothing here interprets results — callers do.
 */
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { dirname, join, resolve } from 'node:path';
import { NotSupportedError } from '../pure/errors.js';

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
  /**
   * Releases the kernel mapping now: zero pages replace it in place and the ArrayBuffer stays
   * attached (detaching would invalidate V8's process-wide detaching protector and slow every
   * typed array access); the range itself is unmapped when the ArrayBuffer is collected. Returns 0
   * (attached, reads zeros), 1 (detached: the fallback when the replacement mmap failed, or an
   * addon built before this change), or -errno. Safe twice.
   */
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
  /** epoll_create1(EPOLL_CLOEXEC) → fd or -errno. */
  epollCreate(): number;
  /** epoll_ctl: op 1 adds `fd` (EPOLLIN, level-triggered), 2 removes it → 0 or -errno. */
  epollCtl(epfd: number, op: 1 | 2, fd: number): number;
  /** Periodic timerfd_settime: expire every `ns` (integer ns, first in `ns`); 0 disarms → 0 or -errno. */
  timerfdSetInterval(fd: number, ns: number): number;
  /**
   * Blocking epoll_wait (no timeout) → bit 1: an fd other than `timerFd` is readable; bit 2: `timerFd`
   * expired (its count is read, clearing it); or -errno.
   */
  epollWaitTimer(epfd: number, timerFd: number): number;
  /** sched_setaffinity for the calling thread: `mask` bit n = CPU n. → 0 or -errno. */
  schedSetaffinity(mask: Uint8Array): number;
  /** sched_getaffinity for the calling thread into `mask` → bytes written, or -errno. */
  schedGetaffinity(mask: Uint8Array): number;
  /** sched_getcpu(): the CPU the calling thread is on now, or -errno. */
  schedGetcpu(): number;
  /** setsockopt(fd, level, optname, optval) → 0 or -errno (socket filters: SO_ATTACH_BPF / SO_DETACH_BPF). */
  setsockopt(fd: number, level: number, optname: number, optval: ArrayBufferView): number;
  /** pidfd_open(pid, 0) → a pidfd, or -errno. */
  pidfdOpen(pid: number): number;
  readonly pageSize: number;
}

/** The package root: the same relative path from src/kernel (tsx) and dist/kernel (compiled). */
const packageRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const require = createRequire(import.meta.url);

/** Environment variable naming an addon file to load instead of searching (tests, custom builds). */
export const NATIVE_PATH_ENV = 'TSBPF_NATIVE_PATH';

/** Every function of the binding: each gets a loading stub until the first call. */
const FUNCTIONS = [
  'bpf',
  'addressOf',
  'perfEventOpen',
  'ioctl',
  'close',
  'mmap',
  'unmap',
  'pollStart',
  'pollStop',
  'pollResume',
  'pollClose',
  'timerfdCreate',
  'timerfdSet',
  'monotonicNs',
  'sleepUntil',
  'pollWait',
  'epollCreate',
  'epollCtl',
  'timerfdSetInterval',
  'epollWaitTimer',
  'schedSetaffinity',
  'schedGetaffinity',
  'schedGetcpu',
  'setsockopt',
  'pidfdOpen',
] as const satisfies readonly Exclude<keyof NativeBinding, 'pageSize'>[];
/** Compile-time check that FUNCTIONS lists every function of NativeBinding (a missing one is named here). */
type Unlisted = Exclude<Exclude<keyof NativeBinding, 'pageSize'>, (typeof FUNCTIONS)[number]>;
const everyFunctionListed: [Unlisted] extends [never] ? true : Unlisted = true;
void everyFunctionListed;

let loaded: NativeBinding | undefined;

/**
 * Where the addon is looked for: `TSBPF_NATIVE_PATH` alone when set, else (through node-gyp-build)
 * build/Release and build/Debug (a source build) then prebuilds/<platform>-<arch> (the shipped binaries).
 */
function candidates(): string[] {
  const override = process.env[NATIVE_PATH_ENV];
  if (override) return [override];
  return ['build/Release', 'build/Debug', `prebuilds/${process.platform}-${process.arch}`].map((d) =>
    join(packageRoot, d),
  );
}

/**
 * Loads the addon (once; later calls return the cached binding). Throws `NotSupportedError` naming the
 * platform, the places searched and what to do when no addon loads here.
 */
export function loadNative(): NativeBinding {
  if (loaded) return loaded;
  let binding: NativeBinding;
  try {
    const override = process.env[NATIVE_PATH_ENV];
    const nodeGypBuild = require('node-gyp-build') as { resolve(dir: string): string };
    binding = require(override ? resolve(override) : nodeGypBuild.resolve(packageRoot)) as NativeBinding;
  } catch (e) {
    const where = `${process.platform}-${process.arch}`;
    const todo =
      process.platform === 'linux'
        ? 'prebuilt addons ship for linux-x64 and linux-arm64 (glibc): if this is one, reinstall tsbpf; elsewhere build it from source with a C compiler, make and python3: `npm rebuild tsbpf`'
        : 'the kernel layer needs Linux (x64 or arm64)';
    throw new NotSupportedError(
      `the kernel layer on ${where}`,
      `no native addon loaded (looked in ${candidates().join(', ')}): ${todo}. ` +
        'The pure modules (tsbpf/asm, tsbpf/elf, tsbpf/btf, tsbpf/layout, ...) work without it. ' +
        `Cause: ${(e as Error).message.split('\n')[0]}`,
      { cause: e },
    );
  }
  loaded = binding;
  // Replace the stubs with the real functions: after the first call every `native.x(...)` is a direct call.
  for (const name of FUNCTIONS) (native as unknown as Record<string, unknown>)[name] = binding[name];
  return binding;
}

/** Whether the addon has been loaded in this process (nothing loads it until the first kernel call). */
export function nativeLoaded(): boolean {
  return loaded !== undefined;
}

/** A stub that loads the addon, then calls the real function (already swapped into `native`). */
function stub<K extends (typeof FUNCTIONS)[number]>(name: K): NativeBinding[K] {
  return ((...args: unknown[]): unknown =>
    (loadNative()[name] as (...a: unknown[]) => unknown)(...args)) as NativeBinding[K];
}

// Every member exists from the start and is replaced in place on load (the pageSize getter stays), so
// the object keeps fast properties and call sites stay monomorphic property loads.
function stubs(): NativeBinding {
  const obj = Object.fromEntries(FUNCTIONS.map((name) => [name, stub(name)]));
  Object.defineProperty(obj, 'pageSize', { get: (): number => (loaded ?? loadNative()).pageSize, enumerable: true });
  return obj as unknown as NativeBinding;
}

/**
 * The addon, loaded on first use: importing tsbpf loads nothing, so the pure half works where the addon
 * cannot load. Until then each member is a stub that loads the addon and swaps itself for the real
 * function, so hot paths (ring drains) call the C function directly.
 */
export const native: NativeBinding = stubs();

/** mmap protection and flags (x86_64 Linux). */
export const PROT = { read: 1, write: 2 } as const;
export const MAP_SHARED = 1;
