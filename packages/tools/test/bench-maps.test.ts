/**
 * The maps, percpu, batch and helpers bench suites in quick mode: they run on the real kernel and
 * their measurements are internally consistent (counts equal what was produced, the racy counter
 * loses updates while per-CPU and atomic do not, C and tsbpf batch results agree).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { BenchContext, SuiteResult } from '../src/bench/suite.js';
import { suite as maps } from '../src/bench/maps.js';
import { suite as percpu } from '../src/bench/percpu.js';
import { suite as batch } from '../src/bench/batch.js';
import { suite as helpers } from '../src/bench/helpers.js';

const ctx: BenchContext = { quick: true, repeats: 2, progress() {}, log() {} };

function assertChecks(res: SuiteResult): void {
  assert.ok(Object.keys(res.checks).length > 0, `${res.suite} reports checks`);
  for (const [name, ok] of Object.entries(res.checks)) assert.equal(ok, true, `${res.suite}: ${name}`);
  for (const r of res.rows)
    if (r.verdict !== 'not comparable') assert.ok(Number.isFinite(r.value), `${res.suite}: ${r.name} is a number`);
}

const row = (res: SuiteResult, name: string) => {
  const r = res.rows.find((x) => x.name === name);
  assert.ok(r, `${res.suite} has row "${name}"`);
  return r;
};

test('maps: every map type measured in BPF and from user space, tsbpf vs C', async () => {
  const res = await maps.run(ctx);
  assertChecks(res);
  for (const type of ['hash', 'array', 'percpu_array', 'percpu_hash', 'lru_hash']) {
    assert.ok(row(res, `${type} lookup, in BPF`).value >= 0);
    assert.ok(row(res, `${type} update, in BPF`).value > 0);
    const ts = row(res, `${type} lookup, user space, tsbpf`);
    assert.ok(ts.value > 0 && ts.ratio && ts.ratio.value > 0);
    assert.ok(row(res, `${type} lookup, user space, libbpf C`).value > 0);
  }
  // Inlined array lookups are far cheaper in BPF than hashing.
  assert.ok(row(res, 'array lookup, in BPF').value < row(res, 'hash lookup, in BPF').value);
});

test('batch: tsbpf and C agree on the 10k-entry map; every element is read, written and deleted', async () => {
  const res = await batch.run(ctx);
  assertChecks(res);
  assert.equal(res.checks['C and tsbpf batch lookups agree (count, key and value checksums)'], true);
  for (const op of ['lookup', 'update', 'delete']) {
    assert.ok(row(res, `${op}: batch, tsbpf`).ratio!.value > 0);
    assert.ok(row(res, `${op}: batch speedup, libbpf C`).value > 1, `${op}: batching helps C`);
  }
});

test('percpu: racy counter loses updates, atomic and per-CPU are exact', async () => {
  const res = await percpu.run(ctx);
  assertChecks(res);
  assert.ok(row(res, 'shared counter, racy load/add/store: lost updates').value > 0);
  assert.ok(res.rows.find((r) => r.name.startsWith('per-CPU counter, ')) ?? row(res, 'per-CPU counter').value > 0);
});

test('helpers: every helper in the table has a cost, in a plausible order', async () => {
  const res = await helpers.run(ctx);
  assertChecks(res);
  // The verifier inlines get_smp_processor_id; a hash update takes a lock and copies.
  assert.ok(row(res, 'get_smp_processor_id').value < row(res, 'map_update_elem (hash)').value);
  assert.ok(row(res, 'map_lookup_elem (hash)').value < row(res, 'map_update_elem (hash)').value);
});
