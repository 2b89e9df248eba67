import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, rmSync, existsSync } from 'node:fs';
import { BpfMap, BpfError, t, possibleCpus, MAP_FLAG } from '../../src/index.js';

const Event = t.struct({ pid: t.u32, uid: t.u32, timestamp: t.u64, comm: t.cstring(16) });

test('every listed map type can be created and reports its info', () => {
  const inner = BpfMap.create({ type: 'array', keySize: 4, valueSize: 8, maxEntries: 4 });
  const specs: Parameters<typeof BpfMap.create>[0][] = [
    { type: 'hash', key: t.u32, value: t.u64, maxEntries: 16 },
    { type: 'array', key: t.u32, value: t.u64, maxEntries: 16 },
    { type: 'percpu_hash', key: t.u32, value: t.u64, maxEntries: 16 },
    { type: 'percpu_array', key: t.u32, value: t.u64, maxEntries: 16 },
    { type: 'lru_hash', key: t.u32, value: t.u64, maxEntries: 16 },
    { type: 'lru_percpu_hash', key: t.u32, value: t.u64, maxEntries: 16 },
    { type: 'lpm_trie', key: t.struct({ prefixlen: t.u32, addr: t.bytes(4) }), value: t.u32, maxEntries: 16 },
    { type: 'ringbuf', maxEntries: 4096 },
    { type: 'perf_event_array', keySize: 4, valueSize: 4, maxEntries: possibleCpus() },
    { type: 'prog_array', keySize: 4, valueSize: 4, maxEntries: 4 },
    { type: 'queue', value: t.u32, maxEntries: 8 },
    { type: 'stack', value: t.u32, maxEntries: 8 },
    { type: 'bloom_filter', value: t.u32, maxEntries: 64, mapExtra: 3 },
    { type: 'array_of_maps', keySize: 4, maxEntries: 4, innerMap: inner },
    { type: 'hash_of_maps', keySize: 4, maxEntries: 4, innerMap: inner },
  ];
  for (const spec of specs) {
    const m = BpfMap.create({ ...spec, name: `t_${spec.type}`.slice(0, 15) });
    const info = m.info();
    assert.equal(info.type, spec.type);
    assert.equal(info.maxEntries, spec.maxEntries);
    assert.equal(info.name, `t_${spec.type}`.slice(0, 15));
    assert.ok(info.id > 0);
    m.close();
    m.close(); // twice is safe
    assert.throws(() => m.fd, /closed/);
  }
  inner.close();
});

test('typed values round-trip through a hash map', () => {
  using m = BpfMap.create({ type: 'hash', key: t.u32, value: Event, maxEntries: 64 });
  const ev = { pid: 4242, uid: 1000, timestamp: 123456789012345n, comm: 'node' };
  m.update(7, ev);
  assert.deepEqual(m.lookup(7), ev);
  assert.equal(m.lookup(8), undefined);
  assert.throws(
    () => m.update(7, ev, 'noexist'),
    (e: unknown) => e instanceof BpfError && e.code === 'EEXIST',
  );
  assert.throws(
    () => m.update(9, ev, 'exist'),
    (e: unknown) => e instanceof BpfError && e.code === 'ENOENT',
  );
  m.update(7, { ...ev, pid: 1 }, 'exist');
  assert.equal(m.lookup(7).pid, 1);
  assert.deepEqual(m.lookupAndDelete(7), { ...ev, pid: 1 });
  assert.equal(m.lookup(7), undefined);
  assert.equal(m.delete(7), false);
});

test('bad arguments are rejected before any syscall', () => {
  assert.throws(
    () => BpfMap.create({ type: 'nope' as any, keySize: 4, valueSize: 4, maxEntries: 1 }),
    /unknown map type "nope"/,
  );
  assert.throws(() => BpfMap.create({ type: 'hash', keySize: 0, valueSize: 4, maxEntries: 1 }), /need a key/);
  assert.throws(() => BpfMap.create({ type: 'hash', keySize: 4, valueSize: 4, maxEntries: 0 }), /maxEntries/);
  assert.throws(() => BpfMap.create({ type: 'ringbuf', maxEntries: 0 }), /ring size in bytes/);
  // libbpf's rule: a ring size is rounded up to a page-aligned power of two.
  using ring = BpfMap.create({ type: 'ringbuf', maxEntries: 1000 });
  assert.equal(ring.info().maxEntries, 4096);
  using m = BpfMap.create({ type: 'hash', key: t.u32, value: t.u8, maxEntries: 4 });
  assert.throws(() => m.update(1, 300), /does not fit in u8/);
  assert.throws(() => m.update(-1, 3), /does not fit in u32/);
  assert.throws(() => m.update('x' as any, 3), /expects a number/);
  using raw = BpfMap.create({ type: 'hash', keySize: 3, valueSize: 4, maxEntries: 4 });
  assert.throws(() => raw.update(new Uint8Array(2), new Uint8Array(4)), /must be 3 bytes/);
});

