import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  asm,
  asmRingbufReserve,
  BpfMap,
  ClosedError,
  DropCounter,
  Program,
  R0,
  R1,
  R2,
  R3,
  R4,
  R6,
  R7,
  R10,
  RingBuffer,
  RINGBUF_FLAG,
} from '../../src/index.js';
import { MAP_SHARED, native, PROT } from '../../src/kernel/native.js';
import { kernelMappings } from '../support/mappings.js';
import { checkEvent, eventWords, produce, produceInWorker, producer, seqCounter } from '../support/event-progs.js';

function ringMap(size = 1 << 16): BpfMap {
  return BpfMap.create({ type: 'ringbuf', maxEntries: size, name: 'events' });
}

/** Asserts seqs are exactly 0..n-1 (or the given set), each once. */
function assertExactlyOnce(seqs: number[], expected: number[]): void {
  assert.equal(seqs.length, expected.length, `received ${seqs.length} events, expected ${expected.length}`);
  const sorted = [...seqs].sort((a, b) => a - b);
  assert.deepEqual(sorted, expected);
}
const range = (n: number, step = 1) => Array.from({ length: Math.ceil(n / step) }, (_, i) => i * step);

test('reserve+submit: every event arrives once, zero-copy, with its contents', () => {
  using ring = ringMap();
  using seq = seqCounter();
  using prog = producer({ mode: 'reserve', seq, ring });
  const seqs: number[] = [];
  using rb = new RingBuffer(ring, (view, off, len) => {
    seqs.push(checkEvent(view, off, len));
  });
  produce(prog, 1000);
  assert.equal(rb.availableBytes(), 1000 * 40);
  assert.equal(rb.consume(), 1000);
  assert.equal(rb.availableBytes(), 0);
  assert.equal(rb.consume(), 0);
  produce(prog, 500);
  assert.equal(rb.consume(), 500);
  assertExactlyOnce(seqs, range(1500));
  assert.deepEqual(seqs, range(1500), 'one ring preserves order');
});

test('ringbuf_output with copy reads: read() and readInto()', () => {
  using ring = ringMap();
  using seq = seqCounter();
  using prog = producer({ mode: 'output', seq, ring });
  using rb = new RingBuffer(ring);
  produce(prog, 300);
  const seqs: number[] = [];
  for (let i = 0; i < 100; i++) {
    const rec = rb.read()!;
    seqs.push(checkEvent(new DataView(rec.buffer, rec.byteOffset), 0, rec.length));
  }
  const buf = new Uint8Array(64);
  const dv = new DataView(buf.buffer);
  let n: number;
  while ((n = rb.readInto(buf)) >= 0) seqs.push(checkEvent(dv, 0, n));
  assert.equal(rb.read(), undefined);
  assert.equal(rb.readInto(buf), -1);
  assertExactlyOnce(seqs, range(300));
  // A buffer too small keeps the record.
  produce(prog, 1);
  assert.throws(() => rb.readInto(new Uint8Array(16)), RangeError);
  assert.equal(rb.readInto(buf), 32);
  assert.equal(checkEvent(dv, 0, 32), 300);
});

test('discarded records are skipped by every read path', () => {
  using ring = ringMap();
  using seq = seqCounter();
  using prog = producer({ mode: 'discard-odd', seq, ring });
  using rb = new RingBuffer(ring);
  produce(prog, 400);
  const seqs: number[] = [];
  assert.equal(
    rb.consume((v, o, l) => {
      seqs.push(checkEvent(v, o, l));
    }, 100),
    100,
  );
  let rec: Uint8Array | undefined;
  while ((rec = rb.read()) !== undefined) seqs.push(checkEvent(new DataView(rec.buffer), 0, rec.length));
  assertExactlyOnce(seqs, range(400, 2));
  assert.equal(rb.availableBytes(), 0, 'discarded records were consumed too');
  produce(prog, 3); // 400 kept, 401 discarded, 402 kept; then only a discarded one at the head
  const buf = new Uint8Array(32);
  assert.equal(rb.readInto(buf), 32);
  assert.equal(rb.readInto(buf), 32);
  assert.equal(new DataView(buf.buffer).getUint32(0, true), 402);
  assert.equal(rb.readInto(buf), -1);
});

