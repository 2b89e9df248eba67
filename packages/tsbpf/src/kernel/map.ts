/**
 * BPF maps: `BpfMap.create(spec)` returns a class per kernel map type (`HashMap<K, V>`, `ArrayMap<V>`,
 * `PerCpuArray<V>`, `Queue<V>`, `RingBufMap`, `TaskStorage<V>`, ...), each exposing only the operations that
 * map type has, with keys and values typed by their layouts. `BpfMap` is the shared base: fd, metadata,
 * pin/freeze/info/close. Maps opened from the kernel (`fromPin`/`fromId`/`fromFd`) or loaded from an object
 * are instances of the right class at run time, typed `BpfMap`; narrow them with `HashMap.from(map, { key, value })`
 * or `map.as('hash', { key, value })`.
 */
import { isLayout, type Layout, t } from '../pure/layout.js';
import { MAP_FLAG, MAP_TYPE, type MapTypeName, nameOf, UPDATE_FLAG, type UpdateFlag, BPF_CMD } from '../pure/uapi.js';
import { resolveMapShape, STORAGE_MAP_TYPES, type MapSpec } from '../pure/map-spec.js';
import { BtfBuilder } from '../pure/btf-builder.js';
import { TsbpfError } from '../pure/errors.js';
import { BpfError } from './errors.js';
import { possibleCpus } from './cpus.js';
import { preparePinPath } from './fs-mounts.js';
import { MAP_SHARED, native, PROT } from './native.js';
import { loadRawBtf } from './btf-load.js';
import { Attr, argError, bpf, bpfFail, bpfRaw, cString, OwnedFd } from './syscall.js';

const ENOENT = 2;
const ENOSPC = 28;
const EINVAL = 22;
const ENOTSUPP = 524;
const EOPNOTSUPP = 95;
/** BPF_MAP_CREATE attr: map_extra at 64, the struct is 72 bytes up to map_token_fd; we zero up to 80. */
const MAP_CREATE_ATTR_SIZE = 80;

/** A key or value description: a layout (typed) or a byte size (raw Uint8Array). */
export type Codec<T> = Layout<T> | number;
/** What a key or value without a layout decodes to: its bytes. */
export type RawValue = Uint8Array;

/**
 * The options of `BpfMap.create`: the map's `MapSpec` (one type for hand-written maps and object maps).
 * @deprecated use `MapSpec`.
 */
export type MapCreateOptions<K = unknown, V = unknown> = MapSpec<K, V>;

/** Extra inputs to `BpfMap.create` that are not part of the (plain-data) spec. */
export interface MapCreateExtra {
  /**
   * A loaded BTF object holding `spec.keyTypeId`/`spec.valueTypeId` (the object loader passes its BTF).
   * Without it, storage maps get a minimal BTF of their own (an `int` key and a byte-array value).
   */
  btfFd?: number;
}

/** What BPF_OBJ_GET_INFO_BY_FD reports about a map. */
export interface MapInfo {
  type: MapTypeName;
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

/** The typed arrays that hold number-valued layouts in a `TypedBatchResult`. */
export type NumberArray =
  | Uint8Array
  | Uint16Array
  | Uint32Array
  | Int8Array
  | Int16Array
  | Int32Array
  | Float32Array
  | Float64Array;

/**
 * The typed array a `TypedBatchResult` uses for decoded type `T`: the layout picks it. t.u8/u16/u32,
 * t.i8/i16/i32, t.f32/f64 → the typed array of that element type; t.u64num → Float64Array (exact below
 * 2^53, like the layout); t.u64/t.i64 → BigUint64Array/BigInt64Array (no BigInt is made until you read
 * an element).
 */
export type TypedArrayFor<T> = [T] extends [number]
  ? NumberArray
  : [T] extends [bigint]
    ? BigUint64Array | BigInt64Array
    : never;

/**
 * A batch result for numeric maps: every key and value in one typed array each, in the kernel's
 * order, with no per-element JS objects (`lookupBatchTyped`). Key i goes with value i; per-CPU maps
 * hold `cpus` values per key: CPU c's value for key i is `values[i * cpus + c]`. The arrays are the
 * caller's (fresh copies, not views of a reused buffer).
 */
export interface TypedBatchResult<K, V> {
  /** Number of entries (keys.length). */
  readonly count: number;
  /** The keys, in the kernel's order (the key layout's typed array; Uint32Array for array indexes). */
  readonly keys: TypedArrayFor<K>;
  /** The values: `count` of them, or `count × cpus` for per-CPU maps (key i's CPU c at i × cpus + c). */
  readonly values: TypedArrayFor<V>;
}

/** Options of `lookupBatchTyped` / `lookupAndDeleteBatchTyped`. */
export interface TypedBatchOptions<K, V> {
  /** Elements per BPF_MAP_LOOKUP_BATCH call (default min(maxEntries, 4096)); the walk makes as many calls as it needs. */
  batchSize?: number;
  /**
   * Arrays to fill instead of allocating new ones (the zero-allocation way to read a map again and
   * again, like libbpf's caller-owned buffers): their element type must be the one the layout picks
   * (see `TypedArrayFor`), with room for every entry — `maxEntries` keys and `maxEntries × cpus`
   * values — else RangeError. The result's `keys`/`values` are then `subarray(0, …)` views of them.
   */
  into?: { keys: TypedArrayFor<K>; values: TypedArrayFor<V> };
}

/** How a numeric layout lands in a typed array: element constructor, and whether bytes copy as they are. */
interface TypedTarget {
  ctor: new (n: number) => NumberArray | BigUint64Array | BigInt64Array;
  /** 0: copy the bytes when slots are packed (else decode one by one); 1: u64num → Float64Array. */
  how: 0 | 1;
  size: number;
}

/** u64 values given as little-endian u32 halves, as numbers into out[at…at+n) (exact below 2^53; no BigInt). */
function u64HalvesToNumbers(halves: Uint32Array, out: Float64Array, at: number, n: number): void {
  for (let i = 0, j = 0; i < n; i++, j += 2) out[at + i] = halves[j]! + halves[j + 1]! * 4294967296;
}

/** The RangeError of a typed batch lookup whose `into` arrays cannot hold what the map returned. */
function intoTooSmall(op: string, entries: number, cpus: number): RangeError {
  return new RangeError(
    `tsbpf: ${op}: into arrays hold ${entries} entries, the map returned more (size them for maxEntries${cpus > 1 ? ' (values: maxEntries × cpus)' : ''})`,
  );
}

const TYPED_CTORS: Record<string, TypedTarget['ctor']> = {
  u8: Uint8Array,
  u16: Uint16Array,
  u32: Uint32Array,
  i8: Int8Array,
  i16: Int16Array,
  i32: Int32Array,
  f32: Float32Array,
  f64: Float64Array,
  u64: BigUint64Array,
  i64: BigInt64Array,
  u64num: Float64Array,
};

/**
 * A layout that decodes to `T`. Map signatures take layouts through this type so that `T` is inferred from
 * what `decode` returns alone (`t.u64` also encodes numbers, but decodes to bigint: its maps hold bigints).
 */
export type DecodesTo<T> = Omit<Layout<any>, 'decode'> & { decode(view: DataView, offset?: number): T };

/** Key/value layouts for a typed view of an existing map (`HashMap.from(map, { key, value })`). */
export interface MapCodecs<K, V> {
  key?: DecodesTo<K>;
  value?: DecodesTo<V>;
}

/** A map's kernel type is not the one a typed view asked for (`HashMap.from(arrayMap)`). */
export class MapTypeError extends TsbpfError {
  override name = 'MapTypeError';
  readonly code = 'ERR_MAP_TYPE';
}

/** Anything with a program fd (a `Program`), or the fd itself. */
export type ProgramRef = number | { readonly fd: number };

const NO_KEY_TYPES = new Set<string>(['ringbuf', 'user_ringbuf', 'queue', 'stack', 'bloom_filter', 'arena']);
const PERCPU_TYPES = new Set<string>(['percpu_hash', 'percpu_array', 'lru_percpu_hash', 'percpu_cgroup_storage']);
/** Types whose max_entries is 0 by definition (one value per task/socket/inode/cgroup, or per attachment). */
const ZERO_ENTRIES_TYPES = new Set<string>([...STORAGE_MAP_TYPES, 'cgroup_storage', 'percpu_cgroup_storage']);

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
    encode(v: unknown, view, off) {
      if (v instanceof Uint8Array) {
        if (v.length !== size) throw argError(`${what} must be ${size} bytes, got ${v.length}`);
        new Uint8Array(view.buffer, view.byteOffset + off, size).set(v);
        return;
      }
      if (typeof v === 'number' || typeof v === 'bigint') {
        const n = BigInt(v);
        if (size === 8) {
          if (n < -(1n << 63n) || n >= 1n << 64n) throw argError(`${what} ${v} does not fit in 8 bytes`);
          view.setBigUint64(off, BigInt.asUintN(64, n), true);
          return;
        }
        if (size === 4) {
          if (n < -(1n << 31n) || n >= 1n << 32n) throw argError(`${what} ${v} does not fit in 4 bytes`);
          view.setUint32(off, Number(BigInt.asUintN(32, n)), true);
          return;
        }
        if (size === 2) {
          if (n < -32768n || n >= 65536n) throw argError(`${what} ${v} does not fit in 2 bytes`);
          view.setUint16(off, Number(BigInt.asUintN(16, n)), true);
          return;
        }
        if (size === 1) {
          if (n < -128n || n >= 256n) throw argError(`${what} ${v} does not fit in 1 byte`);
          view.setUint8(off, Number(BigInt.asUintN(8, n)));
          return;
        }
      }
      throw argError(
        `${what} must be a Uint8Array of ${size} bytes${[1, 2, 4, 8].includes(size) ? ' or a number' : ''}, got ${v === null ? 'null' : typeof v}`,
      );
    },
    decode(view, off) {
      return new Uint8Array(view.buffer.slice(view.byteOffset + off, view.byteOffset + off + size));
    },
  };
}

function layoutCodec<T>(l: Layout<T>): RawCodec<T> {
  return {
    size: l.size,
    describe: String(l),
    encode: (v, view, off) => l.encode(v, view, off),
    decode: (view, off) => l.decode(view, off),
  };
}

const NAME_RE = /^[A-Za-z0-9_.]{0,15}$/;

/** The fd and mmaps of one kernel map, shared by every typed view of it. */
export interface MapCore {
  readonly owned: OwnedFd;
  readonly mmaps: ArrayBuffer[];
}