test('iteration is safe when deleting the yielded key', () => {
  using m = BpfMap.create({ type: 'hash', key: t.u32, value: t.u32, maxEntries: 128 });
  for (let i = 0; i < 100; i++) m.update(i, i * 2);
  const seen = new Set<number>();
  for (const k of m.keys()) {
    seen.add(k);
    m.delete(k);
  }
  assert.equal(seen.size, 100);
  assert.equal([...m.keys()].length, 0);
  for (let i = 0; i < 10; i++) m.update(i, i * 3);
  const entries = new Map(m.entries());
  assert.equal(entries.size, 10);
  for (let i = 0; i < 10; i++) assert.equal(entries.get(i), i * 3);
});

test('per-CPU maps read one value per possible CPU and sum without BigInt', () => {
  const n = possibleCpus();
  using m = BpfMap.create({ type: 'percpu_array', key: t.u32, value: t.u64, maxEntries: 4 });
  const vals = Array.from({ length: n }, (_, i) => BigInt(10 + i));
  m.update(1, vals);
  assert.deepEqual(m.lookup(1), vals);
  assert.equal(
    m.sum(1),
    vals.reduce((a, b) => a + Number(b), 0),
  );
  const S = t.struct({ tcp: t.u64, udp: t.u64, icmp: t.u64, other: t.u64 });
  using s = BpfMap.create({ type: 'percpu_hash', key: t.u32, value: S, maxEntries: 4 });
  s.update(
    0,
    Array.from({ length: n }, (_, i) => ({ tcp: BigInt(i + 1), udp: 2n, icmp: 3n, other: 0n })),
  );
  assert.deepEqual(s.sum(0), { tcp: (n * (n + 1)) / 2, udp: 2 * n, icmp: 3 * n, other: 0 });
  assert.throws(() => m.update(1, [1n]), /array of \d+ values/);
});

test('batch operations: update, lookup, lookup-and-delete, delete', () => {
  for (const type of ['hash', 'lru_hash', 'percpu_hash'] as const) {
    using m = BpfMap.create({ type, key: t.u32, value: t.u64, maxEntries: 20000 });
    const n = 10000;
    const keys = Array.from({ length: n }, (_, i) => i * 7 + 1);
    const perCpu = type === 'percpu_hash';
    const values = keys.map((k) => (perCpu ? Array.from({ length: m.cpus }, (_, c) => BigInt(k + c)) : BigInt(k * 3)));
    assert.equal(m.updateBatch(keys, values), n);
    const got = m.lookupBatch({ batchSize: 1000 });
    assert.equal(got.keys.length, n, type);
    const byKey = new Map(got.keys.map((k, i) => [k, got.values[i]]));
    for (let i = 0; i < n; i += 997) assert.deepEqual(byKey.get(keys[i]!), values[i]);
    assert.equal(m.deleteBatch(keys.slice(0, 5000)), 5000);
    const rest = m.lookupAndDeleteBatch();
    assert.equal(rest.keys.length, 5000, type);
    assert.equal([...m.keys()].length, 0);
  }
  // Arrays: lookup batch works; lookup-and-delete is refused by the kernel and falls back (also refused).
  using a = BpfMap.create({ type: 'array', key: t.u32, value: t.u32, maxEntries: 100 });
  a.updateBatch([1, 2, 3], [10, 20, 30]);
  const all = a.lookupBatch();
  assert.equal(all.keys.length, 100);
  assert.equal(all.values[3], 30);
  assert.equal(all.values[0], 0);
});

test('queue, stack and bloom filter', () => {
  using q = BpfMap.create({ type: 'queue', value: t.u32, maxEntries: 4 });
  q.push(1);
  q.push(2);
  q.push(3);
  assert.equal(q.peek(), 1);
  assert.deepEqual([q.pop(), q.pop(), q.pop(), q.pop()], [1, 2, 3, undefined]);
  using s = BpfMap.create({ type: 'stack', value: t.u32, maxEntries: 4 });
  s.push(1);
  s.push(2);
  assert.deepEqual([s.pop(), s.pop()], [2, 1]);
  using b = BpfMap.create({ type: 'bloom_filter', value: t.u32, maxEntries: 100, mapExtra: 3 });
  b.push(42);
  assert.equal(b.has(42), true);
  assert.equal(b.has(43), false);
});