test('records wrapping the ring end are intact (one page ring, 40-byte records)', () => {
  using ring = ringMap(4096);
  using seq = seqCounter();
  using prog = producer({ mode: 'reserve', seq, ring });
  const seqs: number[] = [];
  using rb = new RingBuffer(ring, (v, o, l) => {
    seqs.push(checkEvent(v, o, l));
  });
  const buf = new Uint8Array(32);
  const dv = new DataView(buf.buffer);
  for (let round = 0; round < 40; round++) {
    produce(prog, 97); // 3880 bytes: nearly full, so the next round's records straddle the end
    if (round % 2) assert.equal(rb.consume(), 97);
    else {
      let n: number;
      while ((n = rb.readInto(buf)) >= 0) seqs.push(checkEvent(dv, 0, n));
    }
  }
  assert.deepEqual(seqs, range(40 * 97));
});

test('variable-length records (4..64 bytes) keep their lengths, contents and 8-byte alignment', () => {
  using ring = ringMap(8192);
  using seq = seqCounter();
  using prog = producer({ mode: 'varlen', seq, ring });
  const got: number[] = [];
  using rb = new RingBuffer(ring, (v, o, l) => {
    assert.equal(o % 8, 0, 'record data is 8-byte aligned');
    const s = v.getUint32(o, true);
    assert.equal(l, 4 + (s & 15) * 4, `length of seq ${s}`);
    for (let i = 0; i < l / 4; i++) assert.equal(v.getUint32(o + 4 * i, true), s + i);
    got.push(s);
  });
  for (let round = 0; round < 20; round++) {
    produce(prog, 100);
    rb.consume();
  }
  assert.deepEqual(got, range(2000));
});

test('empty records (ringbuf_output of 0 bytes) are delivered with length 0 by every read path', () => {
  using ring = ringMap(8192);
  // Per run: a 0-byte record, then an 8-byte one holding 0x11223344 0x55667788.
  using prog = Program.load({
    type: 'xdp',
    name: 'empty_records',
    instructions: [
      asm.stw(R10, -8, 0x11223344),
      asm.stw(R10, -4, 0x55667788),
      asm.ldMapFd(R1, ring),
      asm.mov64(R2, R10),
      asm.add64(R2, -8),
      asm.mov64(R3, 0),
      asm.mov64(R4, 0),
      asm.call('ringbuf_output'),
      asm.ldMapFd(R1, ring),
      asm.mov64(R2, R10),
      asm.add64(R2, -8),
      asm.mov64(R3, 8),
      asm.mov64(R4, 0),
      asm.call('ringbuf_output'),
      asm.mov64(R0, 2),
      asm.exit(),
    ],
  });
  const run = (n: number): void => {
    prog.testRun({ data: new Uint8Array(64), repeat: n, dataOutSize: 0 });
  };
  using rb = new RingBuffer(ring);
  const lens: number[] = [];
  const onRecord = (v: DataView, o: number, l: number): void => {
    lens.push(l);
    if (l === 8) assert.equal(v.getUint32(o + 4, true), 0x55667788);
  };
  for (let round = 0; round < 3; round++) {
    run(50);
    assert.equal(rb.consume(onRecord), 100);
    run(5);
    assert.equal(rb.consume(onRecord, 3), 3, 'with a record limit');
    assert.equal(rb.consume(onRecord), 7);
  }
  assert.deepEqual(
    lens,
    Array.from({ length: 3 * 110 }, (_, i) => (i % 2 ? 8 : 0)),
  );
  run(2);
  const buf = new Uint8Array(16);
  assert.deepEqual(
    [rb.readInto(buf), rb.readInto(buf), rb.readInto(buf), rb.readInto(buf), rb.readInto(buf)],
    [0, 8, 0, 8, -1],
  );
});

test('overload: drops equal the BPF-side counter exactly and no record is corrupt', () => {
  using ring = ringMap(4096);
  using seq = seqCounter();
  using drops = DropCounter.create();
  using prog = producer({ mode: 'reserve', seq, ring, dropCounter: drops });
  const seqs: number[] = [];
  using rb = new RingBuffer(
    ring,
    (v, o, l) => {
      seqs.push(checkEvent(v, o, l));
    },
    { dropCounter: drops },
  );
  produce(prog, 1000); // the consumer is paused: the page fills after ~100
  const kept = rb.consume();
  assert.ok(kept > 50 && kept < 110, `kept ${kept}`);
  assert.equal(rb.lost, 1000 - kept);
  assert.equal(drops.read(), 1000 - kept);
  assert.deepEqual(seqs, range(kept), 'the first records fit, the rest were dropped');
  produce(prog, 10);
  assert.equal(rb.consume(), 10);
  assert.equal(rb.lost, 1000 - kept);
  assert.deepEqual(
    seqs.slice(kept),
    range(10).map((i) => 1000 + i),
  );
  // ringbuf_output drops are counted the same way.
  using out = producer({ mode: 'output', seq, ring, dropCounter: drops });
  drops.reset();
  produce(out, 500);
  const k2 = rb.consume();
  assert.equal(k2 + drops.read(), 500);
});

