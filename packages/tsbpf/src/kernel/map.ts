/**
 * BpfMap: create, open and use BPF maps with typed keys and values, per-CPU values, batch
 * operations, iteration, pinning, freezing and mmapable arrays.
 */
import { isLayout, Layout } from '../pure/layout.js';
import { MAP_FLAG, MAP_TYPE, MapTypeName, nameOf, UPDATE_FLAG, UpdateFlag, BPF_CMD } from '../pure/uapi.js';
import { BpfError } from './errors.js';
import { possibleCpus } from './cpus.js';
import { preparePinPath } from './fs-mounts.js';
import { MAP_SHARED, native, PROT } from './native.js';
import { Attr, argError, bpf, bpfFail, bpfRaw, cString, OwnedFd } from './syscall.js';

const ENOENT = 2;
const EINVAL = 22;
const ENOTSUPP = 524;
const EOPNOTSUPP = 95;

/** A key or value description: a layout (typed) or a byte size (raw Uint8Array, or numbers for 4/8 bytes). */
export type Codec<T> = Layout<T> | number;
type Decoded<C> = C extends Layout<infer T> ? T : RawValue;
/** What a raw (size-only) key or value accepts: bytes, or a number/bigint for 1/2/4/8-byte sizes. */
export type RawValue = Uint8Array;
type RawInput = Uint8Array | number | bigint;
type Input<C> = C extends Layout<infer T> ? T : RawInput;

/** Options for BpfMap.create. */
export interface MapCreateOptions<K extends Codec<any> = Codec<any>, V extends Codec<any> = Codec<any>> {
  /** Map type by name: 'hash', 'array', 'percpu_array', 'ringbuf', ... */
  type: MapTypeName;
  /** Key layout, or use keySize. */
  key?: K;
  keySize?: number;
  /** Value layout (per CPU for per-CPU maps), or use valueSize. */
  value?: V;
  valueSize?: number;
  /** Entries (for ringbuf: the size in bytes, a power of two multiple of the page size). */
  maxEntries: number;
  /** Flag names or the numeric BPF_F_* mask. */
  flags?: number | (keyof typeof MAP_FLAG)[];
  /** Up to 15 characters [A-Za-z0-9_.]. */
  name?: string;
  /** The inner map template for array_of_maps / hash_of_maps. */
  innerMap?: BpfMap<any, any>;
  /** map_extra: bloom filter hash count, arena address, ... */
  mapExtra?: number;
  /** BTF for the key/value types. */
  btf?: { fd: number; keyTypeId: number; valueTypeId: number };
  numaNode?: number;
}

/** What BPF_OBJ_GET_INFO_BY_FD reports about a map. */
export interface MapInfo {
  type: string;
  typeId: number;
  id: number;
  keySize: number;
  valueSize: number;
  maxEntries: number;
  flags: number;
  name: string;
  btfId: number;
  mapExtra: number;
}

/** A batch result: decoded keys and values in the kernel's order. */
export interface BatchResult<K, V> {
  keys: K[];
  values: V[];
}

const NO_KEY_TYPES = new Set<string>(['ringbuf', 'user_ringbuf', 'queue', 'stack', 'bloom_filter', 'arena']);
const PERCPU_TYPES = new Set<string>(['percpu_hash', 'percpu_array', 'lru_percpu_hash', 'percpu_cgroup_storage']);
const FD_VALUE_TYPES = new Set<string>(['prog_array', 'perf_event_array', 'array_of_maps', 'hash_of_maps', 'cgroup_array', 'devmap', 'devmap_hash', 'sockmap', 'sockhash', 'xskmap', 'cpumap']);

interface RawCodec<T> {
  size: number;
  encode(v: T, view: DataView, off: number): void;
  decode(view: DataView, off: number): T;
  describe: string;
}

function rawCodec(size: number, what: string): RawCodec<any> {
  return {
    size,
    describe: `${size}-byte ${what}`,
    encode(v: RawInput, view, off) {
      if (v instanceof Uint8Array) {
        if (v.length !== size) throw argError(`${what} must be ${size} bytes, got ${v.length}`);
        new Uint8Array(view.buffer, view.byteOffset + off, size).set(v);
        return;
      }
      if (typeof v === 'number' || typeof v === 'bigint') {
        const n = BigInt(v);
        if (size === 8) { if (n < -(1n << 63n) || n >= 1n << 64n) throw argError(`${what} ${v} does not fit in 8 bytes`); view.setBigUint64(off, BigInt.asUintN(64, n), true); return; }
        if (size === 4) { if (n < -(1n << 31n) || n >= 1n << 32n) throw argError(`${what} ${v} does not fit in 4 bytes`); view.setUint32(off, Number(BigInt.asUintN(32, n)), true); return; }
        if (size === 2) { if (n < -32768n || n >= 65536n) throw argError(`${what} ${v} does not fit in 2 bytes`); view.setUint16(off, Number(BigInt.asUintN(16, n)), true); return; }
        if (size === 1) { if (n < -128n || n >= 256n) throw argError(`${what} ${v} does not fit in 1 byte`); view.setUint8(off, Number(BigInt.asUintN(8, n))); return; }
      }
      throw argError(`${what} must be a Uint8Array of ${size} bytes${[1, 2, 4, 8].includes(size) ? ' or a number' : ''}, got ${v === null ? 'null' : typeof v}`);
    },
    decode(view, off) {
      return new Uint8Array(view.buffer.slice(view.byteOffset + off, view.byteOffset + off + size));
    },
  };
}

