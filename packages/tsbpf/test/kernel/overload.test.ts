/**
 * The overload policy in the kernel: bursts larger than the ring, produced by test-runs of an XDP program
 * that reserves one record per packet, with the reader draining between bursts. With the gate, every
 * high-priority event arrives, low-priority ones are thinned (counted in sampledOut) and nothing is
 * lost; without it, the burst overflows and high-priority events are lost with the rest. Either way
 * delivered + sampledOut + lost = produced, exactly.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import {
  asm,
  asmOverloadGate,
  asmRingbufReserve,
  BpfMap,
  BpfObject,
  OVERLOAD_STATE,
  OverloadGuard,
  Program,
  R0,
  R1,
  R2,
  R3,
  R6,
  R7,
  RingBuffer,
  XDP,
  type AsmItem,
} from '../../src/index.js';
import { compileFixture } from '../fixtures/clang.js';

const INCLUDE = join(import.meta.dirname, '..', '..', 'include');

const RING = 16 * 1024;
const RECORD = 64;

/** XDP program: priority = frame[0] (0 high), record = the frame's first 8 bytes; optional gate. */
function producer(ring: BpfMap, guard: OverloadGuard, gate: boolean): Program {
  const items: AsmItem[] = [
    asm.ldxw(R2, R1, 0),
    asm.ldxw(R3, R1, 4),
    asm.mov64(R7, R2),
    asm.add64(R2, 8),
    asm.jgt(R2, R3, 'out'),
    asm.ldxb(R6, R7, 0),
    asm.ldxdw(R7, R7, 0), //            the 8 bytes to send, kept across calls
    ...(gate ? asmOverloadGate({ guard, ring, ringSize: RING, priority: R6, onSkip: 'out' }) : []),
    ...asmRingbufReserve({ ring, size: RECORD, dst: R6, dropCounter: guard, onFail: 'out', stackOffset: -16 }),
    asm.stxdw(R6, 0, R7),
    asm.mov64(R1, R6),
    asm.mov64(R2, 0),
    asm.call('ringbuf_submit'),
    asm.label('out'),
    asm.mov64(R0, XDP.pass),
    asm.exit(),
  ];
  return Program.load({ type: 'xdp', name: gate ? 'ovl_gate' : 'ovl_plain', instructions: items });
}

interface Producer {
  ring: BpfMap;
  guard: OverloadGuard;
  run(frame: Uint8Array): number;
}

function assembled(gate: boolean): Producer & Disposable {
  const ring = BpfMap.create({ type: 'ringbuf', maxEntries: RING });
  const guard = OverloadGuard.create();
  const prog = producer(ring, guard, gate);
  return {
    ring,
    guard,
    run: (f) => prog.testRun({ data: f }).retval,
    [Symbol.dispose]() {
      prog.close();
      guard.close();
      ring.close();
    },
  };
}

function fromC(): Producer & Disposable {
  const obj = BpfObject.open(compileFixture('overload_c', ['-I', INCLUDE]));
  obj.load();
  const guard = OverloadGuard.fromMap(obj.map('tsbpf_overload'));
  const prog = obj.program('produce');
  return {
    ring: obj.map('events'),
    guard,
    run: (f) => prog.testRun({ data: f }).retval,
    [Symbol.dispose]() {
      obj.close();
    },
  };
}

