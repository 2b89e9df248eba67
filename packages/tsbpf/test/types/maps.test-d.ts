/**
 * Compile-time tests of the typed map classes: `tsc -p test/types` must accept every line, and every
 * `@ts-expect-error` must mark a real error (tsc fails on an unused one). Never run: the maps are declared.
 * test/unit/types.test.ts runs the compiler.
 */
import {
  BpfMap,
  t,
  HashMap,
  type LruHash,
  ArrayMap,
  type PerCpuArray,
  type PerCpuHash,
  type LruPerCpuHash,
  type LpmTrie,
  type Queue,
  type Stack,
  type BloomFilter,
  RingBufMap,
  type PerfEventArray,
  type ProgArray,
  type ArrayOfMaps,
  type HashOfMaps,
  type TaskStorage,
  type SkStorage,
  type InodeStorage,
  type CgrpStorage,
  type GenericMap,
  RingBuffer,
  PerfBuffer,
  type MapSpec,
  type Program,
} from '../../src/index.js';

/** Exact type equality: `expectType<T>()(value)` fails unless value's type is exactly T. */
type Equal<A, B> = (<G>() => G extends A ? 1 : 2) extends <G>() => G extends B ? 1 : 2 ? true : false;
function expectType<T>(): <U>(value: U & (Equal<T, U> extends true ? unknown : never)) => void {
  return () => {};
}

declare const prog: Program;
const Event = t.struct({ pid: t.u32, comm: t.cstring(16), ts: t.u64 });
type Event = { pid: number; comm: string; ts: bigint };

function hash(): void {
  const m = BpfMap.create({ type: 'hash', key: t.u32, value: t.u64, maxEntries: 16 });
  expectType<HashMap<number, bigint>>()(m);
  m.update(1, 2n);
  m.update(1, 2n, 'noexist');
  expectType<bigint | undefined>()(m.lookup(1));
  expectType<boolean>()(m.delete(1));
  expectType<{ keys: number[]; values: bigint[] }>()(m.lookupBatch());
  for (const [k, v] of m) {
    expectType<number>()(k);
    expectType<bigint>()(v);
  }
  // @ts-expect-error: wrong key type
  m.lookup('1');
  // @ts-expect-error: a string where a bigint is expected
  m.update(1, 'not a bigint');
  // @ts-expect-error: wrong value type in a batch
  m.updateBatch([1], ['x']);
  // @ts-expect-error: update flag names are checked
  m.update(1, 2n, 'sometimes');
  // @ts-expect-error: push is for queues, stacks and bloom filters
  m.push(1n);
  // @ts-expect-error: pop is for queues and stacks
  m.pop();
  // @ts-expect-error: sum is for per-CPU maps
  m.sum(1);
  // Base-class operations remain.
  m.pin('/sys/fs/bpf/x');
  m.freeze();
  expectType<number>()(m.fd);
  m.close();
}

function structs(): void {
  const m = BpfMap.create({ type: 'lru_hash', key: t.u32, value: Event, maxEntries: 16 });
  expectType<LruHash<number, Event>>()(m);
  const e = m.lookup(1);
  expectType<Event | undefined>()(e);
  m.update(1, { pid: 1, comm: 'x', ts: 1n });
  // @ts-expect-error: missing field
  m.update(1, { pid: 1, comm: 'x' });
  // @ts-expect-error: a field of the wrong type
  m.update(1, { pid: 1, comm: 2, ts: 1n });
  const arr = BpfMap.create({ type: 'array', key: t.u32, value: t.array(t.u16, 4), maxEntries: 4 });
  expectType<ArrayMap<number[]>>()(arr);
  expectType<number[] | undefined>()(arr.lookup(0));
}

function raw(): void {
  const m = BpfMap.create({ type: 'hash', keySize: 8, valueSize: 16, maxEntries: 4 });
  expectType<HashMap<Uint8Array, Uint8Array>>()(m);
  expectType<Uint8Array | undefined>()(m.lookup(new Uint8Array(8)));
}