function layoutCodec<T>(l: Layout<T>): RawCodec<T> {
  return { size: l.size, describe: String(l), encode: (v, view, off) => l.encode(v, view, off), decode: (view, off) => l.decode(view, off) };
}

function flagMask(flags: MapCreateOptions['flags']): number {
  if (flags === undefined) return 0;
  if (typeof flags === 'number') return flags;
  let m = 0;
  for (const f of flags) {
    const bit = MAP_FLAG[f];
    if (bit === undefined) throw argError(`unknown map flag "${f}" (known: ${Object.keys(MAP_FLAG).join(', ')})`);
    m |= bit;
  }
  return m;
}

const NAME_RE = /^[A-Za-z0-9_.]{0,15}$/;

/**
 * A BPF map. Keys and values are typed by layouts (`t.u32`, `t.struct({...})`) or raw byte sizes.
 * Per-CPU maps read and write one value per possible CPU.
 *
 * ```ts
 * using counts = BpfMap.create({ type: 'hash', key: t.u32, value: t.u64, maxEntries: 256 });
 * counts.update(6, 1n);
 * counts.lookup(6); // 1n
 * ```
 */
export class BpfMap<K = any, V = any> {
  readonly #owned: OwnedFd;
  /** Map type name. */
  readonly type: string;
  readonly keySize: number;
  /** Value size as the kernel sees it (one CPU's value for per-CPU maps). */
  readonly valueSize: number;
  readonly maxEntries: number;
  readonly flags: number;
  readonly name: string;
  /** True for per-CPU maps: values are arrays with one entry per possible CPU. */
  readonly perCpu: boolean;
  /** Possible CPUs (per-CPU value count). */
  readonly cpus: number;
  readonly #key: RawCodec<any>;
  readonly #value: RawCodec<any>;
  readonly #valueLayout: Layout<any> | undefined;
  readonly #stride: number; // per-CPU value stride (rounded to 8)
  readonly #keyBuf: Uint8Array;
  readonly #keyView: DataView;
  readonly #nextKeyBuf: Uint8Array;
  readonly #valBuf: Uint8Array;
  readonly #valView: DataView;
  readonly #elemAttr = new Attr(32);
  // Hot-path attrs (lookup, update, delete), prebuilt once: fd and key/value pointers never change
  // (the buffers are off-heap ArrayBuffers, so their addresses are stable); update rewrites flags.
  // Kept as ArrayBuffers: the addon checks one of those with a single N-API call.
  readonly #keyValAttr: ArrayBuffer;
  readonly #updateAttr: ArrayBuffer;
  readonly #updateAttrView: DataView;
  readonly #keyOnlyAttr: ArrayBuffer;
  /** 1 when keys are t.u32 (the common case): encode/decode with one DataView access. */
  readonly #keyKind: 0 | 1 = 0;
  /** 1 when values are t.u64num, 2 when t.u32: decode without going through the layout. */
  readonly #valKind: 0 | 1 | 2 = 0;
  readonly #mmaps: ArrayBuffer[] = [];