/** What a map class is constructed from (internal: use `BpfMap.create`, `from*` or `<Class>.from`). */
export interface MapInit {
  core: MapCore;
  type: MapTypeName;
  keySize: number;
  valueSize: number;
  maxEntries: number;
  flags: number;
  name: string;
  key: Layout<any> | undefined;
  value: Layout<any> | undefined;
}

type MapCtor = new (init: MapInit) => BpfMap;

// Filled in by BpfMap's static block (they reach its private state); used by the typed classes and the loader.
let makeView: (map: BpfMap, ctor: MapCtor, codecs: MapCodecs<any, any> | undefined) => BpfMap;
let rawUpdate: (map: BpfMap, key: number | Uint8Array, value: Uint8Array) => void;

/**
 * The classes `BpfMap.create` returns, by map type. Types without a class of their own (devmap, sockmap,
 * xskmap, cpumap, stack_trace, cgroup_array, ...) get `GenericMap<K, V>`.
 */
export interface MapClasses<K, V> {
  hash: HashMap<K, V>;
  lru_hash: LruHash<K, V>;
  array: ArrayMap<V>;
  percpu_array: PerCpuArray<V>;
  percpu_hash: PerCpuHash<K, V>;
  lru_percpu_hash: LruPerCpuHash<K, V>;
  lpm_trie: LpmTrie<K, V>;
  queue: Queue<V>;
  stack: Stack<V>;
  bloom_filter: BloomFilter<V>;
  ringbuf: RingBufMap;
  perf_event_array: PerfEventArray;
  prog_array: ProgArray;
  array_of_maps: ArrayOfMaps;
  hash_of_maps: HashOfMaps<K>;
  task_storage: TaskStorage<V>;
  sk_storage: SkStorage<V>;
  inode_storage: InodeStorage<V>;
  cgrp_storage: CgrpStorage<V>;
}

/** The class for map type `T` with key `K` and value `V` (see `MapClasses`). */
export type MapOf<T extends MapTypeName, K = unknown, V = unknown> = T extends keyof MapClasses<K, V>
  ? MapClasses<K, V>[T]
  : GenericMap<K, V>;

/**
 * A BPF map: the base of every map class. It holds the fd and the kernel's description of the map, and
 * pins, freezes, reports and closes it; the element operations live on the typed classes
 * (`HashMap`, `ArrayMap`, `PerCpuArray`, `Queue`, ...), which `BpfMap.create` returns by `type`.
 *
 * ```ts
 * using counts = BpfMap.create({ type: 'hash', key: t.u32, value: t.u64, maxEntries: 256 }); // HashMap<number, bigint>
 * counts.update(6, 1n);
 * counts.lookup(6); // 1n
 * ```
 *
 * Maps from the kernel or an object are typed `BpfMap` (their class is right at run time): narrow them with
 * `HashMap.from(map, { key: t.u32, value: t.u64 })` (throws `MapTypeError` for another kernel type) or
 * `map.as('hash', { key: t.u32, value: t.u64 })`.
 */
export class BpfMap {
  readonly #core: MapCore;
  readonly #owned: OwnedFd;
  /** Map type name ('hash', 'array', 'ringbuf', ...). */
  readonly type: MapTypeName;
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
  readonly #keyLayout: Layout<any> | undefined;
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

  static {
    makeView = (map, ctor, codecs) => map.#view(ctor, codecs);
    rawUpdate = (map, key, value) => map.#rawUpdate(key, value);
  }

  /** Internal: maps come from `BpfMap.create`, `BpfMap.from*`, `<Class>.from` or the object loader. */
  constructor(init: MapInit) {
    if (!init || typeof init !== 'object' || !init.core)
      throw argError('maps are made by BpfMap.create(spec), BpfMap.fromPin/fromId/fromFd or <MapClass>.from(map)');
    const { type, keySize, valueSize, fd } = { ...init, fd: init.core.owned.fd };
    this.#core = init.core;
    this.#owned = init.core.owned;
    this.type = type;
    this.keySize = keySize;
    this.valueSize = valueSize;
    this.maxEntries = init.maxEntries;
    this.flags = init.flags;
    this.name = init.name;
    this.perCpu = PERCPU_TYPES.has(type);
    this.cpus = this.perCpu ? possibleCpus() : 1;
    const key = init.key;
    this.#keyLayout = key;
    this.#key = key ? layoutCodec(key) : rawCodec(keySize, 'key');
    this.#valueLayout = init.value;
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
    if (keySize === 4 && key !== undefined && key.kind === 'u32') this.#keyKind = 1;
    const vk = this.#valueLayout?.kind;
    this.#valKind = vk === 'u64num' ? 1 : vk === 'u32' ? 2 : 0;
  }

  /**
   * Creates a map (BPF_MAP_CREATE) from its spec and returns the class for its type: `HashMap<K, V>` for
   * 'hash', `ArrayMap<V>` for 'array', `PerCpuArray<V>` for 'percpu_array', ... (see `MapClasses`). K and V
   * come from the `key`/`value` layouts; without one, keys/values are bytes (`Uint8Array`).
   *
   * Arguments are checked before any syscall. libbpf's defaults apply: 4-byte key/value for
   * perf_event_array/prog_array/map-in-map, possible CPUs for a perf_event_array with `maxEntries: 0`,
   * ringbuf sizes rounded up to a page-aligned power of two. Storage maps (task/sk/inode/cgrp_storage) take
   * `maxEntries: 0`, get BPF_F_NO_PREALLOC and a minimal BTF when none is given. Map-in-map types create a
   * template from `spec.innerMap` for the call and close it. `contents` and `pinning` are the loader's: ignored here.
   */
  static create<T extends MapTypeName, K = RawValue, V = RawValue>(
    spec: MapSpec<any, any> & { type: T; key?: DecodesTo<K>; value?: DecodesTo<V> },
    extra?: MapCreateExtra,
  ): MapOf<T, K, V>;
  static create(spec: MapSpec<any, any>, extra: MapCreateExtra = {}): BpfMap {
    if (!spec || typeof spec !== 'object') throw argError('BpfMap.create needs a map spec object');
    const type = spec.type;
    const typeId = (MAP_TYPE as Record<string, number>)[type];
    if (typeId === undefined)
      throw argError(`unknown map type "${String(type)}" (known: ${Object.keys(MAP_TYPE).join(', ')})`);
    for (const what of ['key', 'value'] as const) {
      const l = spec[what];
      if (l === undefined) continue;
      if (!isLayout(l))
        throw argError(`${what} must be a layout (t.u32, t.struct(...)); give ${what}Size for raw bytes`);
      const explicit = spec[`${what}Size`];
      if (explicit !== undefined && explicit !== 0 && explicit !== l.size)
        throw argError(`${what}Size ${explicit} disagrees with the ${what} layout's size ${l.size}`);
    }
    for (const what of ['keySize', 'valueSize', 'maxEntries'] as const) {
      const n = spec[what];
      if (n !== undefined && (!Number.isInteger(n) || n < 0 || n > 0xffffffff))
        throw argError(`${what} must be a non-negative integer, got ${String(n)}`);
    }
    if (spec.maxEntries === undefined)
      throw argError('maxEntries is required (0 for storage maps and for a perf_event_array of possible CPUs)');
    const storage = STORAGE_MAP_TYPES.has(type);
    const shape = resolveMapShape(spec, { possibleCpus: possibleCpus(), pageSize: native.pageSize });
    const keySize = storage ? shape.keySize || 4 : shape.keySize;
    const valueSize = shape.valueSize;
    const maxEntries = shape.maxEntries;
    const noKey = NO_KEY_TYPES.has(type);
    if (noKey && keySize !== 0) throw argError(`${type} maps have no key (keySize must be 0)`);
    if (!noKey && keySize <= 0) throw argError(`${type} maps need a key: give key (a layout) or keySize > 0`);
    if (type === 'ringbuf' || type === 'user_ringbuf') {
      if (valueSize !== 0) throw argError(`${type} maps have no value (valueSize must be 0)`);
      if (maxEntries === 0)
        throw argError(
          `${type} maxEntries is the ring size in bytes (rounded up to a power of two ≥ ${native.pageSize})`,
        );
    } else if (valueSize <= 0 && type !== 'arena') {
      throw argError(`${type} maps need a value: give value (a layout) or valueSize > 0`);
    }
    if (storage && maxEntries !== 0)
      throw argError(`${type} maps take maxEntries 0 (the kernel keeps one value per owner), got ${maxEntries}`);
    if (maxEntries === 0 && !ZERO_ENTRIES_TYPES.has(type))
      throw argError(`maxEntries must be a positive integer for ${type} maps, got 0`);
    const name = spec.name ?? '';
    if (typeof name !== 'string' || !NAME_RE.test(name))
      throw argError(`map name "${String(name)}" must be at most 15 characters of [A-Za-z0-9_.]`);
    let flags = spec.flags ?? 0;
    if (!Number.isInteger(flags) || flags < 0)
      throw argError(`flags must be a BPF_F_* mask (see MAP_FLAG), got ${String(flags)}`);
    if (type === 'lpm_trie' || storage) flags |= MAP_FLAG.no_prealloc; // the kernel requires it
    const mapInMap = type === 'array_of_maps' || type === 'hash_of_maps';
    if (mapInMap && !spec.innerMap) throw argError(`${type} needs innerMap (the spec of its inner maps)`);
    const a = new Attr(MAP_CREATE_ATTR_SIZE)
      .u32(0, typeId)
      .u32(4, keySize)
      .u32(8, valueSize)
      .u32(12, maxEntries)
      .u32(16, flags)
      .u32(24, spec.numaNode ?? 0)
      .name(28, name);
    if (spec.mapExtra) a.u64(64, spec.mapExtra);
    let inner: BpfMap | undefined;
    let ownBtf: OwnedFd | undefined;
    try {
      if (mapInMap) {
        inner = spec.innerMap instanceof BpfMap ? undefined : BpfMap.create(spec.innerMap!, extra);
        a.u32(20, spec.innerMap instanceof BpfMap ? spec.innerMap.fd : inner!.fd);
      }
      if (extra.btfFd !== undefined && spec.valueTypeId !== undefined) {
        a.u32(48, extra.btfFd)
          .u32(52, spec.keyTypeId ?? 0)
          .u32(56, spec.valueTypeId);
      } else if (storage) {
        ownBtf = storageBtf(valueSize);
        a.u32(48, ownBtf.fd).u32(52, STORAGE_BTF_KEY_ID).u32(56, STORAGE_BTF_VALUE_ID);
      }
      const fd = bpf(
        BPF_CMD.map_create,
        a.bytes,
        `map "${name || '(unnamed)'}" (${type}, key ${keySize}, value ${valueSize}, ${maxEntries} entries)`,
      );
      return construct({ fd, type, keySize, valueSize, maxEntries, flags, name }, spec.key, spec.value);
    } finally {
      inner?.close();
      ownBtf?.close();
    }
  }

