import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BpfMap, ClosedError, RingBuffer } from '../../src/index.js';
import { checkEvent, produce, produceInWorker, producer, seqCounter } from '../support/event-progs.js';

const range = (n: number) => Array.from({ length: n }, (_, i) => i);

test('runBlocking(): one wake-up drains what is there, then the budget tick, then idle flush ticks', () => {
  using ring = BpfMap.create({ type: 'ringbuf', maxEntries: 1 << 16, name: 'blk_events' });
  using seq = seqCounter();
  using prog = producer({ mode: 'reserve', seq, ring });
  const seqs: number[] = [];
  using rb = new RingBuffer(
    ring,
    (v, o, l) => {
      seqs.push(checkEvent(v, o, l));
    },
    { maxLatencyMs: 5, flushMs: 200 },
  );
  produce(prog, 300);
  const calls: { n: number; at: number }[] = [];
  const t0 = performance.now();
  rb.runBlocking({
    afterDrain: (n) => {
      calls.push({ n, at: performance.now() - t0 });
      return calls.length === 3;
    },
  });
  assert.deepEqual(seqs, range(300));
  assert.equal(calls[0]!.n, 300, 'the ring was readable at once: everything in the first drain');
  assert.equal(calls[1]!.n, 0);
  const tick = calls[1]!.at - calls[0]!.at;
  assert.ok(
    tick >= 4.5 && tick < 150,
    `busy: the second drain is the budget tick, not the flush deadline (${tick.toFixed(2)} ms)`,
  );
  assert.equal(calls[2]!.n, 0);
  assert.ok(
    calls[2]!.at - calls[1]!.at >= 190,
    `idle: the next look is the flush deadline (${(calls[2]!.at - calls[1]!.at).toFixed(2)} ms)`,
  );
  assert.equal(rb.stats.wakeups, 1, 'one fd wake-up');
});

test('runBlocking(): a concurrent producer thread, every record once and in order', async () => {
  using ring = BpfMap.create({ type: 'ringbuf', maxEntries: 1 << 20, name: 'blk_events' });
  using seq = seqCounter();
  using prog = producer({ mode: 'reserve', seq, ring });
  const seqs: number[] = [];
  using rb = new RingBuffer(
    ring,
    (v, o, l) => {
      seqs.push(checkEvent(v, o, l));
    },
    { maxLatencyMs: 1 },
  );
  const total = 40 * 250;
  const done = produceInWorker(prog, { bursts: 40, repeat: 250, gapMs: 1 });
  const t0 = performance.now();
  let drains = 0;
  rb.runBlocking({
    afterDrain: (n) => {
      if (n > 0) drains++;
      return seqs.length >= total || performance.now() - t0 > 20_000;
    },
  });
  await done;
  assert.deepEqual(seqs, range(total));
  assert.ok(drains >= 1 && drains <= total / 10, `records batched into drains (${drains} drains for ${total} records)`);
});

test('runBlocking(): close() in a callback ends the loop; argument and closed errors', () => {
  using ring = BpfMap.create({ type: 'ringbuf', maxEntries: 1 << 16, name: 'blk_events' });
  using seq = seqCounter();
  using prog = producer({ mode: 'reserve', seq, ring });
  const rb = new RingBuffer(ring, () => {
    rb.close();
  });
  assert.throws(
    () => rb.runBlocking({ afterDrain: 1 as never }),
    (e: Error) => e instanceof TypeError && e.message.startsWith('tsbpf:'),
  );
  produce(prog, 10);
  rb.runBlocking();
  assert.equal(rb.closed, true);
  assert.throws(() => rb.runBlocking(), ClosedError);
  const noCb = new RingBuffer(ring);
  try {
    assert.throws(
      () => noCb.runBlocking(),
      (e: Error) => e instanceof TypeError && /callback/.test(e.message),
    );
  } finally {
    noCb.close();
  }
});

test('runBlocking(): an error thrown by a record callback propagates and the reader stays usable', () => {
  using ring = BpfMap.create({ type: 'ringbuf', maxEntries: 1 << 16, name: 'blk_events' });
  using seq = seqCounter();
  using prog = producer({ mode: 'reserve', seq, ring });
  let k = 0;
  using rb = new RingBuffer(ring, () => {
    if (++k === 5) throw new Error('boom');
  });
  produce(prog, 10);
  assert.throws(() => rb.runBlocking(), /boom/);
  assert.equal(rb.consume(), 5, 'the records after the throwing one are still there');
});

test('runBlocking(): its epoll set and timerfd are closed when it returns, also when a callback throws', async () => {
  const { readdirSync } = await import('node:fs');
  const fds = () => readdirSync('/proc/self/fd').length;
  using ring = BpfMap.create({ type: 'ringbuf', maxEntries: 1 << 16, name: 'blk_fds' });
  using seq = seqCounter();
  using prog = producer({ mode: 'reserve', seq, ring });
  let throwNext = false;
  using rb = new RingBuffer(
    ring,
    () => {
      if (throwNext) throw new Error('boom');
    },
    { maxLatencyMs: 1, flushMs: 2 },
  );
  const before = fds();
  for (let i = 0; i < 20; i++) {
    produce(prog, 10);
    let drains = 0;
    rb.runBlocking({ afterDrain: () => ++drains >= 3 });
  }
  produce(prog, 1);
  throwNext = true;
  assert.throws(() => rb.runBlocking(), /boom/);
  assert.equal(fds(), before, 'no fd left behind by 21 runBlocking() calls');
});
