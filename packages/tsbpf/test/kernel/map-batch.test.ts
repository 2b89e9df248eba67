import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BpfMap, t } from '../../src/index.js';

// Batch reads decode straight from the staging buffer (fast paths for u32 keys with t.u64num / t.u32
// values, typed-array copies for lookupBatchTyped): every test reads back known keys and values,
// with batch sizes that make the walk span several kernel calls.

const value = (k: number) => k * 3 + 1 + 2 ** 40; // needs both u32 halves of a u64

test('lookupBatch decodes u32 → u64num over several kernel calls (fast path)', () => {
  using m = BpfMap.create({ type: 'hash', key: t.u32, value: t.u64num, maxEntries: 5000 });
  const keys = Array.from({ length: 4000 }, (_, i) => i * 13 + 7);
  assert.equal(m.updateBatch(keys, keys.map(value)), keys.length);
  for (const batchSize of [1000, 333, 5000]) {
    const got = m.lookupBatch({ batchSize });
    assert.equal(got.keys.length, keys.length, `batchSize ${batchSize}`);
    assert.equal(new Set(got.keys).size, keys.length);
    for (let i = 0; i < got.keys.length; i++) assert.equal(got.values[i], value(got.keys[i]!));
  }
});

test('lookupBatchTyped: u32 → u64num as Uint32Array / Float64Array, across calls', () => {
  using m = BpfMap.create({ type: 'hash', key: t.u32, value: t.u64num, maxEntries: 5000 });
  const keys = Array.from({ length: 4000 }, (_, i) => i * 13 + 7);
  m.updateBatch(keys, keys.map(value));
  for (const batchSize of [1000, 333, undefined]) {
    const got = m.lookupBatchTyped(batchSize === undefined ? undefined : { batchSize });
    assert.ok(got.keys instanceof Uint32Array);
    assert.ok(got.values instanceof Float64Array);
    assert.equal(got.count, keys.length);
    assert.equal(got.keys.length, keys.length);
    assert.equal(got.values.length, keys.length);
    const seen = new Set<number>();
    for (let i = 0; i < got.count; i++) {
      seen.add(got.keys[i]!);
      assert.equal(got.values[i], value(got.keys[i]!));
    }
    assert.equal(seen.size, keys.length);
    for (const k of keys) assert.ok(seen.has(k));
  }
  // Agrees with lookupBatch, element by element (same kernel order).
  const a = m.lookupBatch({ batchSize: 777 });
  const b = m.lookupBatchTyped({ batchSize: 777 });
  assert.deepEqual([...b.keys], a.keys);
  assert.deepEqual([...b.values], a.values);
});

test('lookupBatchTyped({ into }) fills caller arrays in place, across calls, and checks them', () => {
  using m = BpfMap.create({ type: 'hash', key: t.u32, value: t.u64num, maxEntries: 3000 });
  const into = { keys: new Uint32Array(3000), values: new Float64Array(3000) };
  for (const n of [2500, 1200]) {
    m.lookupAndDeleteBatch();
    const keys = Array.from({ length: n }, (_, i) => i * 5 + 3);
    m.updateBatch(keys, keys.map(value));
    into.keys.fill(0xdead); // stale contents must not leak into the result
    const got = m.lookupBatchTyped({ batchSize: 256, into });
    assert.equal(got.count, n);
    assert.equal(got.keys.buffer, into.keys.buffer);
    assert.equal(got.values.buffer, into.values.buffer);
    assert.equal(got.keys.length, n);
    assert.deepEqual(
      [...got.keys].sort((x, y) => x - y),
      keys,
    );
    for (let i = 0; i < n; i++) assert.equal(got.values[i], value(got.keys[i]!));
  }
  assert.throws(
    () => m.lookupBatchTyped({ into: { keys: new Uint32Array(10), values: new Float64Array(10) } }),
    RangeError,
  );
  assert.throws(
    () => m.lookupBatchTyped({ into: { keys: new Int32Array(3000), values: new Float64Array(3000) } }),
    /Uint32Array/,
  );
});