test('several rings, each with its own callback, drained fairly', () => {
  using a = ringMap();
  using b = ringMap();
  using seqA = seqCounter();
  using seqB = seqCounter();
  using pa = producer({ mode: 'reserve', seq: seqA, ring: a });
  using pb = producer({ mode: 'output', seq: seqB, ring: b });
  const gotA: number[] = [];
  const gotB: number[] = [];
  using rb = new RingBuffer(a, (v, o, l) => {
    gotA.push(checkEvent(v, o, l));
  });
  rb.add(b, (v, o, l) => {
    gotB.push(checkEvent(v, o, l));
  });
  assert.equal(rb.ringCount, 2);
  produce(pa, 1500);
  produce(pb, 1500);
  assert.equal(rb.consume(undefined, 1000), 1000);
  assert.ok(gotA.length > 0 && gotB.length > 0, `both rings served in one call: ${gotA.length}/${gotB.length}`);
  assert.equal(rb.consume(), 2000);
  assert.deepEqual(gotA, range(1500));
  assert.deepEqual(gotB, range(1500));
  // Copy reads alternate between rings too.
  produce(pa, 2);
  produce(pb, 2);
  const first = rb.read()!,
    second = rb.read()!;
  assert.notEqual(first, undefined);
  assert.notEqual(second, undefined);
  assert.equal(rb.availableBytes(), 80);
});

test('a callback returning false stops the drain and keeps the rest', () => {
  using ring = ringMap();
  using seq = seqCounter();
  using prog = producer({ mode: 'reserve', seq, ring });
  using rb = new RingBuffer(ring);
  produce(prog, 50);
  const seen: number[] = [];
  assert.equal(
    rb.consume((v, o) => {
      seen.push(v.getUint32(o, true));
      return seen.length < 10 ? undefined : false;
    }),
    10,
  );
  assert.equal(rb.availableBytes(), 40 * 40);
  assert.equal(
    rb.consume((v, o) => {
      seen.push(v.getUint32(o, true));
    }),
    40,
  );
  assert.deepEqual(seen, range(50));
});

test('a throwing callback consumes its record (also in the bounded drain, and after readInto); close() inside a callback stops cleanly', () => {
  using ring = ringMap();
  using seq = seqCounter();
  using prog = producer({ mode: 'reserve', seq, ring });
  const rb = new RingBuffer(ring);
  produce(prog, 5);
  assert.throws(
    () =>
      rb.consume((v, o) => {
        if (v.getUint32(o, true) === 2) throw new Error('boom');
      }),
    /boom/,
  );
  assert.equal(rb.availableBytes(), 2 * 40);
  // The bounded drain (maxRecords) too, and only the record it threw on.
  assert.throws(
    () =>
      rb.consume(() => {
        throw new Error('bounded');
      }, 100),
    /bounded/,
  );
  assert.equal(rb.availableBytes(), 40);
  // A readInto between drains moves the position; a later throwing drain settles from there.
  const buf = new Uint8Array(64);
  assert.equal(rb.readInto(buf), 32);
  assert.equal(new DataView(buf.buffer).getUint32(0, true), 4);
  produce(prog, 3);
  assert.throws(
    () =>
      rb.consume(() => {
        throw new Error('first');
      }),
    /first/,
  );
  const seen: number[] = [];
  assert.equal(
    rb.consume((v, o) => {
      seen.push(v.getUint32(o, true));
    }, 100),
    2,
  );
  assert.deepEqual(seen, [6, 7]);
  produce(prog, 2);
  let calls = 0;
  rb.consume(() => {
    calls++;
    rb.close();
  });
  assert.equal(calls, 1);
  assert.throws(() => rb.consume(() => {}), ClosedError);
  // The drain ends quietly at the next header after close(); an error the callback itself throws
  // after closing still reaches the caller.
  const rb2 = new RingBuffer(ring);
  produce(prog, 3);
  assert.throws(
    () =>
      rb2.consume(() => {
        rb2.close();
        throw new TypeError('mine');
      }),
    /mine/,
  );
  assert.throws(() => rb2.readInto(new Uint8Array(64)), ClosedError);
});