  private constructor(fd: number, type: string, keySize: number, valueSize: number, maxEntries: number, flags: number, name: string, key?: Codec<any>, value?: Codec<any>) {
    this.#owned = new OwnedFd(fd, `map "${name || '(unnamed)'}" (${type})`);
    this.type = type;
    this.keySize = keySize;
    this.valueSize = valueSize;
    this.maxEntries = maxEntries;
    this.flags = flags;
    this.name = name;
    this.perCpu = PERCPU_TYPES.has(type);
    this.cpus = this.perCpu ? possibleCpus() : 1;
    this.#key = key !== undefined && isLayout(key) ? layoutCodec(key) : rawCodec(keySize, 'key');
    this.#valueLayout = value !== undefined && isLayout(value) ? value : undefined;
    this.#value = this.#valueLayout ? layoutCodec(this.#valueLayout) : rawCodec(valueSize, 'value');
    this.#stride = this.perCpu ? Math.ceil(valueSize / 8) * 8 : valueSize;
    // Explicit ArrayBuffers: never on the V8 heap, so the addresses written into the attrs stay valid.
    this.#keyBuf = new Uint8Array(new ArrayBuffer(Math.max(keySize, 8)));
    this.#keyView = new DataView(this.#keyBuf.buffer);
    this.#nextKeyBuf = new Uint8Array(new ArrayBuffer(Math.max(keySize, 8)));
    this.#valBuf = new Uint8Array(new ArrayBuffer(Math.max(this.#stride * this.cpus, 8)));
    this.#valView = new DataView(this.#valBuf.buffer);
    this.#keyValAttr = new Attr(32).u32(0, fd).ptr(8, this.#keyBuf).ptr(16, this.#valBuf).bytes.buffer as ArrayBuffer;
    const upd = new Attr(32).u32(0, fd).ptr(8, this.#keyBuf).ptr(16, this.#valBuf);
    this.#updateAttr = upd.bytes.buffer as ArrayBuffer;
    this.#updateAttrView = upd.view;
    this.#keyOnlyAttr = new Attr(32).u32(0, fd).ptr(8, this.#keyBuf).bytes.buffer as ArrayBuffer;
    if (keySize === 4 && key !== undefined && isLayout(key) && (key as Layout<unknown>).kind === 'u32') this.#keyKind = 1;
    const vk = this.#valueLayout?.kind;
    this.#valKind = vk === 'u64num' ? 1 : vk === 'u32' ? 2 : 0;
  }

  /** Creates a map (BPF_MAP_CREATE). Arguments are checked before any syscall. */
  static create<KC extends Codec<any>, VC extends Codec<any>>(opts: MapCreateOptions<KC, VC>): BpfMap<Decoded<KC>, Decoded<VC>>;
  /** Creates a map from options whose layouts are only known at run time (untyped access). */
  static create(opts: MapCreateOptions<any, any>): BpfMap<any, any>;
  static create(opts: MapCreateOptions<any, any>): BpfMap<any, any> {
    if (!opts || typeof opts !== 'object') throw argError('BpfMap.create needs an options object');
    const typeId = (MAP_TYPE as Record<string, number>)[opts.type];
    if (typeId === undefined) throw argError(`unknown map type "${String(opts.type)}" (known: ${Object.keys(MAP_TYPE).join(', ')})`);
    const noKey = NO_KEY_TYPES.has(opts.type);
    const keySize = sizeOf(opts.key, opts.keySize, 'key', noKey ? 0 : undefined);
    let valueSize = sizeOf(opts.value, opts.valueSize, 'value', opts.type === 'ringbuf' || opts.type === 'user_ringbuf' || opts.type === 'arena' ? 0 : FD_VALUE_TYPES.has(opts.type) ? 4 : undefined);
    if (noKey && keySize !== 0) throw argError(`${opts.type} maps have no key (keySize must be 0)`);
    if (!noKey && keySize <= 0) throw argError(`${opts.type} maps need a key: give key (a layout) or keySize > 0`);
    if (opts.type === 'ringbuf' || opts.type === 'user_ringbuf') {
      const pg = native.pageSize;
      const n = opts.maxEntries;
      if (!Number.isInteger(n) || n < pg || (n & (n - 1)) !== 0) throw argError(`${opts.type} maxEntries is the ring size in bytes: a power of two ≥ ${pg}, got ${n}`);
      valueSize = 0;
    } else if (valueSize <= 0 && opts.type !== 'arena') {
      throw argError(`${opts.type} maps need a value: give value (a layout) or valueSize > 0`);
    }
    if (!Number.isInteger(opts.maxEntries) || opts.maxEntries <= 0 || opts.maxEntries > 0xffffffff) throw argError(`maxEntries must be a positive integer, got ${opts.maxEntries}`);
    const name = opts.name ?? '';
    if (!NAME_RE.test(name)) throw argError(`map name "${name}" must be at most 15 characters of [A-Za-z0-9_.]`);
    let flags = flagMask(opts.flags);
    if (opts.type === 'lpm_trie') flags |= MAP_FLAG.no_prealloc; // the kernel requires it
    if ((opts.type === 'array_of_maps' || opts.type === 'hash_of_maps') && !opts.innerMap) throw argError(`${opts.type} needs innerMap (a template map)`);
    const a = new Attr(80)
      .u32(0, typeId).u32(4, keySize).u32(8, valueSize).u32(12, opts.maxEntries).u32(16, flags)
      .u32(20, opts.innerMap ? opts.innerMap.fd : 0).u32(24, opts.numaNode ?? 0).name(28, name);
    if (opts.btf) a.u32(48, opts.btf.fd).u32(52, opts.btf.keyTypeId).u32(56, opts.btf.valueTypeId);
    if (opts.mapExtra) a.u64(64, opts.mapExtra);
    const fd = bpf(BPF_CMD.map_create, a.bytes, `map "${name || '(unnamed)'}" (${opts.type}, key ${keySize}, value ${valueSize}, ${opts.maxEntries} entries)`,
      undefined);
    return new BpfMap(fd, opts.type, keySize, valueSize, opts.maxEntries, flags, name, opts.key, opts.value) as BpfMap<any, any>;
  }

  /** Opens a map pinned at `path` on bpffs. Give key/value layouts to get typed access. */
  static fromPin<K = RawValue, V = RawValue>(path: string, codecs?: { key?: Layout<K>; value?: Layout<V> }): BpfMap<K, V> {
    preparePinPath(path);
    const p = cString(path);
    const a = new Attr(24).ptr(0, p);
    const fd = bpf(BPF_CMD.obj_get, a.bytes, `pinned map ${path}`);
    return BpfMap.#fromFd(fd, codecs) as BpfMap<K, V>;
  }

  /** Opens a map by its kernel id (BPF_MAP_GET_FD_BY_ID). */
  static fromId<K = RawValue, V = RawValue>(id: number, codecs?: { key?: Layout<K>; value?: Layout<V> }): BpfMap<K, V> {
    const a = new Attr(12).u32(0, id);
    const fd = bpf(BPF_CMD.map_get_fd_by_id, a.bytes, `map id ${id}`);
    return BpfMap.#fromFd(fd, codecs) as BpfMap<K, V>;
  }

  /** Wraps an existing map fd (takes ownership). */
  static fromFd<K = RawValue, V = RawValue>(fd: number, codecs?: { key?: Layout<K>; value?: Layout<V> }): BpfMap<K, V> {
    return BpfMap.#fromFd(fd, codecs) as BpfMap<K, V>;
  }

  static #fromFd(fd: number, codecs?: { key?: Layout<any>; value?: Layout<any> }): BpfMap {
    let info: MapInfo;
    try {
      info = readMapInfo(fd, `map fd ${fd}`);
    } catch (e) {
      native.close(fd);
      throw e;
    }
    if (codecs?.key && codecs.key.size !== info.keySize) { native.close(fd); throw argError(`key layout is ${codecs.key.size} bytes but the map's key is ${info.keySize}`); }
    if (codecs?.value && codecs.value.size !== info.valueSize) { native.close(fd); throw argError(`value layout is ${codecs.value.size} bytes but the map's value is ${info.valueSize}`); }
    return new BpfMap(fd, info.type, info.keySize, info.valueSize, info.maxEntries, info.flags, info.name, codecs?.key, codecs?.value);
  }