  /**
   * Opens a map pinned at `path` on bpffs. The result is the class of its kernel type, typed `BpfMap`:
   * narrow it with `HashMap.from(map, { key, value })` or `map.as('hash', { key, value })`. Layouts given
   * here are checked against the kernel's sizes.
   */
  static fromPin(path: string, codecs?: MapCodecs<unknown, unknown>): BpfMap {
    preparePinPath(path);
    const p = cString(path);
    const a = new Attr(24).ptr(0, p);
    const fd = bpf(BPF_CMD.obj_get, a.bytes, `pinned map ${path}`);
    return BpfMap.#fromFd(fd, codecs);
  }

  /** Opens a map by its kernel id (BPF_MAP_GET_FD_BY_ID); see `fromPin` for the result's type. */
  static fromId(id: number, codecs?: MapCodecs<unknown, unknown>): BpfMap {
    const a = new Attr(12).u32(0, id);
    const fd = bpf(BPF_CMD.map_get_fd_by_id, a.bytes, `map id ${id}`);
    return BpfMap.#fromFd(fd, codecs);
  }

  /** Wraps an existing map fd (takes ownership); see `fromPin` for the result's type. */
  static fromFd(fd: number, codecs?: MapCodecs<unknown, unknown>): BpfMap {
    return BpfMap.#fromFd(fd, codecs);
  }