function array(): void {
  const m = BpfMap.create({ type: 'array', value: t.u32, keySize: 4, maxEntries: 4 });
  expectType<ArrayMap<number>>()(m);
  m.update(0, 5);
  expectType<number | undefined>()(m.lookup(0));
  m.mmap();
  // @ts-expect-error: array elements cannot be deleted
  m.delete(0);
  // @ts-expect-error: array keys are numbers
  m.lookup('0');
}

function perCpu(): void {
  const a = BpfMap.create({ type: 'percpu_array', key: t.u32, value: t.u64, maxEntries: 4 });
  expectType<PerCpuArray<bigint>>()(a);
  expectType<bigint[] | undefined>()(a.lookup(0));
  expectType<number | undefined>()(a.sum(0));
  a.update(0, [1n, 2n]);
  // @ts-expect-error: per-CPU maps take one value per CPU
  a.update(0, 1n);
  const h = BpfMap.create({ type: 'percpu_hash', key: t.u32, value: t.u64num, maxEntries: 4 });
  expectType<PerCpuHash<number, number>>()(h);
  expectType<number | undefined>()(h.sum(3));
  const l = BpfMap.create({ type: 'lru_percpu_hash', key: t.u32, value: t.u32, maxEntries: 4 });
  expectType<LruPerCpuHash<number, number>>()(l);
  const s = BpfMap.create({
    type: 'percpu_array',
    key: t.u32,
    value: t.struct({ packets: t.u64, bytes: t.u64 }),
    maxEntries: 1,
  });
  expectType<{ packets: bigint; bytes: bigint }[] | undefined>()(s.lookup(0));
  expectType<{ packets: number; bytes: number } | undefined>()(s.sumFields(0));
  // @ts-expect-error: sum is for numeric values; structs use sumFields
  s.sum(0);
  const sh = BpfMap.create({ type: 'percpu_hash', key: t.u32, value: t.struct({ n: t.u32 }), maxEntries: 1 });
  // @ts-expect-error: sum is for numeric values
  sh.sum(0);
  const c = BpfMap.create({ type: 'percpu_array', key: t.u32, value: t.cstring(8), maxEntries: 1 });
  // @ts-expect-error: sumFields is for structs of integers
  c.sumFields(0);
}

function queues(): void {
  const q = BpfMap.create({ type: 'queue', value: t.u32, maxEntries: 8 });
  expectType<Queue<number>>()(q);
  q.push(1);
  expectType<number | undefined>()(q.pop());
  expectType<number | undefined>()(q.peek());
  // @ts-expect-error: queues have no keys
  q.lookup(0);
  // @ts-expect-error: wrong value type
  q.push('1');
  const s = BpfMap.create({ type: 'stack', value: t.u64, maxEntries: 8 });
  expectType<Stack<bigint>>()(s);
  s.push(1n);
  const b = BpfMap.create({ type: 'bloom_filter', value: t.u32, maxEntries: 64, mapExtra: 3 });
  expectType<BloomFilter<number>>()(b);
  b.push(7);
  expectType<boolean>()(b.has(7));
  // @ts-expect-error: a bloom filter cannot pop
  b.pop();
}

function readers(): void {
  const r = BpfMap.create({ type: 'ringbuf', maxEntries: 4096 });
  expectType<RingBufMap>()(r);
  new RingBuffer(r, () => {});
  // @ts-expect-error: a ring buffer has no lookup
  r.lookup(0);
  // @ts-expect-error: nor update
  r.update(0, 1);
  const p = BpfMap.create({ type: 'perf_event_array', maxEntries: 0 });
  expectType<PerfEventArray>()(p);
  new PerfBuffer(p, () => {});
  // @ts-expect-error: no lookup on a perf event array
  p.lookup(0);
}