test('records are read-only views: writes and .buffer throw instead of faulting', () => {
  using ring = ringMap();
  using seq = seqCounter();
  using prog = producer({ mode: 'reserve', seq, ring });
  using rb = new RingBuffer(ring);
  produce(prog, 1);
  let kept: { v: DataView; o: number } | undefined;
  rb.consume((v, o) => {
    assert.ok(v instanceof DataView);
    assert.throws(() => v.setUint32(o, 1, true), TypeError);
    assert.throws(() => v.buffer, TypeError);
    assert.deepEqual([...v.slice(o, 8)], [0, 0, 0, 0, 0, 0, 0, 0]);
    assert.equal(v.getUint32(o + 8, true), 64);
    kept = { v, o };
  });
  const mapped = kernelMappings();
  rb.close();
  assert.equal(kernelMappings(), mapped - 2, 'close() releases the consumer page and the data mapping at once');
  // Zero pages took the ring's place (the buffer is not detached: see native.unmap): never a fault.
  assert.equal(kept!.v.getUint32(kept!.o + 8, true), 0);
});

test('a reader on a closed map throws; a closed reader throws ClosedError; close twice is fine', () => {
  const ring = ringMap();
  ring.close();
  assert.throws(() => new RingBuffer(ring, () => {}), ClosedError);
  using hash = BpfMap.create({ type: 'hash', keySize: 4, valueSize: 4, maxEntries: 1 });
  assert.throws(() => new RingBuffer(hash), TypeError);
  using ring2 = ringMap();
  const rb = new RingBuffer(ring2, () => {});
  rb.close();
  rb.close();
  assert.throws(() => rb.consume(), ClosedError);
  assert.throws(() => rb.availableBytes(), ClosedError);
  assert.throws(() => rb.read(), ClosedError);
  assert.rejects(rb.poll(1), ClosedError);
});

test('the reader keeps working after the caller closes its map object', () => {
  const ring = ringMap();
  using seq = seqCounter();
  using prog = producer({ mode: 'reserve', seq, ring });
  using rb = new RingBuffer(ring, () => {});
  ring.close();
  produce(prog, 10);
  assert.equal(rb.consume(), 10);
});

test('closing a reader ends a pending poll and a for-await loop', async () => {
  using ring = ringMap();
  const rb = new RingBuffer(ring, () => {});
  const t0 = Date.now();
  const pending = rb.poll(10_000);
  const iter = (async () => {
    let n = 0;
    for await (const _ of rb) n++;
    return n;
  })();
  setTimeout(() => rb.close(), 20);
  assert.equal(await pending, 0);
  assert.equal(await iter, 0);
  assert.ok(Date.now() - t0 < 9000, 'ended by close, not by the 10 s timeout');
  await assert.rejects(rb.poll(10), ClosedError);
});

test('poll times out with 0 when nothing arrives', async () => {
  using ring = ringMap();
  using rb = new RingBuffer(ring, () => {});
  const t0 = Date.now();
  assert.equal(await rb.poll(30), 0);
  assert.ok(Date.now() - t0 >= 25);
});

test('for await receives events from a concurrent producer through fd readiness', async () => {
  using ring = ringMap(1 << 20);
  using seq = seqCounter();
  using prog = producer({ mode: 'reserve', seq, ring });
  const rb = new RingBuffer(ring, undefined, { flushMs: 0 }); // wake-ups only
  const done = produceInWorker(prog, { bursts: 20, repeat: 100, gapMs: 5, delayMs: 30 });
  const seqs: number[] = [];
  for await (const rec of rb) {
    seqs.push(checkEvent(new DataView(rec.buffer, rec.byteOffset), 0, rec.length));
    if (seqs.length === 2000) break;
  }
  await done;
  assert.deepEqual(seqs, range(2000));
  assert.ok(rb.stats.wakeups >= 1, `woken by readiness (${JSON.stringify(rb.stats)})`);
  rb.close();
});