  /** The map's file descriptor (throws once closed). */
  get fd(): number {
    return this.#owned.fd;
  }

  /** True after close(). */
  get closed(): boolean {
    return this.#owned.closed;
  }

  #what(): string {
    return `map "${this.name || '(unnamed)'}" (${this.type})`;
  }

  #encodeKey(key: K): void {
    // (key >>> 0) === key: an integer in [0, 2^32), in one comparison.
    if (this.#keyKind === 1 && typeof key === 'number' && (key >>> 0) === key) {
      this.#keyView.setUint32(0, key, true);
      return;
    }
    try {
      this.#key.encode(key, this.#keyView, 0);
    } catch (e) {
      throw argError(`bad key for ${this.#what()}: ${(e as Error).message.replace(/^tsbpf: /, '')}`);
    }
  }

  #encodeValue(value: any): void {
    if (!this.perCpu && this.#putScalar(this.#valView, 0, value)) return;
    try {
      if (this.perCpu) {
        const vals = value as any[];
        if (!Array.isArray(vals) || vals.length !== this.cpus) throw new TypeError(`per-CPU maps take an array of ${this.cpus} values (one per possible CPU)`);
        // Zero the padding between per-CPU slots (and inside layouts that leave holes).
        if (this.#valKind === 0 || this.#stride !== this.valueSize) this.#valBuf.fill(0);
        for (let c = 0; c < this.cpus; c++) {
          if (!this.#putScalar(this.#valView, c * this.#stride, vals[c])) this.#value.encode(vals[c], this.#valView, c * this.#stride);
        }
      } else {
        this.#value.encode(value, this.#valView, 0);
      }
    } catch (e) {
      throw argError(`bad value for ${this.#what()}: ${(e as Error).message.replace(/^tsbpf: /, '')}`);
    }
  }

  #decodeValue(): any {
    if (!this.perCpu) return this.#decodeOne(this.#valView, 0);
    const out = new Array(this.cpus);
    for (let c = 0; c < this.cpus; c++) out[c] = this.#decodeOne(this.#valView, c * this.#stride);
    return out;
  }

  /**
   * Writes a t.u64num / t.u32 value directly when it is in range; false otherwise (other layouts,
   * or a bad value: the layout's encode then throws its own message).
   */
  #putScalar(view: DataView, off: number, v: unknown): boolean {
    const k = this.#valKind;
    if (k === 0 || typeof v !== 'number') return false;
    if (k === 2) {
      if ((v >>> 0) !== v) return false;
      view.setUint32(off, v, true);
      return true;
    }
    if (!(v >= 0 && v <= Number.MAX_SAFE_INTEGER) || !Number.isInteger(v)) return false;
    const lo = v >>> 0; // exact: ToUint32 is v mod 2^32
    view.setUint32(off, lo, true);
    view.setUint32(off + 4, (v - lo) / 4294967296, true);
    return true;
  }

  /** One value at `off`, with the hot scalar layouts read directly. */
  #decodeOne(view: DataView, off: number): any {
    const k = this.#valKind;
    if (k === 1) return view.getUint32(off, true) + view.getUint32(off + 4, true) * 4294967296;
    if (k === 2) return view.getUint32(off, true);
    return this.#value.decode(view, off);
  }

  #elem(cmd: number, withKey: boolean, valueBuf: Uint8Array | undefined, flags: number): number {
    const a = this.#elemAttr;
    a.reset().u32(0, this.fd);
    if (withKey) a.ptr(8, this.#keyBuf);
    if (valueBuf) a.ptr(16, valueBuf);
    a.u64(24, flags);
    return bpfRaw(cmd, a.bytes);
  }

  #requireKeyed(op: string): void {
    if (this.keySize === 0) throw argError(`${op} needs a keyed map; ${this.type} maps use push/pop/peek${this.type === 'ringbuf' ? ' (or a RingBuffer reader)' : ''}`);
  }

  /** The value for `key`, or undefined when absent. Per-CPU maps return one value per CPU. */
  lookup(key: K): (V extends never ? never : any) | undefined {
    void this.#owned.fd; // throws once closed: a prebuilt attr must never reach a reused fd number
    if (this.keySize === 0) this.#requireKeyed('lookup');
    this.#encodeKey(key);
    const r = bpfRaw(BPF_CMD.map_lookup_elem, this.#keyValAttr);
    if (r === -ENOENT) return undefined;
    if (r < 0) bpfFail(BPF_CMD.map_lookup_elem, r, this.#what());
    return this.#decodeValue();
  }

  /** Sets `key` to `value`. flag: 'any' (default), 'noexist' (create only), 'exist' (update only). */
  update(key: K, value: any, flag: UpdateFlag = 'any'): void {
    void this.#owned.fd;
    if (this.keySize === 0) this.#requireKeyed('update');
    const f = flag === 'any' ? 0 : UPDATE_FLAG[flag];
    if (f === undefined) throw argError(`update flag must be any, noexist, exist or lock, got ${String(flag)}`);
    this.#encodeKey(key);
    this.#encodeValue(value);
    this.#updateAttrView.setUint32(24, f, true);
    const r = bpfRaw(BPF_CMD.map_update_elem, this.#updateAttr);
    if (r < 0) bpfFail(BPF_CMD.map_update_elem, r, this.#what(), r === -17 ? 'the key exists (flag noexist)' : r === -ENOENT && flag === 'exist' ? 'the key does not exist (flag exist)' : r === -7 ? 'the map is full (E2BIG)' : undefined);
  }

  /** Deletes `key`; returns false when it was absent. */
  delete(key: K): boolean {
    void this.#owned.fd;
    if (this.keySize === 0) this.#requireKeyed('delete');
    this.#encodeKey(key);
    const r = bpfRaw(BPF_CMD.map_delete_elem, this.#keyOnlyAttr);
    if (r === -ENOENT) return false;
    if (r < 0) bpfFail(BPF_CMD.map_delete_elem, r, this.#what(), r === -EINVAL && this.type.includes('array') ? 'array elements cannot be deleted' : undefined);
    return true;
  }

  /** Removes and returns the value for `key` (hash maps), or pops (queue/stack). */
  lookupAndDelete(key?: K): any | undefined {
    const keyed = this.keySize > 0;
    if (keyed) this.#encodeKey(key as K);
    const r = this.#elem(BPF_CMD.map_lookup_and_delete_elem, keyed, this.#valBuf, 0);
    if (r === -ENOENT) return undefined;
    if (r < 0) bpfFail(BPF_CMD.map_lookup_and_delete_elem, r, this.#what());
    return this.#decodeValue();
  }

  /** Queue/stack/bloom filter: push a value. */
  push(value: V, flag: 'any' | 'exist' = 'any'): void {
    if (this.keySize !== 0) throw argError(`push is for queue, stack and bloom_filter maps, not ${this.type}`);
    this.#encodeValue(value);
    const r = this.#elem(BPF_CMD.map_update_elem, false, this.#valBuf, UPDATE_FLAG[flag]);
    if (r < 0) bpfFail(BPF_CMD.map_update_elem, r, this.#what(), r === -7 ? 'the map is full; push with flag "exist" overwrites the oldest' : undefined);
  }

  /** Queue/stack: remove and return the next value, or undefined when empty. */
  pop(): V | undefined {
    if (this.keySize !== 0) throw argError(`pop is for queue and stack maps, not ${this.type}`);
    return this.lookupAndDelete();
  }

  /** Queue/stack: the next value without removing it. */
  peek(): V | undefined {
    if (this.keySize !== 0) throw argError(`peek is for queue and stack maps, not ${this.type}`);
    const r = this.#elem(BPF_CMD.map_lookup_elem, false, this.#valBuf, 0);
    if (r === -ENOENT) return undefined;
    if (r < 0) bpfFail(BPF_CMD.map_lookup_elem, r, this.#what());
    return this.#decodeValue();
  }

  /** Bloom filter: true when `value` may be in the set, false when it certainly is not. */
  has(value: V): boolean {
    if (this.type !== 'bloom_filter') throw argError(`has() is for bloom_filter maps, not ${this.type}`);
    this.#encodeValue(value);
    const r = this.#elem(BPF_CMD.map_lookup_elem, false, this.#valBuf, 0);
    if (r === -ENOENT) return false;
    if (r < 0) bpfFail(BPF_CMD.map_lookup_elem, r, this.#what());
    return true;
  }

  /**
   * Per-CPU maps: the value for `key` summed over CPUs, read without BigInt. Scalar values sum to a
   * number; structs of integer fields sum field by field. Undefined when the key is absent.
   */
  sum(key: K): any {
    if (!this.perCpu) throw argError(`sum() is for per-CPU maps, not ${this.type}`);
    void this.#owned.fd;
    this.#encodeKey(key);
    const r = bpfRaw(BPF_CMD.map_lookup_elem, this.#keyValAttr);
    if (r === -ENOENT) return undefined;
    if (r < 0) bpfFail(BPF_CMD.map_lookup_elem, r, this.#what());
    return sumPerCpu(this.#valView, this.cpus, this.#stride, this.#valueLayout, this.valueSize);
  }

  /** The key after `key` (or the first key when undefined); undefined at the end. */
  nextKey(key?: K): K | undefined {
    this.#requireKeyed('nextKey');
    const withKey = key !== undefined;
    if (withKey) this.#encodeKey(key);
    const a = this.#elemAttr;
    a.reset().u32(0, this.fd);
    if (withKey) a.ptr(8, this.#keyBuf);
    a.ptr(16, this.#nextKeyBuf);
    const r = bpfRaw(BPF_CMD.map_get_next_key, a.bytes);
    if (r === -ENOENT) return undefined;
    if (r < 0) bpfFail(BPF_CMD.map_get_next_key, r, this.#what());
    return this.#key.decode(new DataView(this.#nextKeyBuf.buffer), 0);
  }

  /**
   * Iterates keys. The next key is fetched before the current one is yielded, so deleting the
   * yielded key inside the loop is safe; a bound stops restarts caused by concurrent deletes.
   */
  *keys(): IterableIterator<K> {
    this.#requireKeyed('keys');
    let cur = this.nextKey();
    let n = 0;
    const bound = this.maxEntries * 2 + 16;
    while (cur !== undefined && n++ < bound) {
      let next: K | undefined;
      try {
        next = this.nextKey(cur);
      } catch (e) {
        if (e instanceof BpfError && e.code === 'ENOENT') next = undefined; else throw e;
      }
      yield cur;
      cur = next;
    }
  }

  /** Iterates [key, value] pairs, skipping keys deleted between the key walk and the lookup. */
  *entries(): IterableIterator<[K, any]> {
    for (const k of this.keys()) {
      const v = this.lookup(k);
      if (v !== undefined) yield [k, v];
    }
  }

  [Symbol.iterator](): IterableIterator<[K, any]> {
    return this.entries();
  }

  // ---- batch operations ---------------------------------------------------------------------------

  #batchCache: { n: number; keys: Uint8Array; values: Uint8Array; keyView: DataView; valueView: DataView } | undefined;

  /**
   * Key/value staging buffers for n elements, reused across batch calls (they only live for one
   * call): fresh buffers would make the kernel fault in new pages on every batch.
   */
  #batchBuffers(n: number): { keys: Uint8Array; values: Uint8Array; keyView: DataView; valueView: DataView } {
    const c = this.#batchCache;
    if (c && c.n >= n) return c;
    const keys = new Uint8Array(new ArrayBuffer(Math.max(n * this.keySize, 8)));
    const values = new Uint8Array(new ArrayBuffer(Math.max(n * this.#stride * this.cpus, 8)));
    this.#batchCache = { n, keys, values, keyView: new DataView(keys.buffer), valueView: new DataView(values.buffer) };
    return this.#batchCache;
  }

  #batchAttr(a: Attr, inBatch: Uint8Array | undefined, outBatch: Uint8Array | undefined, keys: Uint8Array, values: Uint8Array | undefined, count: number, elemFlags = 0): void {
    a.reset().ptr(0, inBatch).ptr(8, outBatch).ptr(16, keys).ptr(24, values).u32(32, count).u32(36, this.fd).u64(40, elemFlags);
  }

  #decodeAt(view: DataView, i: number): any {
    const base = i * this.#stride * this.cpus;
    if (!this.perCpu) return this.#decodeOne(view, base);
    const out = new Array(this.cpus);
    for (let c = 0; c < this.cpus; c++) out[c] = this.#decodeOne(view, base + c * this.#stride);
    return out;
  }

  #lookupBatchImpl(cmd: number, batchSize: number): BatchResult<K, any> {
    this.#requireKeyed('lookupBatch');
    const size = Math.max(1, Math.min(batchSize, this.maxEntries));
    const { keys, values, keyView, valueView } = this.#batchBuffers(size);
    const tokenA = new Uint8Array(Math.max(this.keySize, 8));
    const tokenB = new Uint8Array(Math.max(this.keySize, 8));
    const a = new Attr(56);
    // Decoded chunks, one per call; usually a single chunk is returned as is.
    const keyChunks: K[][] = [];
    const valueChunks: any[][] = [];
    let first = true;
    let inTok = tokenA;
    let outTok = tokenB;
    for (;;) {
      this.#batchAttr(a, first ? undefined : inTok, outTok, keys, values, size);
      const r = bpfRaw(cmd, a.bytes);
      const count = a.getU32(32);
      if (r < 0 && r !== -ENOENT) {
        if (first && (r === -EINVAL || r === -ENOTSUPP || r === -EOPNOTSUPP)) return this.#lookupEach(cmd === BPF_CMD.map_lookup_and_delete_batch);
        bpfFail(cmd, r, this.#what());
      }
      if (count > 0) {
        const ck = sizedArray<K>(count);
        const cv = sizedArray<any>(count);
        this.#decodeBatch(keyView, valueView, count, ck, cv);
        keyChunks.push(ck);
        valueChunks.push(cv);
      }
      if (r === -ENOENT) break;
      first = false;
      const t = inTok; inTok = outTok; outTok = t;
    }
    if (keyChunks.length === 1) return { keys: keyChunks[0]!, values: valueChunks[0]! };
    return { keys: ([] as K[]).concat(...keyChunks), values: ([] as any[]).concat(...valueChunks) };
  }

  /**
   * Decodes `count` staged keys and values into `ks`/`vs` (index writes: they are pre-sized). u32
   * keys with t.u64num / t.u32 values, the common case, are read in one flat loop with no calls.
   */
  #decodeBatch(keyView: DataView, valueView: DataView, count: number, ks: K[], vs: any[]): void {
    const vk = this.perCpu ? 0 : this.#valKind;
    if (this.#keyKind === 1 && vk === 1) {
      for (let i = 0; i < count; i++) {
        ks[i] = keyView.getUint32(i * 4, true) as K;
        vs[i] = valueView.getUint32(i * 8, true) + valueView.getUint32(i * 8 + 4, true) * 4294967296;
      }
      return;
    }
    if (this.#keyKind === 1 && vk === 2) {
      for (let i = 0; i < count; i++) {
        ks[i] = keyView.getUint32(i * 4, true) as K;
        vs[i] = valueView.getUint32(i * 4, true);
      }
      return;
    }
    for (let i = 0; i < count; i++) {
      ks[i] = this.#keyKind === 1 ? keyView.getUint32(i * 4, true) as K : this.#key.decode(keyView, i * this.keySize);
      vs[i] = this.#decodeAt(valueView, i);
    }
  }

  #lookupEach(andDelete: boolean): BatchResult<K, any> {
    const keys = [...this.keys()];
    const out: BatchResult<K, any> = { keys: [], values: [] };
    for (const k of keys) {
      const v = andDelete ? this.lookupAndDelete(k) : this.lookup(k);
      if (v !== undefined) { out.keys.push(k); out.values.push(v); }
    }
    return out;
  }

  /** Reads every entry with BPF_MAP_LOOKUP_BATCH (per-element fallback where the kernel refuses). */
  lookupBatch(options: { batchSize?: number } = {}): BatchResult<K, any> {
    return this.#lookupBatchImpl(BPF_CMD.map_lookup_batch, options.batchSize ?? Math.min(this.maxEntries, 4096));
  }

  /** Reads and deletes every entry with BPF_MAP_LOOKUP_AND_DELETE_BATCH. */
  lookupAndDeleteBatch(options: { batchSize?: number } = {}): BatchResult<K, any> {
    return this.#lookupBatchImpl(BPF_CMD.map_lookup_and_delete_batch, options.batchSize ?? Math.min(this.maxEntries, 4096));
  }

  /** Writes many entries with BPF_MAP_UPDATE_BATCH; returns how many were written. */
  updateBatch(keys: K[], values: any[], flag: UpdateFlag = 'any'): number {
    this.#requireKeyed('updateBatch');
    if (!Array.isArray(keys) || !Array.isArray(values) || keys.length !== values.length) throw argError('updateBatch needs two arrays of the same length (keys, values)');
    const n = keys.length;
    if (n === 0) return 0;
    const { keys: kb, values: vb, keyView, valueView } = this.#batchBuffers(n);
    // Fast path for u32 keys and scalar values; the first element it cannot take goes through the
    // layouts below (same checks and messages as ever).
    let i0 = 0;
    if (this.#keyKind === 1 && !this.perCpu && this.#valKind !== 0) {
      const vsz = this.valueSize;
      for (; i0 < n; i0++) {
        const k = keys[i0];
        if (typeof k !== 'number' || (k >>> 0) !== k || !this.#putScalar(valueView, i0 * vsz, values[i0])) break;
        keyView.setUint32(i0 * 4, k, true);
      }
    }
    for (let i = i0; i < n; i++) {
      try {
        this.#key.encode(keys[i], keyView, i * this.keySize);
      } catch (e) { throw argError(`bad key [${i}] for ${this.#what()}: ${(e as Error).message.replace(/^tsbpf: /, '')}`); }
      try {
        if (this.perCpu) {
          const per = values[i];
          if (!Array.isArray(per) || per.length !== this.cpus) throw new TypeError(`per-CPU maps take an array of ${this.cpus} values`);
          for (let c = 0; c < this.cpus; c++) this.#value.encode(per[c], valueView, (i * this.cpus + c) * this.#stride);
        } else {
          this.#value.encode(values[i], valueView, i * this.valueSize);
        }
      } catch (e) { throw argError(`bad value [${i}] for ${this.#what()}: ${(e as Error).message.replace(/^tsbpf: /, '')}`); }
    }
    const a = new Attr(56);
    this.#batchAttr(a, undefined, undefined, kb, vb, n, UPDATE_FLAG[flag]);
    const r = bpfRaw(BPF_CMD.map_update_batch, a.bytes);
    if (r < 0) {
      if (r === -EINVAL || r === -ENOTSUPP || r === -EOPNOTSUPP) {
        const done = a.getU32(32);
        if (done === 0) { for (let i = 0; i < n; i++) this.update(keys[i]!, values[i], flag); return n; }
      }
      bpfFail(BPF_CMD.map_update_batch, r, this.#what(), `${a.getU32(32)} of ${n} entries were written`);
    }
    return a.getU32(32);
  }

  /** Deletes many keys with BPF_MAP_DELETE_BATCH; returns how many were deleted. */
  deleteBatch(keys: K[]): number {
    this.#requireKeyed('deleteBatch');
    if (!Array.isArray(keys)) throw argError('deleteBatch needs an array of keys');
    const n = keys.length;
    if (n === 0) return 0;
    const { keys: kb, keyView } = this.#batchBuffers(n);
    let i0 = 0;
    if (this.#keyKind === 1) {
      for (; i0 < n; i0++) {
        const k = keys[i0];
        if (typeof k !== 'number' || (k >>> 0) !== k) break;
        keyView.setUint32(i0 * 4, k, true);
      }
    }
    for (let i = i0; i < n; i++) {
      try { this.#key.encode(keys[i], keyView, i * this.keySize); } catch (e) { throw argError(`bad key [${i}] for ${this.#what()}: ${(e as Error).message.replace(/^tsbpf: /, '')}`); }
    }
    const a = new Attr(56);
    this.#batchAttr(a, undefined, undefined, kb, undefined, n);
    const r = bpfRaw(BPF_CMD.map_delete_batch, a.bytes);
    if (r < 0) {
      const done = a.getU32(32);
      if ((r === -EINVAL || r === -ENOTSUPP || r === -EOPNOTSUPP) && done === 0 && !this.type.includes('array')) {
        let d = 0;
        for (const k of keys) if (this.delete(k)) d++;
        return d;
      }
      bpfFail(BPF_CMD.map_delete_batch, r, this.#what(), `${done} of ${n} keys were deleted`);
    }
    return a.getU32(32);
  }

  // ---- lifecycle and metadata ----------------------------------------------------------------------

  /** Pins the map at `path` on bpffs (mounting /sys/fs/bpf if needed). */
  pin(path: string): void {
    preparePinPath(path);
    const p = cString(path);
    bpf(BPF_CMD.obj_pin, new Attr(24).ptr(0, p).u32(8, this.fd).bytes, `${this.#what()} → ${path}`);
  }

  /** Makes the map read-only for user space (BPF_MAP_FREEZE); programs can still write unless rdonly_prog. */
  freeze(): void {
    bpf(BPF_CMD.map_freeze, new Attr(4).u32(0, this.fd).bytes, this.#what());
  }

  /** Kernel metadata (BPF_OBJ_GET_INFO_BY_FD). */
  info(): MapInfo {
    return readMapInfo(this.fd, this.#what());
  }

  /**
   * Maps a BPF_F_MMAPABLE array into memory: returns a DataView over all values (value i at
   * i × round8(valueSize)), valid until close(), after which it is detached (reads throw).
   */
  mmap(options: { writable?: boolean } = {}): DataView {
    if (this.type !== 'array' || !(this.flags & MAP_FLAG.mmapable)) throw argError(`mmap needs an array created with flags ['mmapable'], not ${this.type}`);
    const stride = Math.ceil(this.valueSize / 8) * 8;
    const len = Math.ceil((stride * this.maxEntries) / native.pageSize) * native.pageSize;
    const writable = options.writable ?? !(this.flags & MAP_FLAG.rdonly);
    const r = native.mmap(this.fd, len, PROT.read | (writable ? PROT.write : 0), MAP_SHARED, 0);
    if (typeof r === 'number') throw new BpfError(-r, { syscall: 'mmap', object: this.#what(), hint: r === -1 ? 'a frozen map can only be mapped read-only' : undefined });
    this.#mmaps.push(r);
    return new DataView(r, 0, stride * this.maxEntries);
  }

  /** Closes the map fd and unmaps any mmap() views. Safe to call twice. */
  close(): void {
    for (const m of this.#mmaps.splice(0)) native.unmap(m);
    this.#owned.close();
  }

  [Symbol.dispose](): void {
    this.close();
  }

  toString(): string {
    return `BpfMap(${this.#what()}, key ${this.#key.describe}, value ${this.#value.describe}, ${this.maxEntries} entries)`;
  }
}

/**
 * An array for n results written by index. Pre-sized up to a bound: `new Array(n)` past V8's
 * preallocation limit would start in slow dictionary mode, so larger ones grow by appending.
 */
function sizedArray<T>(n: number): T[] {
  return n <= 32768 ? new Array<T>(n) : [];
}

function sizeOf(c: Codec<any> | undefined, explicit: number | undefined, what: string, dflt: number | undefined): number {
  if (c !== undefined) {
    if (typeof c === 'number') {
      if (!Number.isInteger(c) || c < 0) throw argError(`${what} size must be a non-negative integer, got ${c}`);
      return c;
    }
    if (!isLayout(c)) throw argError(`${what} must be a layout (t.u32, t.struct(...)) or a byte size`);
    if (explicit !== undefined && explicit !== c.size) throw argError(`${what}Size ${explicit} disagrees with the ${what} layout's size ${c.size}`);
    return c.size;
  }
  if (explicit !== undefined) {
    if (!Number.isInteger(explicit) || explicit < 0) throw argError(`${what}Size must be a non-negative integer, got ${explicit}`);
    return explicit;
  }
  if (dflt !== undefined) return dflt;
  throw argError(`give ${what} (a layout) or ${what}Size`);
}

function readMapInfo(fd: number, what: string): MapInfo {
  const info = new Uint8Array(96);
  const a = new Attr(16).u32(0, fd).u32(4, info.byteLength).ptr(8, info);
  bpf(BPF_CMD.obj_get_info_by_fd, a.bytes, what);
  const v = new DataView(info.buffer);
  const nameBytes = info.subarray(24, 40);
  const nul = nameBytes.indexOf(0);
  const typeId = v.getUint32(0, true);
  return {
    typeId,
    type: nameOf(MAP_TYPE, typeId),
    id: v.getUint32(4, true),
    keySize: v.getUint32(8, true),
    valueSize: v.getUint32(12, true),
    maxEntries: v.getUint32(16, true),
    flags: v.getUint32(20, true),
    name: Buffer.from(nameBytes.subarray(0, nul < 0 ? 16 : nul)).toString('utf8'),
    btfId: v.getUint32(64, true),
    mapExtra: v.getUint32(80, true) + v.getUint32(84, true) * 0x100000000,
  };
}

/** Sums per-CPU values without BigInt: scalars to a number, integer-field structs field by field. */
function sumPerCpu(view: DataView, cpus: number, stride: number, layout: Layout<any> | undefined, valueSize: number): any {
  const fields = layout && (layout as any).kind === 'struct' ? (layout as any).fields as Record<string, Layout<any>> : undefined;
  if (fields) {
    const out: Record<string, number> = {};
    const offsets = (layout as any).offsets as Record<string, number>;
    for (const n of Object.keys(fields)) {
      const f = fields[n]!;
      let s = 0;
      for (let c = 0; c < cpus; c++) s += readInt(view, c * stride + offsets[n]!, f.size, f.kind);
      out[n] = s;
    }
    return out;
  }
  const size = layout ? layout.size : valueSize;
  const kind = layout ? (layout as any).kind : 'u';
  let s = 0;
  for (let c = 0; c < cpus; c++) s += readInt(view, c * stride, size, kind);
  return s;
}

function readInt(view: DataView, off: number, size: number, kind: string): number {
  const signed = typeof kind === 'string' && kind.startsWith('i');
  switch (size) {
    case 1: return signed ? view.getInt8(off) : view.getUint8(off);
    case 2: return signed ? view.getInt16(off, true) : view.getUint16(off, true);
    case 4: return kind === 'f32' ? view.getFloat32(off, true) : signed ? view.getInt32(off, true) : view.getUint32(off, true);
    case 8: {
      if (kind === 'f64') return view.getFloat64(off, true);
      const lo = view.getUint32(off, true);
      const hi = signed ? view.getInt32(off + 4, true) : view.getUint32(off + 4, true);
      return hi * 4294967296 + lo;
    }
    default: throw argError(`sum() needs integer values (1, 2, 4 or 8 bytes), got ${size} bytes`);
  }
}