test('lpm trie longest-prefix match', () => {
  const Key = t.struct({ prefixlen: t.u32, addr: t.bytes(4) });
  using m = BpfMap.create({ type: 'lpm_trie', key: Key, value: t.u32, maxEntries: 16 });
  m.update({ prefixlen: 8, addr: new Uint8Array([10, 0, 0, 0]) }, 8);
  m.update({ prefixlen: 24, addr: new Uint8Array([10, 1, 2, 0]) }, 24);
  assert.equal(m.lookup({ prefixlen: 32, addr: new Uint8Array([10, 1, 2, 3]) }), 24);
  assert.equal(m.lookup({ prefixlen: 32, addr: new Uint8Array([10, 9, 9, 9]) }), 8);
  assert.equal(m.lookup({ prefixlen: 32, addr: new Uint8Array([11, 0, 0, 1]) }), undefined);
});

test('pin, reopen from pin and by id, freeze', () => {
  const path = `/sys/fs/bpf/tsbpf-test-${process.pid}/counts`;
  try {
    using m = BpfMap.create({ type: 'hash', key: t.u32, value: t.u64, maxEntries: 8, name: 'pinned' });
    m.update(1, 99n);
    m.pin(path);
    using again = BpfMap.fromPin(path, { key: t.u32, value: t.u64 });
    assert.equal(again.lookup(1), 99n);
    assert.equal(again.name, 'pinned');
    using byId = BpfMap.fromId(m.info().id, { key: t.u32, value: t.u64 });
    assert.equal(byId.lookup(1), 99n);
    m.freeze();
    assert.throws(
      () => m.update(2, 1n),
      (e: unknown) => e instanceof BpfError && e.code === 'EPERM',
    );
    assert.equal(m.lookup(1), 99n);
  } finally {
    rmSync(`/sys/fs/bpf/tsbpf-test-${process.pid}`, { recursive: true, force: true });
  }
});

test("mmapable arrays are exposed as a view; close() releases the map's pages and the view reads zeros", () => {
  const m = BpfMap.create({ type: 'array', key: t.u32, value: t.u64, maxEntries: 4, flags: MAP_FLAG.mmapable });
  const view = m.mmap();
  m.update(2, 77n);
  assert.equal(view.getBigUint64(16, true), 77n);
  view.setBigUint64(24, 5n, true);
  assert.equal(m.lookup(3), 5n);
  const mapped = mappedMapBytes();
  m.close();
  assert.equal(mappedMapBytes(), mapped - 4096, "the map's page is unmapped at close()");
  // Zero pages took its place (not a detach: see native.unmap), so the view never faults.
  assert.equal(view.getBigUint64(16, true), 0n);
});

function fdCount(): number {
  return readdirSync('/proc/self/fd').length;
}
/** Bytes this process has mapped from BPF maps (the kernel names those mappings anon_inode:bpf-map). */
function mappedMapBytes(): number {
  let total = 0;
  for (const line of readFileSync('/proc/self/maps', 'utf8').split('\n')) {
    const m = /^([0-9a-f]+)-([0-9a-f]+) .*anon_inode:bpf-map/.exec(line);
    if (m) total += parseInt(m[2]!, 16) - parseInt(m[1]!, 16);
  }
  return total;
}

test('10,000 create/close cycles leave fds and mapped memory where they started', () => {
  const fds0 = fdCount();
  const mem0 = mappedMapBytes();
  for (let i = 0; i < 10000; i++) {
    const m = BpfMap.create({ type: 'array', key: t.u32, value: t.u64, maxEntries: 1, flags: MAP_FLAG.mmapable });
    m.mmap();
    m.close();
  }
  assert.equal(fdCount(), fds0);
  // Only map mappings are counted: the whole address space also moves with V8's heap (CI once saw
  // +24 MB there), which would hide or fake a leak of one 4 KiB mapping per cycle.
  assert.equal(mappedMapBytes() - mem0, 0, `mapped map memory grew by ${mappedMapBytes() - mem0}`);
  assert.ok(existsSync('/proc/self/fd'));
});
