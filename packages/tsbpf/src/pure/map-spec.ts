/**
 * MapSpec: the one description of a BPF map, shared by `BpfMap.create` and the object loader.
 *
 * A spec is plain data (no fds, no kernel): parse it from an object (`ObjectSpec.parse`), write it by hand, copy
 * it with `copyMapSpec`, edit it, create it any number of times. Defaults that need the running kernel (possible
 * CPUs for `perf_event_array`) stay 0 in the spec and are resolved when the map is created
 * (`resolveMapShape(spec, { possibleCpus })`).
 *
 * ```ts
 * const spec: MapSpec<number, bigint> = { type: 'hash', key: t.u32, value: t.u64, maxEntries: 1024 };
 * const big = { ...copyMapSpec(spec), maxEntries: 1 << 20 };
 * ```
 */
import type { Layout } from './layout.js';
import type { MapTypeName } from './uapi.js';

/** `pinning` values (libbpf's LIBBPF_PIN_*). */
export const MAP_PIN = {
  /** Not pinned. */
  none: 0,
  /** Pinned by name under the loader's pin root (default /sys/fs/bpf); reused when a compatible pin exists. */
  byName: 1,
} as const;

/** Where a MapSpec came from (informational; the loader treats all alike except `data`). */
export type MapSpecOrigin =
  /** `.maps` (BTF-defined). */
  | 'btf'
  /** The legacy `maps` section (`struct bpf_map_def`). */
  | 'legacy'
  /** A global data section (`.rodata`, `.data`, `.bss`, `.kconfig`, `.data.x`): one-entry mmapable array. */
  | 'data'
  /** Written by hand. */
  | 'user';

/** A value slot of a map-in-map or prog_array filled at load: the fd of another map or program of the object. */
export type MapSlotRef = { readonly map: string } | { readonly program: string };

/** One initial entry. `key` is the raw key bytes or a u32 index (arrays); `value` is raw bytes or a slot reference. */
export interface MapEntrySpec {
  key: number | Uint8Array;
  value: Uint8Array | MapSlotRef;
}

/**
 * Everything the kernel needs to create a map, plus where it came from, its BTF type ids and its initial contents.
 *
 * Sizes: give `keySize`/`valueSize` or `key`/`value` layouts (a layout's size wins). 0 means "none" (ringbuf,
 * queue, stack have no key) or "loader default" (`perf_event_array`, `prog_array`, map-in-map, `cgroup_array`:
 * 4 bytes). `maxEntries` 0 is valid for storage maps (`task_storage`, `sk_storage`, `inode_storage`,
 * `cgrp_storage`) and means "possible CPUs" for `perf_event_array`.
 */
export interface MapSpec<K = unknown, V = unknown> {
  /** Map type by name: 'hash', 'array', 'ringbuf', 'task_storage', ... */
  type: MapTypeName;
  /** Map name; the kernel keeps 15 characters of [A-Za-z0-9_.]. Objects: the C variable or section name. */
  name?: string;
  /** Key layout (typed access); overrides keySize. */
  key?: Layout<K>;
  /** Value layout (per CPU for per-CPU maps); overrides valueSize. */
  value?: Layout<V>;
  /** Key size in bytes (0: no key / loader default). */
  keySize?: number;
  /** Value size in bytes (0: loader default). */
  valueSize?: number;
  /** Entries; for ringbuf the byte size (rounded up to a page-aligned power of two). */
  maxEntries: number;
  /** BPF_F_* mask (see MAP_FLAG). */
  flags?: number;
  /** MAP_PIN.none (default) or MAP_PIN.byName. */
  pinning?: number;
  /** NUMA node (with BPF_F_NUMA_NODE). */
  numaNode?: number;
  /** map_extra: bloom filter hash count, arena address hint, ... */
  mapExtra?: number;
  /** array_of_maps / hash_of_maps: the inner map's spec (its template). */
  innerMap?: MapSpec;
  /** BTF type id of the key in the object's BTF (0/undefined: none). */
  keyTypeId?: number;
  /** BTF type id of the value in the object's BTF (for data maps: the DATASEC). */
  valueTypeId?: number;
  /** Initial contents, written after creation (global data: key 0 = the section bytes; map-in-map/prog_array slots). */
  contents?: MapEntrySpec[];
  /** Origin (default 'user'). */
  origin?: MapSpecOrigin;
}

/** Map types whose key and value are 4-byte fds or indexes, which libbpf fills in when the object omits them. */
const FOUR_BYTE_KV = new Set<MapTypeName>([
  'perf_event_array',
  'prog_array',
  'array_of_maps',
  'hash_of_maps',
  'cgroup_array',
]);
/** Storage maps: max_entries must be 0. */
export const STORAGE_MAP_TYPES: ReadonlySet<MapTypeName> = new Set<MapTypeName>([
  'task_storage',
  'sk_storage',
  'inode_storage',
  'cgrp_storage',
]);
const DEFAULT_PAGE_SIZE = 4096;

/** What resolveMapShape needs from the running kernel. */
export interface MapShapeEnv {
  /** Possible CPUs (perf_event_array with maxEntries 0). */
  possibleCpus: number;
  /** Page size (ringbuf rounding); default 4096. */
  pageSize?: number;
}

/** The final key size, value size and max entries the kernel gets, with libbpf's defaults applied. */
export interface MapShape {
  keySize: number;
  valueSize: number;
  maxEntries: number;
}

/**
 * Applies libbpf's defaults: 4/4 key/value for fd/index maps that omit them, possible CPUs for a
 * `perf_event_array` with 0 entries, ringbuf sizes rounded up to a page-aligned power of two.
 */
export function resolveMapShape(spec: MapSpec, env: MapShapeEnv): MapShape {
  let keySize = spec.key?.size ?? spec.keySize ?? 0;
  let valueSize = spec.value?.size ?? spec.valueSize ?? 0;
  let maxEntries = spec.maxEntries;
  if (FOUR_BYTE_KV.has(spec.type)) {
    keySize ||= 4;
    valueSize ||= 4;
  }
  if (spec.type === 'perf_event_array' && maxEntries === 0) maxEntries = env.possibleCpus;
  if ((spec.type === 'ringbuf' || spec.type === 'user_ringbuf') && maxEntries > 0) {
    const page = env.pageSize ?? DEFAULT_PAGE_SIZE;
    let sz = page;
    while (sz < maxEntries) sz *= 2;
    maxEntries = sz;
  }
  return { keySize, valueSize, maxEntries };
}

/** A deep copy: contents bytes and the inner spec are copied; layouts (immutable) are shared. */
export function copyMapSpec<K, V>(spec: MapSpec<K, V>): MapSpec<K, V> {
  const out: MapSpec<K, V> = { ...spec };
  if (spec.innerMap) out.innerMap = copyMapSpec(spec.innerMap);
  if (spec.contents) {
    out.contents = spec.contents.map((e) => ({
      key: e.key instanceof Uint8Array ? e.key.slice() : e.key,
      value: e.value instanceof Uint8Array ? e.value.slice() : { ...e.value },
    }));
  }
  return out;
}

/** Whether a value slot refers to another map or program of the object. */
export function isSlotRef(v: Uint8Array | MapSlotRef): v is MapSlotRef {
  return !(v instanceof Uint8Array);
}