  static #fromFd(fd: number, codecs?: MapCodecs<unknown, unknown>): BpfMap {
    let info: MapInfo;
    try {
      info = readMapInfo(fd, `map fd ${fd}`);
      checkCodecs(codecs, info.keySize, info.valueSize, info.type);
    } catch (e) {
      native.close(fd);
      throw e;
    }
    return construct(
      {
        fd,
        type: info.type,
        keySize: info.keySize,
        valueSize: info.valueSize,
        maxEntries: info.maxEntries,
        flags: info.flags,
        name: info.name,
      },
      codecs?.key,
      codecs?.value,
    );
  }

  /**
   * A typed view of this map as map type `type` (the kernel's type must be exactly that, else
   * `MapTypeError`). With layouts, a new view sharing this map's fd (closing either closes both);
   * without, this map itself.
   *
   * ```ts
   * const counts = obj.map('counts').as('hash', { key: t.u32, value: t.u64 }); // HashMap<number, bigint>
   * ```
   */
  as<T extends MapTypeName, K = unknown, V = unknown>(type: T, codecs?: MapCodecs<K, V>): MapOf<T, K, V> {
    if (this.type !== type) throw new MapTypeError(`tsbpf: ${this.#what()} is a ${this.type} map, not ${String(type)}`);
    return typedView(this, classOf(type), codecs) as MapOf<T, K, V>;
  }

  #view(ctor: MapCtor, codecs: MapCodecs<any, any> | undefined): BpfMap {
    void this.#owned.fd; // throws once closed
    checkCodecs(codecs, this.keySize, this.valueSize, this.type);
    return new ctor({
      core: this.#core,
      type: this.type,
      keySize: this.keySize,
      valueSize: this.valueSize,
      maxEntries: this.maxEntries,
      flags: this.flags,
      name: this.name,
      key: codecs?.key ?? this.#keyLayout ?? defaultKey(this.type, this.keySize),
      value: codecs?.value ?? this.#valueLayout ?? defaultValue(this.type, this.valueSize),
    });
  }

  /** Writes raw key/value bytes (the loader's initial contents), whatever the layouts. */
  #rawUpdate(key: number | Uint8Array, value: Uint8Array): void {
    void this.#owned.fd;
    if (typeof key === 'number') {
      if (this.keySize !== 4 || key >>> 0 !== key)
        throw argError(`${this.#what()}: a numeric key needs a 4-byte key, got ${key} for ${this.keySize} bytes`);
      this.#keyView.setUint32(0, key, true);
    } else {
      if (key.length !== this.keySize)
        throw argError(`${this.#what()}: key must be ${this.keySize} bytes, got ${key.length}`);
      this.#keyBuf.set(key);
    }
    const want = this.perCpu ? this.#stride * this.cpus : this.valueSize;
    if (value.length !== want && !(this.perCpu && value.length === this.valueSize))
      throw argError(`${this.#what()}: value must be ${want} bytes, got ${value.length}`);
    this.#valBuf.fill(0);
    if (this.perCpu && value.length === this.valueSize)
      for (let c = 0; c < this.cpus; c++) this.#valBuf.set(value, c * this.#stride);
    else this.#valBuf.set(value);
    this.#updateAttrView.setUint32(24, 0, true);
    const r = bpfRaw(BPF_CMD.map_update_elem, this.#updateAttr);
    if (r < 0) bpfFail(BPF_CMD.map_update_elem, r, this.#what());
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

  #encodeKey(key: unknown): void {
    // (key >>> 0) === key: an integer in [0, 2^32), in one comparison.
    if (this.#keyKind === 1 && typeof key === 'number' && key >>> 0 === key) {
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
        if (!Array.isArray(vals) || vals.length !== this.cpus)
          throw new TypeError(`tsbpf: per-CPU maps take an array of ${this.cpus} values (one per possible CPU)`);
        // Zero the padding between per-CPU slots (and inside layouts that leave holes).
        if (this.#valKind === 0 || this.#stride !== this.valueSize) this.#valBuf.fill(0);
        for (let c = 0; c < this.cpus; c++) {
          if (!this.#putScalar(this.#valView, c * this.#stride, vals[c]))
            this.#value.encode(vals[c], this.#valView, c * this.#stride);
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
      if (v >>> 0 !== v) return false;
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
    if (this.keySize === 0)
      throw argError(
        `${op} needs a keyed map; ${this.type} maps use push/pop/peek${this.type === 'ringbuf' ? ' (or a RingBuffer reader)' : ''}`,
      );
  }

  /** The value for `key`, or undefined when absent. Per-CPU maps return one value per CPU. */
  protected lookup(key: unknown): any {
    void this.#owned.fd; // throws once closed: a prebuilt attr must never reach a reused fd number
    if (this.keySize === 0) this.#requireKeyed('lookup');
    this.#encodeKey(key);
    const r = bpfRaw(BPF_CMD.map_lookup_elem, this.#keyValAttr);
    if (r === -ENOENT) return undefined;
    if (r < 0) bpfFail(BPF_CMD.map_lookup_elem, r, this.#what());
    return this.#decodeValue();
  }

  /** Sets `key` to `value`. flag: 'any' (default), 'noexist' (create only), 'exist' (update only). */
  protected update(key: unknown, value: unknown, flag: UpdateFlag = 'any'): void {
    void this.#owned.fd;
    if (this.keySize === 0) this.#requireKeyed('update');
    const f = flag === 'any' ? 0 : UPDATE_FLAG[flag];
    if (f === undefined) throw argError(`update flag must be any, noexist, exist or lock, got ${String(flag)}`);
    this.#encodeKey(key);
    this.#encodeValue(value);
    this.#updateAttrView.setUint32(24, f, true);
    const r = bpfRaw(BPF_CMD.map_update_elem, this.#updateAttr);
    if (r < 0)
      bpfFail(
        BPF_CMD.map_update_elem,
        r,
        this.#what(),
        r === -17
          ? 'the key exists (flag noexist)'
          : r === -ENOENT && flag === 'exist'
            ? 'the key does not exist (flag exist)'
            : r === -7
              ? 'the map is full (E2BIG)'
              : undefined,
      );
  }

  /** Deletes `key`; returns false when it was absent. */
  protected delete(key: unknown): boolean {
    void this.#owned.fd;
    if (this.keySize === 0) this.#requireKeyed('delete');
    this.#encodeKey(key);
    const r = bpfRaw(BPF_CMD.map_delete_elem, this.#keyOnlyAttr);
    if (r === -ENOENT) return false;
    if (r < 0)
      bpfFail(
        BPF_CMD.map_delete_elem,
        r,
        this.#what(),
        r === -EINVAL && this.type.includes('array') ? 'array elements cannot be deleted' : undefined,
      );
    return true;
  }

  /** Removes and returns the value for `key` (hash maps), or pops (queue/stack). */
  protected lookupAndDelete(key?: unknown): any {
    const keyed = this.keySize > 0;
    if (keyed) this.#encodeKey(key);
    const r = this.#elem(BPF_CMD.map_lookup_and_delete_elem, keyed, this.#valBuf, 0);
    if (r === -ENOENT) return undefined;
    if (r < 0) bpfFail(BPF_CMD.map_lookup_and_delete_elem, r, this.#what());
    return this.#decodeValue();
  }

  /** Queue/stack/bloom filter: push a value. */
  protected push(value: unknown, flag: 'any' | 'exist' = 'any'): void {
    if (this.keySize !== 0) throw argError(`push is for queue, stack and bloom_filter maps, not ${this.type}`);
    this.#encodeValue(value);
    const r = this.#elem(BPF_CMD.map_update_elem, false, this.#valBuf, UPDATE_FLAG[flag]);
    if (r < 0)
      bpfFail(
        BPF_CMD.map_update_elem,
        r,
        this.#what(),
        r === -7 ? 'the map is full; push with flag "exist" overwrites the oldest' : undefined,
      );
  }

  /** Queue/stack: remove and return the next value, or undefined when empty. */
  protected pop(): any {
    if (this.keySize !== 0) throw argError(`pop is for queue and stack maps, not ${this.type}`);
    return this.lookupAndDelete();
  }

  /** Queue/stack: the next value without removing it. */
  protected peek(): any {
    if (this.keySize !== 0) throw argError(`peek is for queue and stack maps, not ${this.type}`);
    const r = this.#elem(BPF_CMD.map_lookup_elem, false, this.#valBuf, 0);
    if (r === -ENOENT) return undefined;
    if (r < 0) bpfFail(BPF_CMD.map_lookup_elem, r, this.#what());
    return this.#decodeValue();
  }

  /** Bloom filter: true when `value` may be in the set, false when it certainly is not. */
  protected has(value: unknown): boolean {
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
  protected sum(key: unknown): any {
    if (!this.perCpu) throw argError(`sum() is for per-CPU maps, not ${this.type}`);
    void this.#owned.fd;
    this.#encodeKey(key);
    const r = bpfRaw(BPF_CMD.map_lookup_elem, this.#keyValAttr);
    if (r === -ENOENT) return undefined;
    if (r < 0) bpfFail(BPF_CMD.map_lookup_elem, r, this.#what());
    return sumPerCpu(this.#valView, this.cpus, this.#stride, this.#valueLayout, this.valueSize);
  }

  /** The key after `key` (or the first key when undefined); undefined at the end. */
  protected nextKey(key?: unknown): any {
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
  protected *keys(): IterableIterator<any> {
    this.#requireKeyed('keys');
    let cur = this.nextKey();
    let n = 0;
    const bound = this.maxEntries * 2 + 16;
    while (cur !== undefined && n++ < bound) {
      let next: unknown;
      try {
        next = this.nextKey(cur);
      } catch (e) {
        if (e instanceof BpfError && e.code === 'ENOENT') next = undefined;
        else throw e;
      }
      yield cur;
      cur = next;
    }
  }

  /** Iterates [key, value] pairs, skipping keys deleted between the key walk and the lookup. */
  protected *entries(): IterableIterator<[any, any]> {
    for (const k of this.keys()) {
      const v = this.lookup(k);
      if (v !== undefined) yield [k, v];
    }
  }

  protected [Symbol.iterator](): IterableIterator<[any, any]> {
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

  #batchAttr(
    a: Attr,
    inBatch: Uint8Array | undefined,
    outBatch: Uint8Array | undefined,
    keys: Uint8Array,
    values: Uint8Array | undefined,
    count: number,
    elemFlags = 0,
  ): void {
    a.reset()
      .ptr(0, inBatch)
      .ptr(8, outBatch)
      .ptr(16, keys)
      .ptr(24, values)
      .u32(32, count)
      .u32(36, this.fd)
      .u64(40, elemFlags);
  }

  #decodeAt(view: DataView, i: number): any {
    const base = i * this.#stride * this.cpus;
    if (!this.perCpu) return this.#decodeOne(view, base);
    const out = new Array(this.cpus);
    for (let c = 0; c < this.cpus; c++) out[c] = this.#decodeOne(view, base + c * this.#stride);
    return out;
  }

  /**
   * Runs BPF_MAP_LOOKUP(_AND_DELETE)_BATCH over the whole map in calls of up to `size` elements;
   * `onChunk(count)` reads each call's `count` staged elements before the next call reuses the
   * buffers. False when the kernel refuses batch lookups for this map (nothing was read then).
   */
  #batchWalk(
    cmd: number,
    size: number,
    keys: Uint8Array,
    values: Uint8Array,
    onChunk: (count: number) => void,
  ): boolean {
    const w = this.#batchWalkState();
    const a = w.attr;
    let first = true;
    let inTok = w.tokA;
    let outTok = w.tokB;
    for (;;) {
      this.#batchAttr(a, first ? undefined : inTok, outTok, keys, values, size);
      const r = bpfRaw(cmd, a.bytes);
      const count = a.getU32(32);
      if (r < 0 && r !== -ENOENT) {
        if (first && (r === -EINVAL || r === -ENOTSUPP || r === -EOPNOTSUPP)) return false;
        bpfFail(cmd, r, this.#what());
      }
      if (count > 0) onChunk(count);
      if (r === -ENOENT) return true;
      first = false;
      const t = inTok;
      inTok = outTok;
      outTok = t;
    }
  }

  /**
   * The zero-copy walk behind `lookupBatchTyped({ into })` when the caller's typed arrays have the
   * kernel's element layout (numeric keys; values of the typed array's element size, or t.u64num):
   * every call's keys and values land straight in `ik`/`iv` from the next free element on, so there
   * is no staging buffer and no copy, as with libbpf's caller-owned buffers. t.u64num values arrive
   * as u64s in the Float64Array's own bytes and become numbers in place (same 8 bytes per element).
   * Returns the number of entries read, or -1 when the kernel refuses batch lookups (nothing read).
   */
  #batchWalkDirect(
    cmd: number,
    op: string,
    size: number,
    ik: NumberArray | BigUint64Array | BigInt64Array,
    iv: any,
    u64num: boolean,
  ): number {
    const per = this.cpus;
    const vslot = this.#stride * per; // bytes of one entry's value(s)
    const cap = Math.min(ik.length, Math.floor(iv.length / per));
    const tooSmall = () => intoTooSmall(op, cap, per);
    const w = this.#batchWalkState();
    const a = w.attr;
    let first = true;
    let inTok = w.tokA;
    let outTok = w.tokB;
    let at = 0;
    for (;;) {
      const want = Math.min(size, cap - at);
      let kb: Uint8Array;
      let vb: Uint8Array;
      if (want === 0) {
        // The arrays are full: one more call into the staging buffers tells whether the map holds more.
        const st = this.#batchBuffers(size);
        kb = st.keys;
        vb = st.values;
      } else {
        kb = new Uint8Array(ik.buffer, ik.byteOffset + at * this.keySize, want * this.keySize);
        vb = new Uint8Array(iv.buffer, iv.byteOffset + at * vslot, want * vslot);
      }
      this.#batchAttr(a, first ? undefined : inTok, outTok, kb, vb, want === 0 ? size : want);
      const r = bpfRaw(cmd, a.bytes);
      const count = a.getU32(32);
      if (r < 0 && r !== -ENOENT) {
        if (first && (r === -EINVAL || r === -ENOTSUPP || r === -EOPNOTSUPP)) return -1;
        if (r === -ENOSPC && want < size) throw tooSmall(); // a hash bucket did not fit in what was left
        bpfFail(cmd, r, this.#what());
      }
      if (count > 0) {
        if (want === 0) throw tooSmall();
        if (u64num) {
          const base = at * per;
          const n = count * per;
          // In place: element i's two halves are read before its 8 bytes are overwritten.
          u64HalvesToNumbers(new Uint32Array(iv.buffer, iv.byteOffset + base * 8, n * 2), iv, base, n);
        }
        at += count;
      }
      if (r === -ENOENT) return at;
      first = false;
      const t = inTok;
      inTok = outTok;
      outTok = t;
    }
  }

  #walkState: { attr: Attr; tokA: Uint8Array; tokB: Uint8Array } | undefined;

  /** The bpf_attr and the two batch tokens of a walk, reused across calls (nothing allocated per walk). */
  #batchWalkState(): { attr: Attr; tokA: Uint8Array; tokB: Uint8Array } {
    return (this.#walkState ??= {
      attr: new Attr(56),
      tokA: new Uint8Array(Math.max(this.keySize, 8)),
      tokB: new Uint8Array(Math.max(this.keySize, 8)),
    });
  }

  #batchOpAttr: Attr | undefined;

  /** The bpf_attr of updateBatch and deleteBatch, reused across calls (a walk keeps its own: it may be paused). */
  #batchOpAttrOnce(): Attr {
    return (this.#batchOpAttr ??= new Attr(56));
  }

  #batchSize(batchSize: number): number {
    return Math.max(1, Math.min(batchSize, this.maxEntries));
  }

  #lookupBatchImpl(cmd: number, batchSize: number): BatchResult<any, any> {
    this.#requireKeyed('lookupBatch');
    const size = this.#batchSize(batchSize);
    const { keys, values, keyView, valueView } = this.#batchBuffers(size);
    // Decoded chunks, one per call; usually a single chunk is returned as is.
    const keyChunks: unknown[][] = [];
    const valueChunks: any[][] = [];
    const ok = this.#batchWalk(cmd, size, keys, values, (count) => {
      const ck = sizedArray<unknown>(count);
      const cv = sizedArray<any>(count);
      this.#decodeBatch(keyView, valueView, count, ck, cv);
      keyChunks.push(ck);
      valueChunks.push(cv);
    });
    if (!ok) return this.#lookupEach(cmd === BPF_CMD.map_lookup_and_delete_batch);
    if (keyChunks.length === 1) return { keys: keyChunks[0]!, values: valueChunks[0]! };
    return { keys: ([] as unknown[]).concat(...keyChunks), values: ([] as any[]).concat(...valueChunks) };
  }

  /** Where a numeric layout's elements go in a typed batch result; throws for other layouts. */
  #typedTarget(layout: Layout<any> | undefined, what: 'key' | 'value', op: string): TypedTarget {
    const kind = layout?.kind;
    const ctor = kind === undefined ? undefined : TYPED_CTORS[kind];
    if (layout === undefined || ctor === undefined) {
      throw argError(
        `${op} needs numeric ${what}s (t.u8…t.u32, t.i8…t.i32, t.f32, t.f64, t.u64, t.i64, t.u64num); ${this.#what()} has ${what} ${layout ? String(layout) : `${what === 'key' ? this.keySize : this.valueSize} raw bytes`}: use ${op.replace('Typed', '')}`,
      );
    }
    return { ctor, how: kind === 'u64num' ? 1 : 0, size: layout.size };
  }

  /**
   * Copies `count` staged elements of `size`-byte slots `stride` bytes apart into `out` from
   * element `at` on: a memcpy when the slots are packed, else one element at a time.
   */
  #typedCopy(
    target: TypedTarget,
    layout: Layout<any>,
    staged: Uint8Array,
    view: DataView,
    count: number,
    stride: number,
    out: any,
    at: number,
  ): void {
    const size = target.size;
    if (target.how === 1) {
      // u64num: two u32 halves per element, read through a Uint32Array (stride is 8 here).
      u64HalvesToNumbers(new Uint32Array(staged.buffer, staged.byteOffset, count * 2), out, at, count);
      return;
    }
    if (stride === size) {
      new Uint8Array(out.buffer, out.byteOffset + at * size, count * size).set(staged.subarray(0, count * size));
      return;
    }
    for (let i = 0; i < count; i++) out[at + i] = layout.decode(view, i * stride);
  }

  #lookupBatchTypedImpl(
    cmd: number,
    batchSize: number,
    into?: { keys: unknown; values: unknown },
  ): TypedBatchResult<any, any> {
    const op = cmd === BPF_CMD.map_lookup_and_delete_batch ? 'lookupAndDeleteBatchTyped' : 'lookupBatchTyped';
    this.#requireKeyed(op);
    const kt = this.#typedTarget(this.#keyLayout, 'key', op);
    const vt = this.#typedTarget(this.#valueLayout, 'value', op);
    const per = this.cpus;
    const stride = this.#stride; // one CPU's slot (valueSize for non-per-CPU maps)
    if (vt.how === 1 && stride !== 8) throw argError(`${op}: unexpected value stride ${stride}`);
    const size = this.#batchSize(batchSize);
    const { keys, values, keyView, valueView } = this.#batchBuffers(size);
    if (into) {
      // Caller-owned arrays: no allocation per call (reuse them across calls).
      const ik = into.keys as any;
      const iv = into.values as any;
      if (!(ik instanceof kt.ctor) || !(iv instanceof vt.ctor)) {
        throw argError(
          `${op}: into.keys must be a ${kt.ctor.name} and into.values a ${vt.ctor.name} for ${this.#what()}`,
        );
      }
      if (kt.how === 0 && (vt.how === 1 || stride === vt.size)) {
        const n = this.#batchWalkDirect(cmd, op, size, ik, iv, vt.how === 1);
        if (n >= 0) return { count: n, keys: ik.subarray(0, n) as any, values: iv.subarray(0, n * per) as any };
      }
      let at = 0;
      const ok = this.#batchWalk(cmd, size, keys, values, (count) => {
        if (at + count > ik.length || (at + count) * per > iv.length)
          throw intoTooSmall(op, Math.min(ik.length, Math.floor(iv.length / per)), per);
        this.#typedCopy(kt, this.#keyLayout!, keys, keyView, count, this.keySize, ik, at);
        this.#typedCopy(vt, this.#valueLayout!, values, valueView, count * per, stride, iv, at * per);
        at += count;
      });
      if (ok) return { count: at, keys: ik.subarray(0, at) as any, values: iv.subarray(0, at * per) as any };
      const r: { count: number; keys: any; values: any } = this.#lookupBatchTypedImpl(cmd, batchSize);
      if (r.count > ik.length || r.count * per > iv.length)
        throw new RangeError(`tsbpf: ${op}: into arrays are too small for ${r.count} entries`);
      ik.set(r.keys);
      iv.set(r.values);
      return { count: r.count, keys: ik.subarray(0, r.count) as any, values: iv.subarray(0, r.count * per) as any };
    }
    const chunks: { k: any; v: any; n: number }[] = [];
    const ok = this.#batchWalk(cmd, size, keys, values, (count) => {
      const k = new kt.ctor(count);
      const v = new vt.ctor(count * per);
      this.#typedCopy(kt, this.#keyLayout!, keys, keyView, count, this.keySize, k, 0);
      this.#typedCopy(vt, this.#valueLayout!, values, valueView, count * per, stride, v, 0);
      chunks.push({ k, v, n: count });
    });
    if (!ok) {
      const each = this.#lookupEach(cmd === BPF_CMD.map_lookup_and_delete_batch);
      const k = new kt.ctor(each.keys.length) as any;
      const v = new vt.ctor(each.keys.length * per) as any;
      for (let i = 0; i < each.keys.length; i++) {
        k[i] = each.keys[i];
        if (this.perCpu) for (let c = 0; c < per; c++) v[i * per + c] = each.values[i][c];
        else v[i] = each.values[i];
      }
      return { count: each.keys.length, keys: k, values: v };
    }
    if (chunks.length === 1) return { count: chunks[0]!.n, keys: chunks[0]!.k, values: chunks[0]!.v };
    let total = 0;
    for (const c of chunks) total += c.n;
    const k = new kt.ctor(total) as any;
    const v = new vt.ctor(total * per) as any;
    let at = 0;
    for (const c of chunks) {
      k.set(c.k, at);
      v.set(c.v, at * per);
      at += c.n;
    }
    return { count: total, keys: k, values: v };
  }

  /**
   * Decodes `count` staged keys and values into `ks`/`vs` (index writes: they are pre-sized). u32
   * keys with t.u64num / t.u32 values, the common case, are read in one flat loop with no calls.
   */
  #decodeBatch(keyView: DataView, valueView: DataView, count: number, ks: unknown[], vs: unknown[]): void {
    const vk = this.perCpu ? 0 : this.#valKind;
    if (this.#keyKind === 1 && vk === 1) {
      for (let i = 0; i < count; i++) {
        ks[i] = keyView.getUint32(i * 4, true);
        vs[i] = valueView.getUint32(i * 8, true) + valueView.getUint32(i * 8 + 4, true) * 4294967296;
      }
      return;
    }
    if (this.#keyKind === 1 && vk === 2) {
      for (let i = 0; i < count; i++) {
        ks[i] = keyView.getUint32(i * 4, true);
        vs[i] = valueView.getUint32(i * 4, true);
      }
      return;
    }
    for (let i = 0; i < count; i++) {
      ks[i] = this.#keyKind === 1 ? keyView.getUint32(i * 4, true) : this.#key.decode(keyView, i * this.keySize);
      vs[i] = this.#decodeAt(valueView, i);
    }
  }

  #lookupEach(andDelete: boolean): BatchResult<any, any> {
    const keys = [...this.keys()];
    const out: BatchResult<unknown, unknown> = { keys: [], values: [] };
    for (const k of keys) {
      const v = andDelete ? this.lookupAndDelete(k) : this.lookup(k);
      if (v !== undefined) {
        out.keys.push(k);
        out.values.push(v);
      }
    }
    return out;
  }

  /** Reads every entry with BPF_MAP_LOOKUP_BATCH (per-element fallback where the kernel refuses). */
  protected lookupBatch(options: { batchSize?: number } = {}): BatchResult<any, any> {
    return this.#lookupBatchImpl(BPF_CMD.map_lookup_batch, options.batchSize ?? Math.min(this.maxEntries, 4096));
  }

  /** Reads and deletes every entry with BPF_MAP_LOOKUP_AND_DELETE_BATCH. */
  protected lookupAndDeleteBatch(options: { batchSize?: number } = {}): BatchResult<any, any> {
    return this.#lookupBatchImpl(
      BPF_CMD.map_lookup_and_delete_batch,
      options.batchSize ?? Math.min(this.maxEntries, 4096),
    );
  }

  /** `lookupBatch` into typed arrays (numeric keys and values only); see `TypedBatchResult`. */
  protected lookupBatchTyped(options: TypedBatchOptions<any, any> = {}): TypedBatchResult<any, any> {
    return this.#lookupBatchTypedImpl(
      BPF_CMD.map_lookup_batch,
      options.batchSize ?? Math.min(this.maxEntries, 4096),
      options.into,
    );
  }

  /** `lookupAndDeleteBatch` into typed arrays (numeric keys and values only); see `TypedBatchResult`. */
  protected lookupAndDeleteBatchTyped(options: TypedBatchOptions<any, any> = {}): TypedBatchResult<any, any> {
    return this.#lookupBatchTypedImpl(
      BPF_CMD.map_lookup_and_delete_batch,
      options.batchSize ?? Math.min(this.maxEntries, 4096),
      options.into,
    );
  }

  /** Writes many entries with BPF_MAP_UPDATE_BATCH; returns how many were written. */
  protected updateBatch(keys: readonly unknown[], values: readonly unknown[], flag: UpdateFlag = 'any'): number {
    this.#requireKeyed('updateBatch');
    if (!Array.isArray(keys) || !Array.isArray(values) || keys.length !== values.length)
      throw argError('updateBatch needs two arrays of the same length (keys, values)');
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
        if (typeof k !== 'number' || k >>> 0 !== k || !this.#putScalar(valueView, i0 * vsz, values[i0])) break;
        keyView.setUint32(i0 * 4, k, true);
      }
    }
    for (let i = i0; i < n; i++) {
      try {
        this.#key.encode(keys[i], keyView, i * this.keySize);
      } catch (e) {
        throw argError(`bad key [${i}] for ${this.#what()}: ${(e as Error).message.replace(/^tsbpf: /, '')}`);
      }
      try {
        if (this.perCpu) {
          const per = values[i];
          if (!Array.isArray(per) || per.length !== this.cpus)
            throw new TypeError(`tsbpf: per-CPU maps take an array of ${this.cpus} values`);
          for (let c = 0; c < this.cpus; c++) this.#value.encode(per[c], valueView, (i * this.cpus + c) * this.#stride);
        } else {
          this.#value.encode(values[i], valueView, i * this.valueSize);
        }
      } catch (e) {
        throw argError(`bad value [${i}] for ${this.#what()}: ${(e as Error).message.replace(/^tsbpf: /, '')}`);
      }
    }
    const a = this.#batchOpAttrOnce();
    this.#batchAttr(a, undefined, undefined, kb, vb, n, UPDATE_FLAG[flag]);
    const r = bpfRaw(BPF_CMD.map_update_batch, a.bytes);
    if (r < 0) {
      if (r === -EINVAL || r === -ENOTSUPP || r === -EOPNOTSUPP) {
        const done = a.getU32(32);
        if (done === 0) {
          for (let i = 0; i < n; i++) this.update(keys[i], values[i], flag);
          return n;
        }
      }
      bpfFail(BPF_CMD.map_update_batch, r, this.#what(), `${a.getU32(32)} of ${n} entries were written`);
    }
    return a.getU32(32);
  }

  /** Deletes many keys with BPF_MAP_DELETE_BATCH; returns how many were deleted. */
  protected deleteBatch(keys: readonly unknown[]): number {
    this.#requireKeyed('deleteBatch');
    if (!Array.isArray(keys)) throw argError('deleteBatch needs an array of keys');
    const n = keys.length;
    if (n === 0) return 0;
    const { keys: kb, keyView } = this.#batchBuffers(n);
    let i0 = 0;
    if (this.#keyKind === 1) {
      for (; i0 < n; i0++) {
        const k = keys[i0];
        if (typeof k !== 'number' || k >>> 0 !== k) break;
        keyView.setUint32(i0 * 4, k, true);
      }
    }
    for (let i = i0; i < n; i++) {
      try {
        this.#key.encode(keys[i], keyView, i * this.keySize);
      } catch (e) {
        throw argError(`bad key [${i}] for ${this.#what()}: ${(e as Error).message.replace(/^tsbpf: /, '')}`);
      }
    }
    const a = this.#batchOpAttrOnce();
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
   * i × round8(valueSize)), valid until close(). close() releases the kernel's pages at once:
   * the view then reads zeros and writes reach nothing the kernel sees (it stays attached, since
   * detaching an ArrayBuffer slows every typed array access in the process).
   */
  protected mmap(options: { writable?: boolean } = {}): DataView {
    if (this.type !== 'array' || !(this.flags & MAP_FLAG.mmapable))
      throw argError(`mmap needs an array created with flags MAP_FLAG.mmapable, not ${this.type}`);
    const stride = Math.ceil(this.valueSize / 8) * 8;
    const len = Math.ceil((stride * this.maxEntries) / native.pageSize) * native.pageSize;
    const writable = options.writable ?? !(this.flags & MAP_FLAG.rdonly);
    const r = native.mmap(this.fd, len, PROT.read | (writable ? PROT.write : 0), MAP_SHARED, 0);
    if (typeof r === 'number')
      throw new BpfError(-r, {
        syscall: 'mmap',
        object: this.#what(),
        hint: r === -1 ? 'a frozen map can only be mapped read-only' : undefined,
      });
    this.#core.mmaps.push(r);
    return new DataView(r, 0, stride * this.maxEntries);
  }

  /** Closes the map fd and unmaps any mmap() views (of every typed view of this map). Safe to call twice. */
  close(): void {
    for (const m of this.#core.mmaps.splice(0)) native.unmap(m);
    this.#owned.close();
  }

  [Symbol.dispose](): void {
    this.close();
  }

  toString(): string {
    return `${this.constructor.name}(${this.#what()}, key ${this.#key.describe}, value ${this.#value.describe}, ${this.maxEntries} entries)`;
  }
}

