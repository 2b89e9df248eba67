// The backpressure, compression and multi-ring suites, quick: their own consistency checks must pass, and the
// properties they exist to show must hold (high-priority events all delivered; compact events identical).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runBench } from '../src/bench/runner.js';

test('backpressure, compression and multi-ring suites: checks pass, high priority arrives 100%, compact events rebuild exactly, per-CPU rings avoid contention', async () => {
  const doc = await runBench({
    suites: ['backpressure', 'compression', 'multi-ring'],
    quick: true,
    out: null,
    progressStream: null,
  });
  assert.deepEqual(doc.errors, {});
  for (const s of doc.suites) for (const [name, ok] of Object.entries(s.checks)) assert.ok(ok, `${s.suite}: ${name}`);
  const bp = doc.suites.find((s) => s.suite === 'backpressure')!;
  const row = (name: string) => bp.rows.find((r) => r.name === name)!;
  assert.equal(row('sample: high-priority events delivered').value, 100);
  assert.equal(row('sample: events lost (ring full)').value, 0);
  assert.ok(row('drop: events lost (ring full)').value > 10, 'the drop policy must actually be overloaded');
  assert.ok(row('sample: source rate / reader drain rate').value > 1.5, 'the source must outpace the reader');
  const cmp = doc.suites.find((s) => s.suite === 'compression')!;
  const ratio = cmp.rows.find((r) => r.name.startsWith('compression ratio'))!;
  assert.ok(ratio.value > 1.2, `ratio ${ratio.value}`);
  assert.ok(cmp.rows.find((r) => r.name.startsWith('open events per run'))!.value > 100);
  const mr = doc.suites.find((s) => s.suite === 'multi-ring')!;
  const contention = mr.rows.find((r) => r.name.startsWith('shared ring vs per-CPU rings'))!;
  assert.ok(contention.value > 1, `shared/per-CPU producer cost ${contention.value}`);
});