test('lookupBatchTyped: u64 values as BigUint64Array, i32 values, u16 keys', () => {
  using big = BpfMap.create({ type: 'hash', key: t.u32, value: t.u64, maxEntries: 600 });
  const keys = Array.from({ length: 500 }, (_, i) => i);
  big.updateBatch(
    keys,
    keys.map((k) => (1n << 63n) + BigInt(k)),
  );
  const g = big.lookupBatchTyped({ batchSize: 64 });
  assert.ok(g.values instanceof BigUint64Array);
  assert.equal(g.count, 500);
  for (let i = 0; i < g.count; i++) assert.equal(g.values[i], (1n << 63n) + BigInt(g.keys[i]!));

  using small = BpfMap.create({ type: 'hash', key: t.u16, value: t.i32, maxEntries: 300 });
  const sk = Array.from({ length: 300 }, (_, i) => 65535 - i);
  small.updateBatch(
    sk,
    sk.map((k) => -k),
  );
  const s = small.lookupBatchTyped({ batchSize: 50 });
  assert.ok(s.keys instanceof Uint16Array);
  assert.ok(s.values instanceof Int32Array);
  assert.equal(s.count, 300);
  for (let i = 0; i < s.count; i++) assert.equal(s.values[i], -s.keys[i]!);
});

test('lookupAndDeleteBatchTyped empties the map and returns every entry', () => {
  using m = BpfMap.create({ type: 'hash', key: t.u32, value: t.u32, maxEntries: 3000 });
  const keys = Array.from({ length: 2500 }, (_, i) => i * 2);
  m.updateBatch(
    keys,
    keys.map((k) => k + 5),
  );
  const got = m.lookupAndDeleteBatchTyped({ batchSize: 400 });
  assert.equal(got.count, 2500);
  for (let i = 0; i < got.count; i++) assert.equal(got.values[i], got.keys[i]! + 5);
  assert.deepEqual(
    [...got.keys].sort((x, y) => x - y),
    keys,
  );
  assert.equal([...m.keys()].length, 0);
  assert.equal(m.lookupBatchTyped().count, 0);
});

test('lookupBatchTyped on per-CPU maps and arrays', () => {
  using p = BpfMap.create({ type: 'percpu_hash', key: t.u32, value: t.u32, maxEntries: 300 });
  const n = p.cpus;
  const keys = Array.from({ length: 200 }, (_, i) => i + 1);
  p.updateBatch(
    keys,
    keys.map((k) => Array.from({ length: n }, (_, c) => k * 10 + c)),
  );
  const g = p.lookupBatchTyped({ batchSize: 30 });
  assert.equal(g.count, 200);
  assert.equal(g.values.length, 200 * n);
  for (let i = 0; i < g.count; i++) for (let c = 0; c < n; c++) assert.equal(g.values[i * n + c], g.keys[i]! * 10 + c);

  using a = BpfMap.create({ type: 'percpu_array', key: t.u32, value: t.u64num, maxEntries: 40 });
  a.update(
    7,
    Array.from({ length: n }, (_, c) => 2 ** 33 + c),
  );
  const ag = a.lookupBatchTyped({ batchSize: 16 });
  assert.equal(ag.count, 40);
  assert.equal(ag.values[7 * n + (n - 1)], 2 ** 33 + n - 1);
  assert.equal(ag.values[6 * n], 0);

  using arr = BpfMap.create({ type: 'array', key: t.u32, value: t.f64, maxEntries: 100 });
  arr.update(99, 0.5);
  const fg = arr.lookupBatchTyped({ batchSize: 7 });
  assert.ok(fg.values instanceof Float64Array);
  assert.equal(fg.count, 100);
  assert.equal(fg.keys[99], 99);
  assert.equal(fg.values[99], 0.5);
});

test('lookupBatchTyped refuses non-numeric layouts', () => {
  using m = BpfMap.create({ type: 'hash', key: t.u32, value: t.struct({ a: t.u32 }), maxEntries: 4 });
  assert.throws(
    () => (m as any).lookupBatchTyped(),
    (e: Error) => e instanceof TypeError && /numeric values/.test(e.message) && /lookupBatch/.test(e.message),
  );
  using raw = BpfMap.create({ type: 'hash', keySize: 4, valueSize: 8, maxEntries: 4 });
  assert.throws(() => (raw as any).lookupBatchTyped(), /numeric keys/);
});