// ---- typed map classes ----------------------------------------------------------------------------

/** Key/value layouts a typed class takes in `from` (no key: the class fixes it). */
export interface ValueCodec<V> {
  value?: DecodesTo<V>;
}

/**
 * A hash map (BPF_MAP_TYPE_HASH): lookup, update, delete, iteration and batch operations.
 *
 * ```ts
 * using m = BpfMap.create({ type: 'hash', key: t.u32, value: t.u64, maxEntries: 1024 });
 * m.update(1, 10n);
 * for (const [k, v] of m) console.log(k, v);
 * ```
 */
export class HashMap<K = unknown, V = unknown> extends BpfMap {
  /** A typed view of `map`, which must be a kernel hash map (else MapTypeError). */
  static from<K = unknown, V = unknown>(map: BpfMap, codecs?: MapCodecs<K, V>): HashMap<K, V> {
    return typedView(map, HashMap, codecs) as HashMap<K, V>;
  }
  /** The value for `key`, or undefined when absent. */
  override lookup(key: K): V | undefined {
    return super.lookup(key);
  }
  /** Sets `key` to `value`. flag: 'any' (default), 'noexist' (create only), 'exist' (update only), 'lock'. */
  override update(key: K, value: V, flag: UpdateFlag = 'any'): void {
    super.update(key, value, flag);
  }
  /** Deletes `key`; false when it was absent. */
  override delete(key: K): boolean {
    return super.delete(key);
  }
  /** Removes and returns the value for `key` (BPF_MAP_LOOKUP_AND_DELETE_ELEM), or undefined. */
  override lookupAndDelete(key: K): V | undefined {
    return super.lookupAndDelete(key);
  }
  /** The key after `key` (the first key when undefined); undefined at the end. */
  override nextKey(key?: K): K | undefined {
    return super.nextKey(key);
  }
  /** Iterates keys; deleting the yielded key inside the loop is safe. */
  override keys(): IterableIterator<K> {
    return super.keys();
  }
  /** Iterates [key, value] pairs. */
  override entries(): IterableIterator<[K, V]> {
    return super.entries();
  }
  override [Symbol.iterator](): IterableIterator<[K, V]> {
    return super.entries();
  }
  /** Reads every entry with BPF_MAP_LOOKUP_BATCH (per-element fallback where the kernel refuses). */
  override lookupBatch(options?: { batchSize?: number }): BatchResult<K, V> {
    return super.lookupBatch(options);
  }
  /** Reads and deletes every entry with BPF_MAP_LOOKUP_AND_DELETE_BATCH. */
  override lookupAndDeleteBatch(options?: { batchSize?: number }): BatchResult<K, V> {
    return super.lookupAndDeleteBatch(options);
  }
  /**
   * Reads every entry with BPF_MAP_LOOKUP_BATCH into two typed arrays, for numeric key and value
   * layouts (t.u32 → Uint32Array, t.u64num → Float64Array, t.u64 → BigUint64Array, ...): no
   * per-element objects or BigInts, the cheapest way to read a whole numeric map. Throws TypeError
   * for other layouts (use `lookupBatch`).
   *
   * ```ts
   * using m = BpfMap.create({ type: 'hash', key: t.u32, value: t.u64num, maxEntries: 10_000 });
   * const { count, keys, values } = m.lookupBatchTyped(); // Uint32Array, Float64Array
   * let total = 0;
   * for (let i = 0; i < count; i++) total += values[i]!;
   * // Polling: fill the same arrays every time (no allocation per call).
   * const into = { keys: new Uint32Array(m.maxEntries), values: new Float64Array(m.maxEntries) };
   * const again = m.lookupBatchTyped({ into }); // again.keys is into.keys.subarray(0, again.count)
   * ```
   */
  override lookupBatchTyped(options?: TypedBatchOptions<K, V>): TypedBatchResult<K, V> {
    return super.lookupBatchTyped(options);
  }
  /** `lookupAndDeleteBatch` into typed arrays (numeric layouts only; see `lookupBatchTyped`). */
  override lookupAndDeleteBatchTyped(options?: TypedBatchOptions<K, V>): TypedBatchResult<K, V> {
    return super.lookupAndDeleteBatchTyped(options);
  }
  /** Writes many entries with BPF_MAP_UPDATE_BATCH; returns how many were written. */
  override updateBatch(keys: readonly K[], values: readonly V[], flag: UpdateFlag = 'any'): number {
    return super.updateBatch(keys, values, flag);
  }
  /** Deletes many keys with BPF_MAP_DELETE_BATCH; returns how many were deleted. */
  override deleteBatch(keys: readonly K[]): number {
    return super.deleteBatch(keys);
  }
}