test('BPF_RB_NO_WAKEUP producers do not strand a waiting reader (flush deadline)', async () => {
  using ring = ringMap(1 << 20);
  using seq = seqCounter();
  using prog = producer({ mode: 'reserve', seq, ring, flags: RINGBUF_FLAG.no_wakeup });
  using rb = new RingBuffer(
    ring,
    (v, o, l) => {
      checkEvent(v, o, l);
    },
    { flushMs: 40 },
  );
  const done = produceInWorker(prog, { bursts: 1, repeat: 100, gapMs: 0, delayMs: 20 });
  const t0 = Date.now();
  let got = 0;
  // 20 s: a hang guard for a loaded machine, not a measurement.
  while (got < 100 && Date.now() - t0 < 20_000) got += await rb.poll(3000);
  await done;
  assert.equal(got, 100);
  // Without the flush deadline the poll would have timed out with nothing (no wake-up is ever sent).
  assert.ok(rb.stats.flushes >= 1, `found by the flush deadline (${JSON.stringify(rb.stats)})`);
  assert.equal(rb.stats.wakeups, 0, 'NO_WAKEUP: never woken by readiness');
});

test('maxLatencyMs batches wake-ups at high rates and stays immediate at low rates', async () => {
  using ring = ringMap(1 << 22);
  using seq = seqCounter();
  using prog = producer({ mode: 'reserve', seq, ring });
  // No flush deadline in the way: the low-rate event must be found by readiness alone.
  using rb = new RingBuffer(
    ring,
    (v, o, l) => {
      checkEvent(v, o, l);
    },
    { maxLatencyMs: 25, flushMs: 60_000 },
  );
  // Low rate: one event, nothing drained recently: delivered by fd readiness, not held for a budget.
  // (Structural, not a wall-clock bound: the producer is a new worker thread, whose start-up time
  // depends on the machine's load.)
  const one = produceInWorker(prog, { bursts: 1, repeat: 1, gapMs: 0 });
  assert.equal(await rb.poll(20_000), 1);
  await one;
  assert.deepEqual(rb.stats, { wakeups: 1, flushes: 0, budgetDrains: 0 });
  // High rate: bursts every 1 ms for ~300 ms.
  const bursts = 300;
  const done = produceInWorker(prog, { bursts, repeat: 50, gapMs: 1 });
  let got = 0;
  let polls = 0;
  const start = performance.now();
  let finished = false;
  void done.then(() => {
    finished = true;
  });
  while (got < bursts * 50) {
    got += await rb.poll(finished ? 100 : 2000);
    polls++;
    if (finished && rb.availableBytes() === 0 && got < bursts * 50) got += rb.consume();
  }
  await done;
  const elapsed = performance.now() - start;
  assert.equal(got, bursts * 50);
  // Drains that deliver are at least one 25 ms budget apart (timerfd never fires early), so this bound
  // holds however slowly the machine runs; without the budget this would be ~one per burst.
  assert.ok(polls <= elapsed / 25 + 5, `${polls} drains in ${elapsed.toFixed(0)} ms (${JSON.stringify(rb.stats)})`);
  assert.ok(rb.stats.budgetDrains >= 1);
});

test('eventWords matches what the producer writes', () => {
  assert.deepEqual(eventWords(1), [1, 0, 64, 3, 0x9e3779b1, 0x5a5a5a5b, 0x800, 1]);
});

test('sub-millisecond latency budgets are honoured (timerfd, not 1 ms Node timers)', async () => {
  using ring = ringMap();
  using seq = seqCounter();
  using prog = producer({ mode: 'reserve', seq, ring });
  let got = 0;
  using rb = new RingBuffer(
    ring,
    () => {
      got++;
    },
    { maxLatencyMs: 0.25 },
  );
  // Only polls that start inside the budget test it (one the scheduler delays past the budget drains at
  // once): loop until 10 such polls, telling them apart by budgetDrains, instead of assuming timing.
  const BUDGET_MS = 0.25;
  const budgetWaits: number[] = [];
  let rounds = 0;
  while (budgetWaits.length < 10 && rounds < 500) {
    rounds++;
    produce(prog, 1);
    const beforeDrain = performance.now();
    assert.equal(rb.consume(), 1); // starts the budget
    produce(prog, 1); // data is waiting: the next poll resolves when the budget ends
    const budgetDrains = rb.stats.budgetDrains;
    const t0 = performance.now();
    assert.equal(await rb.poll(1000), 1);
    const t1 = performance.now();
    // Never before the budget ends: timerfd does not fire early (same monotonic clock).
    assert.ok(
      t1 - beforeDrain >= BUDGET_MS - 0.01,
      `poll resolved ${(t1 - beforeDrain).toFixed(3)} ms after the drain`,
    );
    if (rb.stats.budgetDrains === budgetDrains + 1) budgetWaits.push(t1 - t0);
  }
  assert.equal(got, 2 * rounds);
  assert.equal(budgetWaits.length, 10, `${budgetWaits.length} of ${rounds} polls started inside the budget`);
  // A 1 ms Node timer can never end a wait sooner than 1 ms; the timerfd can (load only lengthens waits).
  const fastest = Math.min(...budgetWaits);
  assert.ok(
    fastest < 0.9,
    `fastest budget wait ${fastest.toFixed(3)} ms: the budget is rounded up to Node's 1 ms timers`,
  );
});

