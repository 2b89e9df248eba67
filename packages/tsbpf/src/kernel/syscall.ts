/**
 * bpf(2) with typed errors, plus the small pieces every kernel object shares: attr buffers,
 * pointers to user buffers, and fd ownership (close once, close on GC if forgotten).
 */
import { BPF_CMD } from '../pure/uapi.js';
import { BpfError, type BpfErrorContext, ClosedError } from './errors.js';
import { native } from './native.js';

const CMD_NAMES: string[] = [];
for (const [name, num] of Object.entries(BPF_CMD)) CMD_NAMES[num] = `BPF_${name.toUpperCase()}`;

/** `BPF_MAP_CREATE` for a command number. */
export function commandName(cmd: number): string {
  return CMD_NAMES[cmd] ?? `bpf_cmd(${cmd})`;
}

/** bpf(cmd, attr): the result, or a BpfError naming the command and object. */
export function bpf(cmd: number, attr: Uint8Array, object?: string, hint?: string): number {
  const r = native.bpf(cmd, attr);
  if (r < 0) throw new BpfError(-r, { syscall: 'bpf', command: commandName(cmd), object, hint });
  return r;
}

/**
 * bpf(cmd, attr) returning -errno instead of throwing, for expected failures on hot paths. Pass the
 * attr's ArrayBuffer (its whole length is the attr) to save the addon a typed-array query.
 */
export function bpfRaw(cmd: number, attr: Uint8Array | ArrayBuffer): number {
  return native.bpf(cmd, attr);
}

/** Throws the BpfError for a -errno result from bpfRaw. */
export function bpfFail(cmd: number, negErrno: number, object?: string, hint?: string): never {
  throw new BpfError(-negErrno, { syscall: 'bpf', command: commandName(cmd), object, hint });
}

/** A zeroed bpf_attr with a DataView, sized for one command. */
export class Attr {
  readonly bytes: Uint8Array;
  readonly view: DataView;
  constructor(size: number) {
    this.bytes = new Uint8Array(size);
    this.view = new DataView(this.bytes.buffer);
  }
  reset(): this {
    this.bytes.fill(0);
    return this;
  }
  u32(off: number, v: number): this {
    this.view.setUint32(off, v >>> 0, true);
    return this;
  }
  i32(off: number, v: number): this {
    this.view.setInt32(off, v | 0, true);
    return this;
  }
  /** A 64-bit field from a JS number (exact below 2^53: addresses, sizes). */
  u64(off: number, v: number): this {
    this.view.setUint32(off, v % 0x100000000, true);
    this.view.setUint32(off + 4, Math.floor(v / 0x100000000), true);
    return this;
  }
  u64n(off: number, v: bigint): this {
    this.view.setBigUint64(off, BigInt.asUintN(64, v), true);
    return this;
  }
  /** A pointer field: the address of `buf` (0 for none). */
  ptr(off: number, buf: ArrayBufferView | undefined): this {
    return this.u64(off, buf?.byteLength ? native.addressOf(buf) : 0);
  }
  /** A NUL-terminated name copied into a fixed char[len] field. */
  name(off: number, s: string, len = 16): this {
    const b = Buffer.from(s, 'utf8').subarray(0, len - 1);
    this.bytes.set(b, off);
    return this;
  }
  getU32(off: number): number {
    return this.view.getUint32(off, true);
  }
  getU64(off: number): number {
    return this.view.getUint32(off, true) + this.view.getUint32(off + 4, true) * 0x100000000;
  }
}

/** A NUL-terminated C string buffer (keep a reference while the kernel reads it). */
export function cString(s: string): Uint8Array {
  const b = Buffer.from(`${s}\0`, 'utf8');
  return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
}

const fdRegistry = new FinalizationRegistry<number>((fd) => {
  native.close(fd);
});

/**
 * An owned file descriptor: close() is idempotent, use after close throws, and an fd whose owner
 * was garbage-collected without close() is closed then.
 */
export class OwnedFd {
  #fd: number;
  readonly #what: string;
  constructor(fd: number, what: string) {
    this.#fd = fd;
    this.#what = what;
    fdRegistry.register(this, fd, this);
  }
  /** The fd; throws ClosedError after close(). */
  get fd(): number {
    if (this.#fd < 0) throw new ClosedError(this.#what);
    return this.#fd;
  }
  get closed(): boolean {
    return this.#fd < 0;
  }
  get what(): string {
    return this.#what;
  }
  close(): void {
    if (this.#fd < 0) return;
    fdRegistry.unregister(this);
    native.close(this.#fd);
    this.#fd = -1;
  }
}

/** Raised before any syscall when an argument is wrong. */
export function argError(message: string): TypeError {
  return new TypeError(`tsbpf: ${message}`);
}

export type { BpfErrorContext };
