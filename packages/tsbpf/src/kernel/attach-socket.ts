/**
 * Socket filters: a `socket_filter` program put on one socket with setsockopt(SO_ATTACH_BPF). It sees every
 * packet the socket would receive; returning 0 drops it, n keeps its first n bytes. Accepts a raw fd or a Node
 * `net` / `dgram` socket (bound or connected, so it has an fd). There is no BPF link: the handle detaches with
 * SO_DETACH_BPF; closing the socket detaches too.
 */
import { BpfError, ClosedError } from './errors.js';
import { requireProgramType } from './link.js';
import { native } from './native.js';
import type { Program } from './program.js';
import { argError } from './syscall.js';

const SOL_SOCKET = 1;
const SO_ATTACH_BPF = 50;
const SO_DETACH_BPF = 27; // = SO_DETACH_FILTER
const EBADF = 9;
const ENOTSOCK = 88;
const ENOENT = 2;

/** A raw socket fd, or a Node socket/server that owns one (`net.Socket`, `net.Server`, `dgram.Socket`). */
export type SocketTarget = number | { _handle?: unknown } | object;

/** The fd behind a Node socket (its libuv handle's), or the number itself. */
export function socketFd(target: SocketTarget): number {
  if (typeof target === 'number') {
    if (!Number.isInteger(target) || target < 0)
      throw argError(`socket fd must be a non-negative integer, got ${target}`);
    return target;
  }
  if (!target || typeof target !== 'object')
    throw argError('attachSocket needs a socket fd or a Node net/dgram socket');
  // net.Socket / net.Server keep the handle in _handle; dgram.Socket in its state symbol (its _handle getter is deprecated).
  let handle = (target as { _handle?: { fd?: unknown } })._handle;
  if (handle === undefined || handle === null) {
    const state = Object.getOwnPropertySymbols(target).find((s) => s.description === 'state symbol');
    handle = state ? (target as Record<symbol, { handle?: { fd?: unknown } }>)[state]?.handle : undefined;
  }
  const fd = handle?.fd;
  if (typeof fd !== 'number' || fd < 0)
    throw argError(
      'the socket has no file descriptor yet: bind, listen or connect it first (a dgram socket after its "listening" event)',
    );
  return fd;
}

// Set by SocketFilter's static block: attachSocketFilter() makes them; users cannot.
let newSocketFilter: (fd: number, what: string) => SocketFilter;

/**
 * A socket filter attachment. close() detaches it (SO_DETACH_BPF); safe twice, and quiet when the socket
 * is already closed (closing the socket removed the filter).
 */
export class SocketFilter {
  readonly #fd: number;
  readonly #what: string;
  #closed = false;

  static {
    newSocketFilter = (fd, what) => new SocketFilter(fd, what);
  }

  private constructor(fd: number, what: string) {
    this.#fd = fd;
    this.#what = what;
  }

  /** The socket's fd (not owned: the socket's owner closes it). */
  get socketFd(): number {
    if (this.#closed) throw new ClosedError(this.#what);
    return this.#fd;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Removes the filter from the socket. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    const r = native.setsockopt(this.#fd, SOL_SOCKET, SO_DETACH_BPF, new Int32Array(1));
    // The socket went first (EBADF/ENOTSOCK), or its filter was already replaced/removed (ENOENT): nothing to undo.
    if (r < 0 && r !== -EBADF && r !== -ENOTSOCK && r !== -ENOENT)
      throw new BpfError(-r, { syscall: 'setsockopt', command: 'SO_DETACH_BPF', object: this.#what });
  }

  [Symbol.dispose](): void {
    this.close();
  }
}

/** Attaches a `socket_filter` program to a socket (setsockopt SO_ATTACH_BPF). Replaces any filter it had. */
export function attachSocket(program: Program, target: SocketTarget): SocketFilter {
  requireProgramType(program, ['socket_filter'], 'a socket (SO_ATTACH_BPF)');
  const fd = socketFd(target);
  const what = `socket filter "${program.name || '(unnamed)'}" on fd ${fd}`;
  const r = native.setsockopt(fd, SOL_SOCKET, SO_ATTACH_BPF, new Int32Array([program.fd]));
  if (r < 0)
    throw new BpfError(-r, {
      syscall: 'setsockopt',
      command: 'SO_ATTACH_BPF',
      object: what,
      hint: r === -ENOTSOCK ? `fd ${fd} is not a socket` : undefined,
    });
  return newSocketFilter(fd, what);
}