test('readInto rejects a non-Uint8Array before touching the ring; a closed reader throws', () => {
  using ring = ringMap();
  using seq = seqCounter();
  using prog = producer({ mode: 'reserve', seq, ring });
  const rb = new RingBuffer(ring);
  produce(prog, 2);
  assert.throws(() => rb.readInto(new Uint32Array(16) as unknown as Uint8Array), TypeError);
  const buf = new Uint8Array(64);
  assert.equal(rb.readInto(buf), 32);
  assert.equal(new DataView(buf.buffer).getUint32(0, true), 0);
  rb.close();
  assert.throws(() => rb.readInto(buf), ClosedError);
});

test('many readers with different callbacks in one process each keep their own drain code', () => {
  using seq = seqCounter();
  const rings = [ringMap(), ringMap(), ringMap()];
  const progs = rings.map((ring) => producer({ mode: 'reserve', seq, ring }));
  const sums = [0, 0, 0];
  const readers = [
    new RingBuffer(rings[0]!, (v, o) => {
      sums[0]! += v.getUint32(o, true);
    }),
    new RingBuffer(rings[1]!, (v, o) => {
      sums[1]! += 2 * v.getUint32(o, true);
    }),
    new RingBuffer(rings[2]!, (_v, _o, l) => {
      sums[2]! += l;
    }),
  ];
  try {
    for (let round = 0; round < 3; round++) {
      progs.forEach((p) => {
        seq.update(0, 0n);
        produce(p, 100);
      });
      assert.deepEqual(
        readers.map((r) => r.consume()),
        [100, 100, 100],
      );
    }
    assert.deepEqual(sums, [3 * 4950, 3 * 9900, 3 * 3200]);
  } finally {
    for (const r of readers) r.close();
    for (const p of progs) p.close();
    for (const r of rings) r.close();
  }
});

test('readInto copies variable-length records exactly (every word count 1..16, aligned and unaligned buffers)', () => {
  using ring = ringMap(1 << 16);
  using seq = seqCounter();
  using prog = producer({ mode: 'varlen', seq, ring });
  using rb = new RingBuffer(ring);
  const aligned = new Uint8Array(72).fill(0xee);
  const unaligned = new Uint8Array(new ArrayBuffer(80), 1, 72).fill(0xee);
  let next = 0;
  for (const buf of [aligned, unaligned, aligned]) {
    produce(prog, 64);
    for (let n = 0; n < 64; n++, next++) {
      buf.fill(0xee);
      const l = rb.readInto(buf);
      assert.equal(l, 4 + (next & 15) * 4, `length of seq ${next}`);
      const dv = new DataView(buf.buffer, buf.byteOffset);
      for (let i = 0; i < l / 4; i++) assert.equal(dv.getUint32(4 * i, true), next + i);
      assert.equal(buf[l], 0xee, 'nothing written past the record');
    }
    assert.equal(rb.readInto(buf), -1);
  }
  produce(prog, 1); // seq 192: 4 bytes
  assert.throws(() => rb.readInto(new Uint8Array(2)), RangeError);
  assert.equal(rb.readInto(new Uint8Array(4)), 4, 'a too-small buffer left the record in the ring');
});

test('an idle reader with a latency budget does not keep the process alive', () => {
  // A child process creates a reader with a sub-ms budget, polls once (arming the timerfd), and
  // returns without close(): it must exit on its own.
  const code = `
    import { BpfMap, RingBuffer } from ${JSON.stringify(new URL('../../src/index.ts', import.meta.url).href)};
    const ring = BpfMap.create({ type: 'ringbuf', maxEntries: 1 << 16, name: 'idle' });
    const rb = new RingBuffer(ring, () => {}, { maxLatencyMs: 0.25 });
    rb.consume();
    await rb.poll(5);
    console.log('done');`;
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], {
    encoding: 'utf8',
    timeout: 20_000,
  });
  assert.equal(r.signal, null, `child did not exit by itself (${r.stderr})`);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /done/);
});