/** An LRU hash map (BPF_MAP_TYPE_LRU_HASH): a hash map whose least recently used entries make room for new ones. */
export class LruHash<K = unknown, V = unknown> extends HashMap<K, V> {
  /** A typed view of `map`, which must be a kernel lru_hash map (else MapTypeError). */
  static override from<K = unknown, V = unknown>(map: BpfMap, codecs?: MapCodecs<K, V>): LruHash<K, V> {
    return typedView(map, LruHash, codecs) as LruHash<K, V>;
  }
}

/**
 * An array (BPF_MAP_TYPE_ARRAY): u32 index → value, all entries exist (zeroed), nothing to delete.
 * Arrays created with MAP_FLAG.mmapable can be mapped into memory (`mmap()`).
 */
export class ArrayMap<V = unknown> extends BpfMap {
  /** A typed view of `map`, which must be a kernel array (else MapTypeError). */
  static from<V = unknown>(map: BpfMap, codecs?: ValueCodec<V>): ArrayMap<V> {
    return typedView(map, ArrayMap, codecs) as ArrayMap<V>;
  }
  /** The value at `index` (undefined past the end). */
  override lookup(index: number): V | undefined {
    return super.lookup(index);
  }
  /** Sets the value at `index`. flag 'noexist' always fails on arrays (every index exists). */
  override update(index: number, value: V, flag: UpdateFlag = 'any'): void {
    super.update(index, value, flag);
  }
  override nextKey(index?: number): number | undefined {
    return super.nextKey(index);
  }
  override keys(): IterableIterator<number> {
    return super.keys();
  }
  override entries(): IterableIterator<[number, V]> {
    return super.entries();
  }
  override [Symbol.iterator](): IterableIterator<[number, V]> {
    return super.entries();
  }
  override lookupBatch(options?: { batchSize?: number }): BatchResult<number, V> {
    return super.lookupBatch(options);
  }
  /** Every index and value in typed arrays, for numeric value layouts (see `HashMap.lookupBatchTyped`); keys are a Uint32Array. */
  override lookupBatchTyped(options?: TypedBatchOptions<number, V>): TypedBatchResult<number, V> {
    return super.lookupBatchTyped(options);
  }
  override updateBatch(indexes: readonly number[], values: readonly V[], flag: UpdateFlag = 'any'): number {
    return super.updateBatch(indexes, values, flag);
  }
  override mmap(options?: { writable?: boolean }): DataView {
    return super.mmap(options);
  }
}

/**
 * A per-CPU array (BPF_MAP_TYPE_PERCPU_ARRAY): each index holds one value per possible CPU.
 * `lookup` returns `V[]` (length `cpus`); `sum` adds numeric values up without BigInt.
 */
export class PerCpuArray<V = unknown> extends BpfMap {
  /** A typed view of `map`, which must be a kernel percpu_array (else MapTypeError); `value` is one CPU's value. */
  static from<V = unknown>(map: BpfMap, codecs?: ValueCodec<V>): PerCpuArray<V> {
    return typedView(map, PerCpuArray, codecs) as PerCpuArray<V>;
  }
  /** The values at `index`, one per possible CPU. */
  override lookup(index: number): V[] | undefined {
    return super.lookup(index);
  }
  /** Sets the values at `index`: an array of `cpus` values. */
  override update(index: number, values: readonly V[], flag: UpdateFlag = 'any'): void {
    super.update(index, values, flag);
  }
  /** The value at `index` summed over CPUs, as a number (exact below 2^53). Only for numeric values. */
  override sum(this: PerCpuArray<number> | PerCpuArray<bigint>, index: number): number | undefined {
    return super.sum(index);
  }
  /** Struct values of integer fields: each field summed over CPUs, as numbers. */
  sumFields<F extends Record<string, number | bigint>>(
    this: PerCpuArray<F>,
    index: number,
  ): { [P in keyof F]: number } | undefined {
    return super.sum(index);
  }
  override nextKey(index?: number): number | undefined {
    return super.nextKey(index);
  }
  override keys(): IterableIterator<number> {
    return super.keys();
  }
  override entries(): IterableIterator<[number, V[]]> {
    return super.entries();
  }
  override [Symbol.iterator](): IterableIterator<[number, V[]]> {
    return super.entries();
  }
  override lookupBatch(options?: { batchSize?: number }): BatchResult<number, V[]> {
    return super.lookupBatch(options);
  }
  /**
   * Every index and its per-CPU values in typed arrays, for numeric value layouts: CPU c's value at
   * index keys[i] is `values[i * cpus + c]` (see `HashMap.lookupBatchTyped`).
   */
  override lookupBatchTyped(options?: TypedBatchOptions<number, V>): TypedBatchResult<number, V> {
    return super.lookupBatchTyped(options);
  }
  override updateBatch(
    indexes: readonly number[],
    values: readonly (readonly V[])[],
    flag: UpdateFlag = 'any',
  ): number {
    return super.updateBatch(indexes, values, flag);
  }
}

