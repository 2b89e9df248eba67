// The soak reader's record check (no kernel needed): per-generator-thread sequences, and the
// nextSeq bound soak.ts uses when the generator is cut at the deadline; the live bench's use of the
// same check (advance, exactlyOnce) and of the soak's generator split.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SEQ_THREAD_UNIT, SeqChecker } from '../src/bench/soak-check.js';
import { generatorPlan } from '../src/bench/soak.js';
import { exactlyOnce, generatorCommand } from '../src/bench/syscall-events.js';

const LEN = 32,
  ID = 1023,
  TGID = 4242;
const seq = (k: number, i: number): number => k * SEQ_THREAD_UNIT + i;

test('soak check: two threads interleaved in any way are all good; a step back within a thread is corrupt', () => {
  const c = new SeqChecker({ threads: 2, len: LEN, id: ID, tgid: TGID });
  // Thread 1's numbers are far above thread 0's: one shared "last seq" would call thread 0's next record a step back.
  for (const [k, i] of [
    [0, 0],
    [1, 0],
    [0, 1],
    [0, 2],
    [1, 1],
    [1, 5],
    [0, 3],
  ] as const)
    assert.ok(c.check(LEN, seq(k, i), ID, TGID), `thread ${k} call ${i}`);
  assert.equal(c.check(LEN, seq(1, 5), ID, TGID), false, 'a repeat');
  assert.equal(c.check(LEN, seq(0, 2), ID, TGID), false, 'a step back');
  assert.ok(c.check(LEN, seq(0, 10), ID, TGID), 'a gap (drops) is fine');
  assert.deepEqual(c.minSeq, [11, 6]);
  // Calls issued up to the last recorded one of each thread: 11 by thread 0, 6 by thread 1.
  assert.equal(c.nextSeq, 17);
});

test('soak check: a thread index the generator does not have, or a wrong length / id / tgid, is corrupt and advances nothing', () => {
  const c = new SeqChecker({ threads: 2, len: LEN, id: ID, tgid: TGID });
  assert.equal(c.check(LEN, seq(2, 0), ID, TGID), false);
  assert.equal(c.check(LEN, 2 ** 52, ID, TGID), false);
  assert.equal(c.check(LEN + 8, seq(0, 7), ID, TGID), false);
  assert.equal(c.check(LEN, seq(0, 7), ID + 1, TGID), false);
  assert.equal(c.check(LEN, seq(0, 7), ID, TGID + 1), false);
  assert.equal(c.nextSeq, 0);
  assert.throws(() => new SeqChecker({ threads: 0, len: LEN, id: ID, tgid: TGID }), RangeError);
});

test('soak check: one thread is the plain sequence (seq = i)', () => {
  const c = new SeqChecker({ threads: 1, len: LEN, id: ID, tgid: TGID });
  for (let i = 0; i < 100; i += 3) assert.ok(c.check(LEN, i, ID, TGID));
  assert.equal(c.check(LEN, seq(1, 0), ID, TGID), false, 'a second thread where there is one');
  assert.equal(c.nextSeq, 100);
});

test('soak generator plan: two threads on the two CPUs, spin only on the generator CPU; one CPU keeps the one-thread form', () => {
  const two = generatorPlan({ generator: 1, consumer: 0 }, 60, '/bin/gen');
  assert.equal(two.threads, 2);
  assert.deepEqual(two.args.slice(0, 6), ['-c', '1', '/bin/gen', '60000000', '1000000', 'nosys']);
  for (const a of ['threads=2', 'cpus=1,0', 'spin=1']) assert.ok(two.args.includes(a), `${a} in ${two.args.join(' ')}`);
  assert.ok(!two.args.some((a) => a === 'spin=0' || /^spin=.*\b0\b/.test(a)), "no spinning on the reader's CPU");
  const one = generatorPlan({ generator: 0, consumer: 0 }, 6, '/bin/gen');
  assert.equal(one.threads, 1);
  assert.deepEqual(one.args, ['-c', '0', '/bin/gen', '6000000', '1000000', 'nosys']);
});

test('live check: advance is check without the record fields; exactlyOnce needs each thread complete and in order', () => {
  const c = new SeqChecker({ threads: 2, len: LEN, id: ID, tgid: TGID });
  for (const [k, i] of [
    [1, 0],
    [0, 0],
    [0, 1],
    [1, 1],
    [0, 2],
  ] as const)
    assert.ok(c.advance(seq(k, i)));
  assert.equal(c.advance(seq(0, 2)), false, 'a repeat');
  assert.equal(c.advance(seq(2, 0)), false, 'a thread the generator does not have');
  assert.equal(c.nextSeq, 5);
  const r = { produced: 5, delivered: 5, lost: 0, outOfOrder: 0, nextSeq: 5 };
  assert.ok(exactlyOnce(r));
  // A gap in one thread next to a stray extra record: the count matches, nextSeq does not.
  assert.equal(exactlyOnce({ ...r, nextSeq: 6 }), false);
  assert.equal(exactlyOnce({ ...r, outOfOrder: 1 }), false);
  assert.ok(
    exactlyOnce({ ...r, delivered: 3, lost: 2, nextSeq: 4 }),
    'with loss, delivered + lost = produced suffices',
  );
  assert.equal(exactlyOnce({ ...r, delivered: 3, lost: 1 }), false);
});

test("live generator: only a paced split run with two CPUs gets the soak's two threads; everything else keeps the one-thread command", () => {
  const cpus = { generator: 1, consumer: 0 };
  const one = ['-c', '1', '/bin/gen', '500000', '0', 'nosys'];
  assert.deepEqual(generatorCommand({ cpus, bin: '/bin/gen', count: 500_000, rate: 0, syscall: 'nosys' }).args, one);
  assert.deepEqual(
    generatorCommand({ cpus, bin: '/bin/gen', count: 500_000, rate: 0, syscall: 'nosys', split: true }).args,
    one,
    'unpaced: no split',
  );
  assert.deepEqual(generatorCommand({ cpus, bin: '/bin/gen', count: 500_000, rate: 1e6, syscall: 'nosys' }).args, [
    '-c',
    '1',
    '/bin/gen',
    '500000',
    '1000000',
    'nosys',
  ]);
  assert.equal(
    generatorCommand({
      cpus: { generator: 0, consumer: 0 },
      bin: '/bin/gen',
      count: 500_000,
      rate: 1e6,
      syscall: 'nosys',
      split: true,
    }).threads,
    1,
  );
  const two = generatorCommand({ cpus, bin: '/bin/gen', count: 3_000_000, rate: 1e6, syscall: 'nosys', split: true });
  assert.equal(two.threads, 2);
  assert.deepEqual(two.args, generatorPlan(cpus, 3, '/bin/gen').args, "the soak's generator");
});