function burstRun(gate: boolean, source: () => Producer & Disposable = () => assembled(gate)) {
  using p = source();
  const { ring, guard } = p;
  const prog = { testRun: (o: { data: Uint8Array }) => ({ retval: p.run(o.data) }) };
  let highDelivered = 0,
    lowDelivered = 0;
  using rb = new RingBuffer(
    ring,
    (view, off) => {
      if (view.getUint8(off) === 0) highDelivered++;
      else lowDelivered++;
    },
    { dropCounter: guard },
  );
  const frame = new Uint8Array(64);
  let produced = 0,
    highProduced = 0;
  let maxKeepOneIn = 1;
  for (let round = 0; round < 8; round++) {
    for (let i = 0; i < 400; i++) {
      const high = i % 10 === 0;
      frame[0] = high ? 0 : 1;
      frame[1] = i & 0xff;
      assert.equal(prog.testRun({ data: frame }).retval, XDP.pass);
      produced++;
      if (high) highProduced++;
    }
    maxKeepOneIn = Math.max(maxKeepOneIn, rb.keepOneIn);
    rb.consume();
  }
  assert.equal(rb.sampledOut, guard.sampledOut, "the reader reports the policy's sampledOut");
  assert.ok(rb.keepOneIn >= 1);
  return {
    produced,
    highProduced,
    highDelivered,
    delivered: highDelivered + lowDelivered,
    sampledOut: rb.sampledOut,
    lost: rb.lost,
    guardLost: guard.read(),
    maxKeepOneIn,
  };
}

test('a burst of 400 events into a ring that holds ~227: with the gate, no loss and every high-priority event arrives', () => {
  const r = burstRun(true);
  assert.equal(r.delivered + r.sampledOut + r.lost, r.produced, JSON.stringify(r));
  assert.equal(r.lost, 0, JSON.stringify(r));
  assert.equal(r.highDelivered, r.highProduced);
  assert.ok(r.sampledOut > 0, JSON.stringify(r));
  assert.ok(r.maxKeepOneIn >= 2, `keepOneIn ${r.maxKeepOneIn}`);
});

test('the same bursts without the gate overflow the ring: losses, high-priority events among them', () => {
  const r = burstRun(false);
  assert.equal(r.delivered + r.sampledOut + r.lost, r.produced, JSON.stringify(r));
  assert.equal(r.sampledOut, 0);
  assert.ok(r.lost > 0, JSON.stringify(r));
  assert.equal(r.lost, r.guardLost);
  assert.ok(r.highDelivered < r.highProduced, JSON.stringify(r));
});

test('the C header tsbpf/overload.bpf.h implements the same policy: no loss, every high-priority event, exact accounting', () => {
  const r = burstRun(true, fromC);
  assert.equal(r.delivered + r.sampledOut + r.lost, r.produced, JSON.stringify(r));
  assert.equal(r.lost, 0, JSON.stringify(r));
  assert.equal(r.highDelivered, r.highProduced);
  assert.ok(r.sampledOut > 0 && r.maxKeepOneIn >= 2, JSON.stringify(r));
});

test('gate arguments are checked before any syscall; the state struct is the C contract', () => {
  const fake = { fd: 3 } as never;
  assert.throws(
    () => asmOverloadGate({ guard: fake, ring: fake, ringSize: 0, priority: 'low', onSkip: 'x' }),
    /^TypeError: tsbpf: asmOverloadGate ringSize/,
  );
  assert.throws(
    () => asmOverloadGate({ guard: fake, ring: fake, ringSize: 4096, priority: 'low', onSkip: 'x', startPercent: 101 }),
    /startPercent/,
  );
  assert.throws(
    () => asmOverloadGate({ guard: fake, ring: fake, ringSize: 4096, priority: 'low', onSkip: 'x', stackOffset: -12 }),
    /stackOffset/,
  );
  assert.deepEqual(asmOverloadGate({ guard: fake, ring: fake, ringSize: 4096, priority: 'high', onSkip: 'x' }), []);
  assert.equal(OVERLOAD_STATE.size, 32);
  assert.deepEqual(
    ['lost', 'sampledOut', 'seq', 'shift'].map((f) => OVERLOAD_STATE.offsetOf(f as 'lost')),
    [0, 8, 16, 24],
  );
  using wrong = BpfMap.create({ type: 'array', keySize: 4, valueSize: 8, maxEntries: 1 });
  assert.throws(() => OverloadGuard.fromMap(wrong), /must be a percpu_array of u32 → struct tsbpf_overload_state/);
});
