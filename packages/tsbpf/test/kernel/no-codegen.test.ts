import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import assert from 'node:assert/strict';

/*
 * The ring and perf buffer readers generate their drains with new Function. Where code generation
 * from strings is disabled (node --disallow-code-generation-from-strings, a CSP-like policy), they
 * fall back to one shared drain loop each. This runs both readers in such a child: every event once
 * and in order, a callback's false stops the drain, close() inside a callback ends it and leaves no
 * readable mapping behind.
 */
test('without code generation from strings both readers fall back to their shared drains and behave the same', () => {
  const src = (p: string) => JSON.stringify(new URL(p, import.meta.url).href);
  const code = `
    import assert from 'node:assert/strict';
    import { BpfMap, PerfBuffer, RingBuffer, onlineCpus } from ${src('../../src/index.ts')};
    import { checkEvent, produce, producer, seqCounter } from ${src('../support/event-progs.ts')};
    assert.throws(() => new Function('return 1'), EvalError, 'the flag is in effect');
    const range = (a, b) => Array.from({ length: b - a }, (_, i) => a + i);

    // Ring buffer.
    {
      const ring = BpfMap.create({ type: 'ringbuf', maxEntries: 1 << 16, name: 'nocg_ring' });
      const seq = seqCounter();
      const prog = producer({ mode: 'reserve', seq, ring });
      const got = [];
      let budget = 100;
      const rb = new RingBuffer(ring, (v, o, l) => { got.push(checkEvent(v, o, l)); return --budget > 0; });
      produce(prog, 300);
      assert.equal(rb.consume(), 100);
      budget = Infinity;
      assert.equal(rb.consume(), 200);
      assert.deepEqual(got, range(0, 300));
      let kept;
      let n = 0;
      const rb2 = new RingBuffer(ring, (v, o) => { if (++n === 5) { rb2.close(); kept = { v, o }; } });
      produce(prog, 50);
      assert.equal(rb2.consume(), 5);
      assert.equal(kept.v.getUint32(kept.o + 8, true), 0, 'ring: zero pages in place of the ring after close (word 2 of every event is 64)');
      rb.close(); prog.close(); seq.close(); ring.close();
    }

    // Perf buffer.
    {
      const map = BpfMap.create({ type: 'perf_event_array', keySize: 4, valueSize: 4, maxEntries: Math.max(...onlineCpus()) + 1, name: 'nocg_perf' });
      const seq = seqCounter();
      const prog = producer({ mode: 'perf', seq, ring: map });
      const got = [];
      let budget = 100;
      const pb = new PerfBuffer(map, (v, o, l) => { got.push(checkEvent(v, o, 32)); assert.equal(l, 36); return --budget > 0; });
      produce(prog, 300);
      assert.equal(pb.consume(), 100);
      budget = Infinity;
      assert.equal(pb.consume(), 200);
      assert.deepEqual([...got].sort((a, b) => a - b), range(0, 300));
      pb.close();
      let kept;
      let n = 0;
      const pb2 = new PerfBuffer(map, (v, o) => { if (++n === 5) { pb2.close(); kept = { v, o }; } });
      produce(prog, 50);
      assert.equal(pb2.consume(), 5);
      assert.equal(kept.v.getUint32(kept.o + 8, true), 0, 'perf: zero pages in place of the ring after close');
      prog.close(); seq.close(); map.close();
    }
    console.log('done');`;
  const r = spawnSync(
    process.execPath,
    ['--disallow-code-generation-from-strings', '--import', 'tsx', '--input-type=module', '-e', code],
    { encoding: 'utf8', timeout: 60_000 },
  );
  assert.equal(r.signal, null, `child did not exit by itself (${r.stderr})`);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /done/);
});