/** A per-CPU hash (BPF_MAP_TYPE_PERCPU_HASH): each key holds one value per possible CPU. */
export class PerCpuHash<K = unknown, V = unknown> extends BpfMap {
  /** A typed view of `map`, which must be a kernel percpu_hash (else MapTypeError); `value` is one CPU's value. */
  static from<K = unknown, V = unknown>(map: BpfMap, codecs?: MapCodecs<K, V>): PerCpuHash<K, V> {
    return typedView(map, PerCpuHash, codecs) as PerCpuHash<K, V>;
  }
  override lookup(key: K): V[] | undefined {
    return super.lookup(key);
  }
  override update(key: K, values: readonly V[], flag: UpdateFlag = 'any'): void {
    super.update(key, values, flag);
  }
  override delete(key: K): boolean {
    return super.delete(key);
  }
  override lookupAndDelete(key: K): V[] | undefined {
    return super.lookupAndDelete(key);
  }
  /** The value for `key` summed over CPUs, as a number (exact below 2^53). Only for numeric values. */
  override sum(this: PerCpuHash<K, number> | PerCpuHash<K, bigint>, key: K): number | undefined {
    return super.sum(key);
  }
  /** Struct values of integer fields: each field summed over CPUs, as numbers. */
  sumFields<F extends Record<string, number | bigint>>(
    this: PerCpuHash<K, F>,
    key: K,
  ): { [P in keyof F]: number } | undefined {
    return super.sum(key);
  }
  override nextKey(key?: K): K | undefined {
    return super.nextKey(key);
  }
  override keys(): IterableIterator<K> {
    return super.keys();
  }
  override entries(): IterableIterator<[K, V[]]> {
    return super.entries();
  }
  override [Symbol.iterator](): IterableIterator<[K, V[]]> {
    return super.entries();
  }
  override lookupBatch(options?: { batchSize?: number }): BatchResult<K, V[]> {
    return super.lookupBatch(options);
  }
  override lookupAndDeleteBatch(options?: { batchSize?: number }): BatchResult<K, V[]> {
    return super.lookupAndDeleteBatch(options);
  }
  /**
   * Every key and its per-CPU values in typed arrays, for numeric layouts: CPU c's value for keys[i]
   * is `values[i * cpus + c]` (see `HashMap.lookupBatchTyped`).
   */
  override lookupBatchTyped(options?: TypedBatchOptions<K, V>): TypedBatchResult<K, V> {
    return super.lookupBatchTyped(options);
  }
  /** `lookupAndDeleteBatch` into typed arrays (see `lookupBatchTyped`). */
  override lookupAndDeleteBatchTyped(options?: TypedBatchOptions<K, V>): TypedBatchResult<K, V> {
    return super.lookupAndDeleteBatchTyped(options);
  }
  override updateBatch(keys: readonly K[], values: readonly (readonly V[])[], flag: UpdateFlag = 'any'): number {
    return super.updateBatch(keys, values, flag);
  }
  override deleteBatch(keys: readonly K[]): number {
    return super.deleteBatch(keys);
  }
}

/** An LRU per-CPU hash (BPF_MAP_TYPE_LRU_PERCPU_HASH). */
export class LruPerCpuHash<K = unknown, V = unknown> extends PerCpuHash<K, V> {
  static override from<K = unknown, V = unknown>(map: BpfMap, codecs?: MapCodecs<K, V>): LruPerCpuHash<K, V> {
    return typedView(map, LruPerCpuHash, codecs) as LruPerCpuHash<K, V>;
  }
}

/**
 * A longest-prefix-match trie (BPF_MAP_TYPE_LPM_TRIE). Keys start with a u32 prefix length, then the data
 * (e.g. `t.struct({ prefixlen: t.u32, addr: t.bytes(4) })`); lookup finds the longest matching prefix.
 */
export class LpmTrie<K = unknown, V = unknown> extends BpfMap {
  static from<K = unknown, V = unknown>(map: BpfMap, codecs?: MapCodecs<K, V>): LpmTrie<K, V> {
    return typedView(map, LpmTrie, codecs) as LpmTrie<K, V>;
  }
  override lookup(key: K): V | undefined {
    return super.lookup(key);
  }
  override update(key: K, value: V, flag: UpdateFlag = 'any'): void {
    super.update(key, value, flag);
  }
  override delete(key: K): boolean {
    return super.delete(key);
  }
  override nextKey(key?: K): K | undefined {
    return super.nextKey(key);
  }
  override keys(): IterableIterator<K> {
    return super.keys();
  }
  override entries(): IterableIterator<[K, V]> {
    return super.entries();
  }
  override [Symbol.iterator](): IterableIterator<[K, V]> {
    return super.entries();
  }
}

/** A FIFO queue (BPF_MAP_TYPE_QUEUE): push, pop, peek. */
export class Queue<V = unknown> extends BpfMap {
  static from<V = unknown>(map: BpfMap, codecs?: ValueCodec<V>): Queue<V> {
    return typedView(map, Queue, codecs) as Queue<V>;
  }
  /** Adds `value`; flag 'exist' overwrites the oldest value when full. */
  override push(value: V, flag: 'any' | 'exist' = 'any'): void {
    super.push(value, flag);
  }
  /** Removes and returns the next value, or undefined when empty. */
  override pop(): V | undefined {
    return super.pop();
  }
  /** The next value without removing it. */
  override peek(): V | undefined {
    return super.peek();
  }
}

/** A LIFO stack (BPF_MAP_TYPE_STACK): push, pop, peek. */
export class Stack<V = unknown> extends BpfMap {
  static from<V = unknown>(map: BpfMap, codecs?: ValueCodec<V>): Stack<V> {
    return typedView(map, Stack, codecs) as Stack<V>;
  }
  /** Adds `value`; flag 'exist' overwrites the oldest value when full. */
  override push(value: V, flag: 'any' | 'exist' = 'any'): void {
    super.push(value, flag);
  }
  /** Removes and returns the last pushed value, or undefined when empty. */
  override pop(): V | undefined {
    return super.pop();
  }
  /** The last pushed value without removing it. */
  override peek(): V | undefined {
    return super.peek();
  }
}

/** A bloom filter (BPF_MAP_TYPE_BLOOM_FILTER; `mapExtra` = hash count): push values, test membership. */
export class BloomFilter<V = unknown> extends BpfMap {
  static from<V = unknown>(map: BpfMap, codecs?: ValueCodec<V>): BloomFilter<V> {
    return typedView(map, BloomFilter, codecs) as BloomFilter<V>;
  }
  /** Adds `value` to the set. */
  override push(value: V): void {
    super.push(value, 'any');
  }
  /** True when `value` may be in the set, false when it certainly is not. */
  override has(value: V): boolean {
    return super.has(value);
  }
}

/**
 * A ring buffer (BPF_MAP_TYPE_RINGBUF): no element operations from user space; read it with
 * `new RingBuffer(map, callback)`.
 */
export class RingBufMap extends BpfMap {
  static from(map: BpfMap): RingBufMap {
    return typedView(map, RingBufMap, undefined) as RingBufMap;
  }
  /** The ring's data size in bytes (a power of two multiple of the page size). */
  get size(): number {
    return this.maxEntries;
  }
}

/** A perf event array (BPF_MAP_TYPE_PERF_EVENT_ARRAY): one slot per CPU; read it with `new PerfBuffer(map, callback)`. */
export class PerfEventArray extends BpfMap {
  static from(map: BpfMap): PerfEventArray {
    return typedView(map, PerfEventArray, undefined) as PerfEventArray;
  }
  /** Points slot `cpu` at a perf event fd (PerfBuffer does this for each CPU it reads). */
  set(cpu: number, perfEventFd: number): void {
    super.update(cpu, refFd(perfEventFd, 'perf event'));
  }
  /** Clears slot `cpu`; false when it was empty. */
  override delete(cpu: number): boolean {
    return super.delete(cpu);
  }
}

/** A program array (BPF_MAP_TYPE_PROG_ARRAY) for bpf_tail_call: slots hold programs. */
export class ProgArray extends BpfMap {
  static from(map: BpfMap): ProgArray {
    return typedView(map, ProgArray, undefined) as ProgArray;
  }
  /** Puts `program` (a Program or a program fd) in slot `index`. */
  set(index: number, program: ProgramRef): void {
    super.update(index, refFd(program, 'program'));
  }
  /** The id of the program in slot `index`, or undefined when empty. */
  get(index: number): number | undefined {
    return super.lookup(index);
  }
  /** Empties slot `index`; false when it was empty. */
  override delete(index: number): boolean {
    return super.delete(index);
  }
}

/** An array of maps (BPF_MAP_TYPE_ARRAY_OF_MAPS): slots hold maps shaped like the inner map spec. */
export class ArrayOfMaps extends BpfMap {
  static from(map: BpfMap): ArrayOfMaps {
    return typedView(map, ArrayOfMaps, undefined) as ArrayOfMaps;
  }
  /** Puts `map` (a BpfMap or a map fd) in slot `index`. */
  set(index: number, map: BpfMap | number): void {
    super.update(index, refFd(map, 'map'));
  }
  /** The id of the map in slot `index`, or undefined when empty. */
  get(index: number): number | undefined {
    return super.lookup(index);
  }
  /** Empties slot `index`; false when it was empty. */
  override delete(index: number): boolean {
    return super.delete(index);
  }
}

/** A hash of maps (BPF_MAP_TYPE_HASH_OF_MAPS): keys → maps shaped like the inner map spec. */
export class HashOfMaps<K = unknown> extends BpfMap {
  static from<K = unknown>(map: BpfMap, codecs?: { key?: DecodesTo<K> }): HashOfMaps<K> {
    return typedView(map, HashOfMaps, codecs) as HashOfMaps<K>;
  }
  /** Sets `key` to `map` (a BpfMap or a map fd). */
  set(key: K, map: BpfMap | number, flag: UpdateFlag = 'any'): void {
    super.update(key, refFd(map, 'map'), flag);
  }
  /** The id of the map at `key`, or undefined. */
  get(key: K): number | undefined {
    return super.lookup(key);
  }
  override delete(key: K): boolean {
    return super.delete(key);
  }
  override keys(): IterableIterator<K> {
    return super.keys();
  }
}

/**
 * The shared shape of the local-storage maps: one value per kernel object, addressed from user space by an fd
 * of that object (the kernel creates values from BPF with bpf_*_storage_get(..., F_CREATE)).
 */
