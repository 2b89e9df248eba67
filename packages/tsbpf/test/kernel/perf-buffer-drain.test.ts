import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BpfMap, PerfBuffer, onlineCpus, type RecordView } from '../../src/index.js';
import { checkEvent, produce, producer, seqCounter } from '../support/event-progs.js';
import { kernelMappings } from '../support/mappings.js';

function perfMap(): BpfMap {
  return BpfMap.create({
    type: 'perf_event_array',
    keySize: 4,
    valueSize: 4,
    maxEntries: Math.max(...onlineCpus()) + 1,
    name: 'pdrain',
  });
}

test('perf drain fast path: a callback returning false keeps the rest; in order per CPU across consumes', () => {
  using map = perfMap();
  using seq = seqCounter();
  using prog = producer({ mode: 'perf', seq, ring: map });
  const got: number[] = [];
  let budget = 100;
  using pb = new PerfBuffer(map, (v, o, l) => {
    got.push(checkEvent(v, o, 32));
    assert.equal(l, 36);
    return --budget > 0;
  });
  produce(prog, 300);
  assert.equal(pb.consume(), 100, 'stopped at the sample whose callback returned false (it counts as delivered)');
  budget = Infinity;
  assert.equal(pb.consume(), 200);
  assert.equal(pb.consume(), 0);
  assert.deepEqual(
    [...got].sort((a, b) => a - b),
    Array.from({ length: 300 }, (_, i) => i),
  );
});

test('perf drain fast path: close() inside the callback stops the drain cleanly', () => {
  using map = perfMap();
  using seq = seqCounter();
  using prog = producer({ mode: 'perf', seq, ring: map });
  let calls = 0;
  const pb = new PerfBuffer(map, () => {
    if (++calls === 10) pb.close();
  });
  produce(prog, 50);
  assert.equal(pb.consume(), 10);
  assert.equal(pb.closed, true);
});

test("perf drain: close() inside the callback releases the rings at once; a kept view reads zeros, the callback's own error propagates", () => {
  using map = perfMap();
  using seq = seqCounter();
  using prog = producer({ mode: 'perf', seq, ring: map });
  let kept: { view: RecordView; off: number } | undefined;
  let calls = 0;
  let mappedInCb = 0,
    afterClose = 0;
  const pb = new PerfBuffer(map, (view, off) => {
    if (++calls === 5) {
      assert.equal(view.getUint32(off + 8, true), 64);
      mappedInCb = kernelMappings();
      pb.close();
      afterClose = kernelMappings();
      kept = { view, off };
    }
  });
  produce(prog, 50);
  assert.equal(pb.consume(), 5, 'the drain ends at the sample whose callback closed the reader');
  assert.equal(afterClose, mappedInCb - onlineCpus().length, "every CPU's ring released inside the callback");
  assert.equal(kept!.view.getUint32(kept!.off + 8, true), 0, 'zero pages in place of the ring, never its memory');
  assert.throws(() => pb.consume(), { code: 'ERR_CLOSED' });

  let n = 0;
  const pb2 = new PerfBuffer(map, () => {
    if (++n === 3) {
      pb2.close();
      throw new Error('after close');
    }
  });
  produce(prog, 50);
  assert.throws(() => pb2.consume(), /after close/, 'an error the callback throws after closing is not swallowed');
  assert.equal(pb2.closed, true);
});

test('perf drain: long drains span several data_tail batches; a throwing callback consumes its sample', () => {
  using map = perfMap();
  using seq = seqCounter();
  using prog = producer({ mode: 'perf', seq, ring: map });
  const got: number[] = [];
  let throwAt = 1500;
  using pb = new PerfBuffer(
    map,
    (v, o) => {
      const s = checkEvent(v, o, 32);
      got.push(s);
      if (got.length === throwAt) throw new Error('boom');
    },
    { pageCount: 64 },
  );
  // 4,000 samples × 48 bytes: 192 KB, wrapping the 256 KiB ring on the second round.
  for (let round = 0; round < 2; round++) {
    produce(prog, 4000);
    assert.throws(() => pb.consume(), /boom/);
    throwAt = -1;
    assert.equal(pb.consume(), 4000 - 1500, 'the sample whose callback threw was consumed');
    assert.equal(pb.consume(), 0);
    assert.equal(pb.lost, 0);
    throwAt = got.length + 1500;
  }
  assert.equal(got.length, 8000);
  assert.deepEqual(
    [...got].sort((a, b) => a - b),
    [...Array.from({ length: 4000 }, (_, i) => i), ...Array.from({ length: 4000 }, (_, i) => i + 4000)].sort(
      (a, b) => a - b,
    ),
  );
});
