import { test } from 'node:test';
import assert from 'node:assert/strict';
import { t } from '../support/pure.js';

test('the seed event struct: size 32, timestamp at 8, comm at 16', () => {
  const Event = t.struct({ pid: t.u32, uid: t.u32, timestamp: t.u64, comm: t.cstring(16) });
  assert.equal(Event.size, 32);
  assert.equal(Event.offsetOf('timestamp'), 8);
  assert.equal(Event.offsetOf('comm'), 16);
  const bytes = Event.toBytes({ pid: 1, uid: 2, timestamp: 3n, comm: 'bash' });
  assert.deepEqual([...bytes.subarray(0, 8)], [1, 0, 0, 0, 2, 0, 0, 0]);
  assert.deepEqual(Event.fromBytes(bytes), { pid: 1, uid: 2, timestamp: 3n, comm: 'bash' });
});

test('C alignment and tail padding', () => {
  const S = t.struct({ a: t.u8, b: t.u64, c: t.u16 });
  assert.equal(S.offsetOf('b'), 8);
  assert.equal(S.offsetOf('c'), 16);
  assert.equal(S.size, 24);
  assert.equal(S.align, 8);
  const P = t.packed({ a: t.u8, b: t.u64, c: t.u16 });
  assert.equal(P.size, 11);
  const N = t.struct({ x: t.u8, inner: t.struct({ y: t.u32, z: t.u8 }), arr: t.array(t.u16, 3) });
  assert.equal(N.offsetOf('inner'), 4);
  assert.equal(N.offsetOf('arr'), 12);
  assert.equal(N.size, 20);
  const v = { x: 1, inner: { y: 0xdeadbeef, z: 7 }, arr: [1, 2, 3] };
  assert.deepEqual(N.fromBytes(N.toBytes(v)), v);
});

test('signed, 64-bit and string edge cases', () => {
  const S = t.struct({ a: t.i8, b: t.i16, c: t.i32, d: t.i64, e: t.u64, f: t.u64num, s: t.cstring(4) });
  const v = { a: -128, b: -2, c: -3, d: -(1n << 63n), e: (1n << 64n) - 1n, f: 2 ** 53 - 1, s: 'abc' };
  assert.deepEqual(S.fromBytes(S.toBytes(v)), v);
  // strings are truncated to leave the NUL
  assert.equal(t.cstring(4).fromBytes(t.cstring(4).toBytes('abcdef')), 'abc');
  // UTF-8 round trip
  assert.equal(t.cstring(16).fromBytes(t.cstring(16).toBytes('héllo')), 'héllo');
  assert.throws(() => t.u8.toBytes(256), /does not fit in u8/);
  assert.throws(() => t.u64.toBytes(-1n), /does not fit in u64/);
  assert.throws(() => t.u64.toBytes(1.5 as any), /safe integer/);
  assert.throws(() => S.toBytes(null as any), /expects an object/);
  assert.throws(() => (S as any).offsetOf('nope'), /no field "nope"/);
  assert.throws(() => t.cstring(0), /positive integer/);
});

test('encode zeroes padding and omitted fields (no stale bytes leak to the kernel)', () => {
  const S = t.struct({ a: t.u8, b: t.u32 });
  const buf = new Uint8Array(8).fill(0xff);
  S.encode({ a: 1 } as any, new DataView(buf.buffer));
  assert.deepEqual([...buf], [1, 0, 0, 0, 0, 0, 0, 0]);
});
