// PerfCounter: counting perf events around real work on this thread; hardware counters where a PMU exists,
// NotSupportedError where it does not.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { asm, ClosedError, NotSupportedError, PerfCounter, Program, R0 } from '../../src/index.js';

const xdpPass = () => Program.load({ type: 'xdp', name: 'pc_pass', instructions: [asm.mov64(R0, 2), asm.exit()] });

test('task-clock counts the time of a test-run on this thread, and scales with the work', () => {
  using prog = xdpPass();
  using clock = PerfCounter.open({ type: 'software', event: 'task-clock' });
  const frame = new Uint8Array(64);
  // Warm up first (the JS path's first call compiles and faults pages in), and make the small run long
  // enough (~5 ms) that the fixed cost of one testRun() call does not decide the ratio: with 100k
  // repeats it was ~0.5 ms of packets plus ~1.5 ms of fixed cost on a loaded machine, and 10× the
  // packets measured only 2.8× the time.
  prog.testRun({ data: frame, repeat: 1000 });
  const small = clock.measure(() => prog.testRun({ data: frame, repeat: 1_000_000 }));
  const large = clock.measure(() => prog.testRun({ data: frame, repeat: 10_000_000 }));
  assert.ok(small > 0, `small ${small}`);
  // Ten times the packets: clearly more time. task-clock counts only this thread's CPU time, so a
  // busy machine delays the runs without inflating either count.
  assert.ok(large > 4 * small, `large ${large} vs small ${small}`);
});

test('stop() freezes the count; start() resets it', () => {
  using prog = xdpPass();
  using c = PerfCounter.open({ type: 'software', event: 'task-clock' });
  c.start();
  prog.testRun({ data: new Uint8Array(64), repeat: 200_000 });
  c.stop();
  const frozen = c.value;
  prog.testRun({ data: new Uint8Array(64), repeat: 200_000 });
  assert.equal(c.value, frozen);
  c.start();
  c.stop();
  assert.ok(c.value < frozen, `${c.value} after reset vs ${frozen}`);
});

test('hardware counters: cycles and instructions per packet where a PMU exists, NotSupportedError where not', (t) => {
  let cycles: PerfCounter;
  try {
    cycles = PerfCounter.open({ type: 'hardware', event: 'cpu-cycles' });
  } catch (e) {
    assert.ok(e instanceof NotSupportedError, String(e));
    assert.equal(e.code, 'ERR_NOT_SUPPORTED');
    assert.equal(e.feature, 'hardware performance counters');
    assert.match(e.message, /no PMU/);
    t.diagnostic('no PMU on this machine: the NotSupportedError branch was tested');
    return;
  }
  using prog = xdpPass();
  using instructions = PerfCounter.open({ type: 'hardware', event: 'instructions' });
  using c = cycles;
  c.start();
  instructions.start();
  prog.testRun({ data: new Uint8Array(64), repeat: 100_000 });
  c.stop();
  instructions.stop();
  assert.ok(c.value > 100_000, `cycles ${c.value}`);
  assert.ok(instructions.value > 100_000, `instructions ${instructions.value}`);
});

test('bad arguments are caught before any syscall; closed counters throw', () => {
  assert.throws(
    () => PerfCounter.open({ type: 'hardware', event: 'cpu-cyclez' as 'cpu-cycles' }),
    (e: unknown) => e instanceof RangeError && /^tsbpf: unknown hardware event "cpu-cyclez"/.test(e.message),
  );
  assert.throws(
    () => PerfCounter.open({ type: 'tracepoint', event: 'x' } as never),
    (e: unknown) => e instanceof TypeError && /^tsbpf:/.test(e.message),
  );
  const c = PerfCounter.open({ type: 'software', event: 'task-clock' });
  c.close();
  c.close();
  assert.throws(() => c.value, ClosedError);
  assert.throws(() => c.start(), ClosedError);
});