test('start(): event-driven drains, immediate at low rates, one drain per budget at high rates, flush for NO_WAKEUP, stop/close', async () => {
  using ring = ringMap(1 << 22);
  using seq = seqCounter();
  using prog = producer({ mode: 'reserve', seq, ring });
  const seqs: number[] = [];
  // flushMs far away: the low-rate record must be found by readiness, not by a flush tick.
  const rb = new RingBuffer(
    ring,
    (v, o, l) => {
      seqs.push(checkEvent(v, o, l));
    },
    { maxLatencyMs: 25, flushMs: 60_000 },
  );
  let drains = 0;
  let befores = 0;
  let wanted = 0;
  let reached: (() => void) | undefined;
  rb.start({
    beforeDrain: () => {
      befores++;
    },
    afterDrain: (n) => {
      if (n > 0) drains++;
      if (seqs.length >= wanted) reached?.();
    },
  });
  try {
    assert.equal(rb.started, true);
    await assert.rejects(rb.poll(10), /started/);
    const until = (n: number) =>
      new Promise<void>((resolve, reject) => {
        wanted = n;
        const t = setTimeout(
          () => reject(new Error(`only ${seqs.length} of ${n} (${JSON.stringify(rb.stats)})`)),
          20_000,
        );
        reached = () => {
          clearTimeout(t);
          reached = undefined;
          resolve();
        };
        if (seqs.length >= n) reached();
      });
    // Low rate: delivered at once by fd readiness (not by a budget or flush timer). Structural rather
    // than a wall-clock bound: the producer is a new worker thread whose start-up depends on load.
    await produceInWorker(prog, { bursts: 1, repeat: 1, gapMs: 0 });
    await until(1);
    assert.deepEqual(rb.stats, { wakeups: 1, flushes: 0, budgetDrains: 0 });
    // High rate: bursts every 1 ms for ~300 ms: about one drain per 25 ms budget.
    drains = 0;
    const start = performance.now();
    await Promise.all([produceInWorker(prog, { bursts: 300, repeat: 50, gapMs: 1 }), until(1 + 300 * 50)]);
    const elapsed = performance.now() - start;
    assert.deepEqual(seqs, range(1 + 300 * 50));
    assert.ok(drains <= elapsed / 25 + 5, `${drains} drains in ${elapsed.toFixed(0)} ms (${JSON.stringify(rb.stats)})`);
    assert.ok(rb.stats.budgetDrains >= 1);
    assert.ok(befores >= drains);
    // stop(): nothing more is drained; consume() still works.
    rb.stop();
    assert.equal(rb.started, false);
    await produceInWorker(prog, { bursts: 1, repeat: 3, gapMs: 0 });
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(seqs.length, 1 + 300 * 50);
    assert.equal(rb.consume(), 3);
    // close() from inside a callback ends the mode cleanly.
    rb.start({
      afterDrain: (n) => {
        if (n > 0) {
          rb.close();
          reached?.();
        }
      },
    });
    const closed = until(seqs.length + 1);
    await produceInWorker(prog, { bursts: 1, repeat: 2, gapMs: 0 });
    await closed;
    assert.equal(rb.closed, true);
    assert.equal(rb.started, false);
    rb.stop(); // safe after close
  } finally {
    rb.close();
  }
});

test('start() with BPF_RB_NO_WAKEUP: the flush deadline finds the records', async () => {
  using ring = ringMap(1 << 20);
  using seq = seqCounter();
  using prog = producer({ mode: 'reserve', seq, ring, flags: RINGBUF_FLAG.no_wakeup });
  let got = 0;
  using rb = new RingBuffer(
    ring,
    (v, o, l) => {
      checkEvent(v, o, l);
      got++;
    },
    { flushMs: 40 },
  );
  await new Promise<void>((resolve, reject) => {
    // A hang guard, not a measurement: worker start-up time depends on the machine's load.
    const t = setTimeout(() => {
      rb.stop();
      reject(new Error(`got ${got}`));
    }, 20_000);
    rb.start({
      afterDrain: () => {
        if (got >= 100) {
          clearTimeout(t);
          rb.stop();
          resolve();
        }
      },
    });
    void produceInWorker(prog, { bursts: 1, repeat: 100, gapMs: 0, delayMs: 20 });
  });
  assert.equal(got, 100);
  assert.ok(rb.stats.flushes >= 1, JSON.stringify(rb.stats));
  assert.equal(rb.stats.wakeups, 0, 'NO_WAKEUP: never woken by readiness');
});