function fdMaps(): void {
  const pa = BpfMap.create({ type: 'prog_array', maxEntries: 4 });
  expectType<ProgArray>()(pa);
  pa.set(0, prog);
  pa.set(1, prog.fd);
  expectType<number | undefined>()(pa.get(0));
  // @ts-expect-error: a prog array holds programs, not strings
  pa.set(0, 'prog');
  const inner: MapSpec = { type: 'array', keySize: 4, valueSize: 8, maxEntries: 4 };
  const aom = BpfMap.create({ type: 'array_of_maps', maxEntries: 4, innerMap: inner });
  expectType<ArrayOfMaps>()(aom);
  const m = BpfMap.create(inner);
  aom.set(0, m);
  // @ts-expect-error: slots hold maps
  aom.set(0, {});
  const hom = BpfMap.create({ type: 'hash_of_maps', key: t.u32, maxEntries: 4, innerMap: inner });
  expectType<HashOfMaps<number>>()(hom);
  hom.set(5, m);
}

function storage(): void {
  const ts = BpfMap.create({ type: 'task_storage', value: t.u64, maxEntries: 0 });
  expectType<TaskStorage<bigint>>()(ts);
  ts.update(3, 1n);
  expectType<bigint | undefined>()(ts.lookup(3));
  // @ts-expect-error: keyed by an fd (a number)
  ts.lookup('3');
  // @ts-expect-error: storage maps cannot be iterated from user space
  ts.keys();
  expectType<SkStorage<number>>()(BpfMap.create({ type: 'sk_storage', value: t.u32, maxEntries: 0 }));
  expectType<InodeStorage<number>>()(BpfMap.create({ type: 'inode_storage', value: t.u32, maxEntries: 0 }));
  expectType<CgrpStorage<number>>()(BpfMap.create({ type: 'cgrp_storage', value: t.u32, maxEntries: 0 }));
  expectType<LpmTrie<{ prefixlen: number; addr: Uint8Array }, number>>()(
    BpfMap.create({
      type: 'lpm_trie',
      key: t.struct({ prefixlen: t.u32, addr: t.bytes(4) }),
      value: t.u32,
      maxEntries: 4,
    }),
  );
  expectType<GenericMap<number, number>>()(BpfMap.create({ type: 'devmap', key: t.u32, value: t.u32, maxEntries: 4 }));
}

function views(loaded: BpfMap): void {
  // @ts-expect-error: the base class has no element operations: narrow first
  loaded.lookup(1);
  const h = HashMap.from(loaded, { key: t.u32, value: Event });
  expectType<HashMap<number, Event>>()(h);
  expectType<HashMap<number, bigint>>()(HashMap.from<number, bigint>(loaded, { key: t.u32, value: t.u64 }));
  // @ts-expect-error: explicit type arguments must match the layouts
  HashMap.from<number, string>(loaded, { key: t.u32, value: t.u64 });
  expectType<ArrayMap<bigint>>()(ArrayMap.from(loaded, { value: t.u64 }));
  expectType<RingBufMap>()(RingBufMap.from(loaded));
  expectType<PerCpuArray<number>>()(loaded.as('percpu_array', { value: t.u64num }));
  expectType<HashMap<number, bigint>>()(loaded.as('hash', { key: t.u32, value: t.u64 }));
  expectType<Queue<unknown>>()(loaded.as('queue'));
  // @ts-expect-error: not a map type
  loaded.as('hashmap');
}

function specs(): void {
  const spec: MapSpec<number, bigint> = { type: 'hash', key: t.u32, value: t.u64, maxEntries: 8 };
  // A spec typed as MapSpec has a wide `type`: the result is one of the classes.
  const m = BpfMap.create(spec);
  if (m instanceof HashMap) m.lookup(1);
  const h = BpfMap.create({ ...spec, type: 'hash' });
  expectType<HashMap<number, bigint>>()(h);
  // @ts-expect-error: flags are a BPF_F_* mask
  BpfMap.create({ type: 'hash', key: t.u32, value: t.u32, maxEntries: 1, flags: ['no_prealloc'] });
  // @ts-expect-error: unknown map type
  BpfMap.create({ type: 'hashmap', key: t.u32, value: t.u32, maxEntries: 1 });
}

export const all = [hash, structs, raw, array, perCpu, queues, readers, fdMaps, storage, views, specs];
