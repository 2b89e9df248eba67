import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { BpfMap, Program, VerifierError, BpfError, NotSupportedError, t, TEST_RUN_FLAG, XDP } from '../../src/index.js';
import { hasFeature } from '../support/features.js';
import { insn, program, returnImm, storeToArrayMap } from '../support/raw-insn.js';

test('a hand-encoded XDP program loads and test-runs', () => {
  using p = Program.load({ type: 'xdp', instructions: returnImm(2), name: 'ret2' });
  const r = p.testRun({ data: new Uint8Array(64), repeat: 1000 });
  assert.equal(r.retval, 2);
  assert.ok(r.durationNs >= 0);
  assert.equal(r.dataOut?.byteLength, 64);
  const info = p.info();
  assert.equal(info.type, 'xdp');
  assert.equal(info.name, 'ret2');
  assert.equal(info.xlatedLength, 16);
  assert.equal(p.xlated().byteLength, 16);
});

test('a program writes a map value that user space reads back', () => {
  using m = BpfMap.create({ type: 'array', key: t.u32, value: t.u64, maxEntries: 1 });
  using p = Program.load({ type: 'xdp', instructions: storeToArrayMap(m.fd, 4242) });
  assert.equal(p.testRun({ data: new Uint8Array(64) }).retval, 2);
  assert.equal(m.lookup(0), 4242n);
  assert.deepEqual(p.info().mapIds, [m.info().id]);
});

test('a rejected program throws VerifierError with the log and the failing instruction', () => {
  // r0 = *(u64 *)(r1 + 0) is fine, but reading r2 (uninitialised) at instruction 1 is not.
  const bad = program(insn(0xb7, 0, 0, 0, 0), insn(0x79, 0, 2, 0, 0), insn(0x95, 0, 0, 0, 0));
  try {
    Program.load({ type: 'socket_filter', instructions: bad });
    assert.fail('expected a VerifierError');
  } catch (e) {
    assert.ok(e instanceof VerifierError, String(e));
    assert.equal(e.code, 'EACCES');
    assert.equal(e.instruction, 1);
    assert.match(e.reason, /R2 !read_ok/);
    assert.match(e.log, /R2 !read_ok/);
    assert.match(e.message, /instruction 1/);
    assert.ok(e.context?.includes('r0 = *(u64 *)(r2 + 0x0)'), e.context);
  }
});

test('log growth: a tiny initial log buffer still yields the whole log', () => {
  const bad = program(insn(0xb7, 0, 0, 0, 0), insn(0x79, 0, 2, 0, 0), insn(0x95, 0, 0, 0, 0));
  assert.throws(
    () => Program.load({ type: 'socket_filter', instructions: bad, logLevel: 2, logSize: 1024 }),
    (e: unknown) => e instanceof VerifierError && /R2 !read_ok/.test(e.log),
  );
  using ok = Program.load({ type: 'socket_filter', instructions: returnImm(0), logLevel: 2, logSize: 1024 });
  assert.match(ok.verifierLog, /processed \d+ insns/);
});

test('bad arguments and wrong uses fail clearly', () => {
  assert.throws(() => Program.load({ type: 'nope' as any, instructions: returnImm(0) }), /unknown program type/);
  assert.throws(() => Program.load({ type: 'xdp', instructions: new Uint8Array(7) }), /multiple of 8/);
  using tp = Program.load({ type: 'tracepoint', instructions: returnImm(0) });
  assert.throws(
    () => tp.testRun(),
    (e: unknown) => e instanceof BpfError && /cannot be test-run/.test(e.message),
  );
  const p = Program.load({ type: 'xdp', instructions: returnImm(2) });
  p.close();
  p.close();
  assert.throws(() => p.testRun({ data: new Uint8Array(64) }), /closed/);
});

test('pin and reopen a program; stats count runs while enabled', () => {
  const dir = `/sys/fs/bpf/tsbpf-prog-${process.pid}`;
  try {
    using p = Program.load({ type: 'xdp', instructions: returnImm(1), name: 'pinme' });
    p.pin(`${dir}/p`);
    using q = Program.fromPin(`${dir}/p`);
    assert.equal(q.info().id, p.info().id);
    assert.equal(q.testRun({ data: new Uint8Array(64) }).retval, 1);
    {
      using _stats = Program.enableStats();
      p.testRun({ data: new Uint8Array(64), repeat: 100 });
      const info = p.info();
      assert.ok(info.runCount >= 100, `runCount ${info.runCount}`);
      assert.ok(info.runTimeNs > 0);
    }
    using r = Program.fromId(p.info().id);
    assert.equal(r.name, 'pinme');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('XDP live-frames test runs: run on kernels that have them, NotSupportedError on kernels that do not', () => {
  using p = Program.load({ type: 'xdp', instructions: returnImm(XDP.drop), name: 'live_drop' });
  const frame = new Uint8Array(64);
  frame[12] = 0x08; // IPv4 ethertype
  if (hasFeature('xdp-live-frames')) {
    const r = p.testRun({ data: frame, repeat: 100, flags: TEST_RUN_FLAG.xdp_live_frames, dataOutSize: 0 });
    assert.equal(r.retval, 0, 'live mode reports no single verdict');
    // A bad argument on a kernel that has the feature stays a BpfError naming EINVAL: a frame
    // shorter than an Ethernet header.
    assert.throws(
      () => p.testRun({ data: new Uint8Array(4), repeat: 1, flags: TEST_RUN_FLAG.xdp_live_frames, dataOutSize: 0 }),
      (e: unknown) => e instanceof BpfError && !(e instanceof NotSupportedError) && e.errno === 22,
    );
  } else {
    assert.throws(
      () => p.testRun({ data: frame, repeat: 1, flags: TEST_RUN_FLAG.xdp_live_frames, dataOutSize: 0 }),
      (e: unknown) => e instanceof NotSupportedError && /live frames/.test((e as Error).message),
    );
  }
});