test('past 4 GiB consumed: the high half of the consumer position is published (drain and readInto, 4000-byte records)', () => {
  // 4000-byte records copied from the packet: ~1.08M of them cross 2^32 bytes of consumer position. Had a
  // reader published a wrong high half, the kernel would see the ring full and count drops.
  const SIZE = 4000,
    RING = 1 << 26,
    PER_ROUND = 15_000;
  using ring = ringMap(RING);
  using drops = DropCounter.create();
  using prog = Program.load({
    type: 'xdp',
    name: 'big_records',
    instructions: [
      asm.mov64(R6, R1),
      ...asmRingbufReserve({ ring, size: SIZE, dst: R7, dropCounter: drops, onFail: 'out', stackOffset: -8 }),
      asm.mov64(R1, R6),
      asm.mov64(R2, 0),
      asm.mov64(R3, R7),
      asm.mov64(R4, SIZE),
      asm.call('xdp_load_bytes'),
      asm.mov64(R1, R7),
      asm.mov64(R2, 0),
      asm.call('ringbuf_submit'),
      asm.label('out'),
      asm.mov64(R0, 2),
      asm.exit(),
    ],
  });
  const packet = new Uint8Array(SIZE);
  for (let i = 0; i < SIZE; i++) packet[i] = (i * 7 + 3) & 0xff;
  using rb = new RingBuffer(ring);
  const buf = new Uint8Array(SIZE + 8);
  let records = 0,
    bad = 0;
  const rounds = Math.ceil(2 ** 32 / (PER_ROUND * 4008)) + 2; // two more rounds once past 2^32
  for (let r = 0; r < rounds; r++) {
    prog.testRun({ data: packet, repeat: PER_ROUND, dataOutSize: 0 });
    if (r % 2 === 0) {
      records += rb.consume((v, o, l) => {
        if (l !== SIZE || v.getUint8(o + 1) !== 10 || v.getUint8(o + SIZE - 1) !== packet[SIZE - 1]) bad++;
      });
    } else {
      for (let l: number; (l = rb.readInto(buf)) >= 0; records++)
        if (l !== SIZE || buf[1] !== 10 || buf[SIZE - 1] !== packet[SIZE - 1]) bad++;
    }
  }
  assert.equal(bad, 0);
  assert.equal(drops.read(), 0, 'no reservation failed: the kernel saw every consumer position');
  assert.equal(records, rounds * PER_ROUND);
  // Both 64-bit positions, read through a mapping of our own: equal, and past 2^32.
  const pg = native.pageSize;
  const cons = native.mmap(ring.fd, pg, PROT.read, MAP_SHARED, 0) as ArrayBuffer;
  const prod = native.mmap(ring.fd, pg, PROT.read, MAP_SHARED, pg) as ArrayBuffer;
  try {
    const c = new Uint32Array(cons, 0, 2),
      p = new Uint32Array(prod, 0, 2);
    assert.equal(c[1], 1, 'consumer position high half');
    assert.deepEqual([...c], [...p]);
  } finally {
    native.unmap(cons);
    native.unmap(prod);
  }
});

test('readInto, read and consume interleaved on one reader, and two readers on one ring, see every record once in order', () => {
  using ring = ringMap();
  using seq = seqCounter();
  using prog = producer({ mode: 'reserve', seq, ring });
  using a = new RingBuffer(ring);
  using b = new RingBuffer(ring);
  const buf = new Uint8Array(64);
  const dv = new DataView(buf.buffer);
  const seqs: number[] = [];
  const take = (v: DataView, o: number, l: number) => {
    seqs.push(checkEvent(v, o, l));
  };
  for (let round = 0; round < 40; round++) {
    produce(prog, 25);
    // readInto caches the producer position; the other paths (and the other reader) move the
    // consumer past it, which must not make readInto read beyond what was produced.
    for (let i = 0; i < 3; i++) {
      const l = a.readInto(buf);
      assert.ok(l > 0);
      take(dv, 0, l);
    }
    let k = 0;
    a.consume((v, o, l) => {
      take(v, o, l);
      return ++k < 5 ? undefined : false;
    });
    const rec = b.read()!;
    take(new DataView(rec.buffer, rec.byteOffset), 0, rec.length);
    for (let i = 0; i < 4; i++) {
      const l = a.readInto(buf);
      assert.ok(l > 0);
      take(dv, 0, l);
    }
    b.consume(take, 6);
    for (let l: number; (l = (round & 1 ? a : b).readInto(buf)) >= 0; ) take(dv, 0, l);
    assert.equal(a.readInto(buf), -1);
    assert.equal(b.readInto(buf), -1);
  }
  assert.deepEqual(seqs, range(1000));
});