export abstract class LocalStorage<V> extends BpfMap {
  /** The value stored for the object behind `fd`, or undefined. */
  override lookup(fd: number): V | undefined {
    return super.lookup(fd);
  }
  /** Stores `value` for the object behind `fd`. */
  override update(fd: number, value: V, flag: UpdateFlag = 'any'): void {
    super.update(fd, value, flag);
  }
  /** Deletes the value of the object behind `fd`; false when there was none. */
  override delete(fd: number): boolean {
    return super.delete(fd);
  }
}

/** Task local storage (BPF_MAP_TYPE_TASK_STORAGE): one value per task, addressed by a pidfd (`pidfd_open`). */
export class TaskStorage<V = unknown> extends LocalStorage<V> {
  static from<V = unknown>(map: BpfMap, codecs?: ValueCodec<V>): TaskStorage<V> {
    return typedView(map, TaskStorage, codecs) as TaskStorage<V>;
  }
}

/** Socket local storage (BPF_MAP_TYPE_SK_STORAGE): one value per socket, addressed by a socket fd. */
export class SkStorage<V = unknown> extends LocalStorage<V> {
  static from<V = unknown>(map: BpfMap, codecs?: ValueCodec<V>): SkStorage<V> {
    return typedView(map, SkStorage, codecs) as SkStorage<V>;
  }
}

/** Inode local storage (BPF_MAP_TYPE_INODE_STORAGE, needs the BPF LSM): one value per inode, addressed by an open file's fd. */
export class InodeStorage<V = unknown> extends LocalStorage<V> {
  static from<V = unknown>(map: BpfMap, codecs?: ValueCodec<V>): InodeStorage<V> {
    return typedView(map, InodeStorage, codecs) as InodeStorage<V>;
  }
}

/** Cgroup local storage (BPF_MAP_TYPE_CGRP_STORAGE): one value per cgroup, addressed by an fd of the cgroup's directory. */
export class CgrpStorage<V = unknown> extends LocalStorage<V> {
  static from<V = unknown>(map: BpfMap, codecs?: ValueCodec<V>): CgrpStorage<V> {
    return typedView(map, CgrpStorage, codecs) as CgrpStorage<V>;
  }
}

/**
 * Map types without a class of their own (devmap, devmap_hash, cpumap, xskmap, sockmap, sockhash,
 * stack_trace, cgroup_array, cgroup_storage, user_ringbuf, arena, ...): the keyed operations, checked by the kernel.
 */
export class GenericMap<K = unknown, V = unknown> extends BpfMap {
  static from<K = unknown, V = unknown>(map: BpfMap, codecs?: MapCodecs<K, V>): GenericMap<K, V> {
    return typedView(map, GenericMap, codecs) as GenericMap<K, V>;
  }
  override lookup(key: K): V | undefined {
    return super.lookup(key);
  }
  override update(key: K, value: V, flag: UpdateFlag = 'any'): void {
    super.update(key, value, flag);
  }
  override delete(key: K): boolean {
    return super.delete(key);
  }
  override nextKey(key?: K): K | undefined {
    return super.nextKey(key);
  }
  override keys(): IterableIterator<K> {
    return super.keys();
  }
  override entries(): IterableIterator<[K, V]> {
    return super.entries();
  }
  override [Symbol.iterator](): IterableIterator<[K, V]> {
    return super.entries();
  }
}

/** Which class stands for which kernel map type (GenericMap: every type not listed). */
const CLASS_OF: Record<keyof MapClasses<unknown, unknown>, MapCtor> = {
  hash: HashMap,
  lru_hash: LruHash,
  array: ArrayMap,
  percpu_array: PerCpuArray,
  percpu_hash: PerCpuHash,
  lru_percpu_hash: LruPerCpuHash,
  lpm_trie: LpmTrie,
  queue: Queue,
  stack: Stack,
  bloom_filter: BloomFilter,
  ringbuf: RingBufMap,
  perf_event_array: PerfEventArray,
  prog_array: ProgArray,
  array_of_maps: ArrayOfMaps,
  hash_of_maps: HashOfMaps,
  task_storage: TaskStorage,
  sk_storage: SkStorage,
  inode_storage: InodeStorage,
  cgrp_storage: CgrpStorage,
};
const TYPE_OF_CLASS = new Map<MapCtor, string>(Object.entries(CLASS_OF).map(([k, c]) => [c, k]));

function classOf(type: string): MapCtor {
  return (CLASS_OF as Record<string, MapCtor>)[type] ?? GenericMap;
}

/** Types whose key is an index or an fd: with no key layout they take and return numbers (u32). */
const NUMERIC_KEY_TYPES = new Set<string>([
  'array',
  'percpu_array',
  'prog_array',
  'array_of_maps',
  'perf_event_array',
  'cgroup_array',
  ...STORAGE_MAP_TYPES,
]);
/** Types whose value is an fd on write and an id on read. */
const FD_VALUE_TYPES = new Set<string>([
  'prog_array',
  'array_of_maps',
  'hash_of_maps',
  'perf_event_array',
  'cgroup_array',
]);

function defaultKey(type: string, keySize: number): Layout<any> | undefined {
  return keySize === 4 && NUMERIC_KEY_TYPES.has(type) ? t.u32 : undefined;
}

function defaultValue(type: string, valueSize: number): Layout<any> | undefined {
  return valueSize === 4 && FD_VALUE_TYPES.has(type) ? t.u32 : undefined;
}

function construct(
  m: { fd: number; type: string; keySize: number; valueSize: number; maxEntries: number; flags: number; name: string },
  key: Layout<any> | undefined,
  value: Layout<any> | undefined,
): BpfMap {
  const core: MapCore = { owned: new OwnedFd(m.fd, `map "${m.name || '(unnamed)'}" (${m.type})`), mmaps: [] };
  const Ctor = classOf(m.type);
  try {
    return new Ctor({
      core,
      type: m.type as MapTypeName,
      keySize: m.keySize,
      valueSize: m.valueSize,
      maxEntries: m.maxEntries,
      flags: m.flags,
      name: m.name,
      key: key ?? defaultKey(m.type, m.keySize),
      value: value ?? defaultValue(m.type, m.valueSize),
    });
  } catch (e) {
    core.owned.close();
    throw e;
  }
}

function typedView(map: BpfMap, ctor: MapCtor, codecs: MapCodecs<any, any> | undefined): BpfMap {
  const cls = ctor.name;
  if (!(map instanceof BpfMap)) throw argError(`${cls}.from needs a BpfMap, got ${map === null ? 'null' : typeof map}`);
  const want = TYPE_OF_CLASS.get(ctor);
  const ok = want === undefined ? !(map.type in CLASS_OF) : map.type === want;
  if (!ok)
    throw new MapTypeError(
      `tsbpf: ${cls}.from: map "${map.name || '(unnamed)'}" is a ${map.type} map${want ? `, not ${want}` : `; use ${classOf(map.type).name}`}`,
    );
  if (codecs?.key === undefined && codecs?.value === undefined && map.constructor === ctor) return map;
  return makeView(map, ctor, codecs);
}

function checkCodecs(codecs: MapCodecs<any, any> | undefined, keySize: number, valueSize: number, type: string): void {
  if (!codecs) return;
  if (codecs.key !== undefined) {
    if (!isLayout(codecs.key)) throw argError('key must be a layout (t.u32, t.struct(...))');
    if (codecs.key.size !== keySize)
      throw argError(`key layout is ${codecs.key.size} bytes but the ${type} map's key is ${keySize}`);
  }
  if (codecs.value !== undefined) {
    if (!isLayout(codecs.value)) throw argError('value must be a layout (t.u64, t.struct(...))');
    if (codecs.value.size !== valueSize)
      throw argError(`value layout is ${codecs.value.size} bytes but the ${type} map's value is ${valueSize}`);
  }
}

function refFd(x: unknown, what: 'map' | 'program' | 'perf event'): number {
  const fd =
    typeof x === 'number'
      ? x
      : x !== null && typeof x === 'object' && 'fd' in x
        ? (x as { fd: unknown }).fd
        : undefined;
  if (typeof fd !== 'number' || !Number.isInteger(fd) || fd < 0)
    throw argError(
      `expected a ${what === 'map' ? 'BpfMap' : 'Program'} or a ${what} fd, got ${x === null ? 'null' : typeof x}`,
    );
  return fd;
}

/**
 * Writes raw key/value bytes into `map` whatever its layouts (the object loader's initial contents).
 * Internal: not exported from the package.
 */
export function updateMapBytes(map: BpfMap, key: number | Uint8Array, value: Uint8Array): void {
  rawUpdate(map, key, value);
}

// Storage maps need BTF for their key and value; the kernel only checks the key is a 4-byte int and the value's size.
const STORAGE_BTF_KEY_ID = 1;
const STORAGE_BTF_VALUE_ID = 3;

function storageBtf(valueSize: number): OwnedFd {
  const b = new BtfBuilder();
  const int = b.addInt('int', 4, { signed: true }); // id 1
  const byte = b.addInt('unsigned char', 1); // id 2
  const value = b.addArray(byte, int, valueSize); // id 3
  if (int !== STORAGE_BTF_KEY_ID || value !== STORAGE_BTF_VALUE_ID) throw new Error('tsbpf: internal: storage BTF ids');
  return loadRawBtf(b.encode(), 'storage map BTF');
}

/**
 * An array for n results written by index. Pre-sized up to a bound: `new Array(n)` past V8's
 * preallocation limit would start in slow dictionary mode, so larger ones grow by appending.
 */
function sizedArray<T>(n: number): T[] {
  return n <= 32768 ? new Array<T>(n) : [];
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
    type: nameOf(MAP_TYPE, typeId) as MapTypeName,
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
function sumPerCpu(
  view: DataView,
  cpus: number,
  stride: number,
  layout: Layout<any> | undefined,
  valueSize: number,
): any {
  const fields =
    layout && (layout as any).kind === 'struct' ? ((layout as any).fields as Record<string, Layout<any>>) : undefined;
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
    case 1:
      return signed ? view.getInt8(off) : view.getUint8(off);
    case 2:
      return signed ? view.getInt16(off, true) : view.getUint16(off, true);
    case 4:
      return kind === 'f32'
        ? view.getFloat32(off, true)
        : signed
          ? view.getInt32(off, true)
          : view.getUint32(off, true);
    case 8: {
      if (kind === 'f64') return view.getFloat64(off, true);
      const lo = view.getUint32(off, true);
      const hi = signed ? view.getInt32(off + 4, true) : view.getUint32(off + 4, true);
      return hi * 4294967296 + lo;
    }
    default:
      throw argError(`sum() needs integer values (1, 2, 4 or 8 bytes), got ${size} bytes`);
  }
}
