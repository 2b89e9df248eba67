// Bitfield CO-RE relocations with libbpf's semantics (#15 item 3): values from the target's bitfield layout, the
// instruction's original value not validated for bitfields (clang and libbpf may pick different loads), only
// signedness and right shift validated; and load/store resizing rules for non-bitfield fields.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { ObjectSpec, coreInstructions } from '../../src/pure/object-spec.js';
import { CORE_POISON_IMM, CoreReloError, patchCoreInsn, type CoreReloResult } from '../../src/pure/core-relo.js';
import { CORE_RELO_KIND } from '../../src/pure/btf-ext.js';
import { Btf } from '../../src/pure/btf.js';
import { fixtureObject } from '../fixtures/objects.js';

test('bitfield relocations of a ___flavor struct follow the target layout (obj_ksyms bitfield_prog against its own sk_buff)', () => {
  const bytes = new Uint8Array(readFileSync(fixtureObject('obj_ksyms')));
  const own = ObjectSpec.parse(bytes).btf!;
  // The object's BTF carries vmlinux.h's struct sk_buff: use it as the "kernel".
  const target = Btf.parse(own.encode());
  // Only the real layout may be a candidate: rename the local flavor in the stand-in kernel.
  (target.type(target.findByName('sk_buff___flav', 'struct')!) as { name: string }).name = 'local_only';
  const spec = ObjectSpec.parse(bytes, { targetBtf: target });
  const prog = spec.programs.bitfield_prog!;
  const { results } = coreInstructions(prog);
  const skb = own.findByName('sk_buff', 'struct')!;
  const loc = own.findMember(skb, 'pkt_type')!;
  assert.equal(loc.bitfieldSize, 3);
  const byteOff = Math.floor(loc.bitOffset / 8); // a u8 bitfield: a 1-byte load covers it
  const flav = results.filter((r) => /sk_buff___flav\.pkt_type/.test(r.description));
  const by = (k: number) => flav.find((r) => r.kind === k)!;
  assert.equal(by(CORE_RELO_KIND.field_byte_offset).newValue, byteOff);
  assert.equal(by(CORE_RELO_KIND.field_byte_size).newValue, 1);
  assert.equal(by(CORE_RELO_KIND.field_lshift_u64).newValue, 64 - (loc.bitOffset + 3 - byteOff * 8));
  assert.equal(by(CORE_RELO_KIND.field_rshift_u64).newValue, 61);
  // Local layout: pad[3] then other:7, pkt_type:3 in an unsigned int → 4-byte load at 24, shift 64-(199+3-192).
  assert.equal(by(CORE_RELO_KIND.field_byte_offset).origValue, 24);
  assert.equal(by(CORE_RELO_KIND.field_byte_size).origValue, 4);
  assert.equal(by(CORE_RELO_KIND.field_lshift_u64).origValue, 54);
  for (const r of flav) {
    const v = r.kind === CORE_RELO_KIND.field_signed || r.kind === CORE_RELO_KIND.field_rshift_u64;
    assert.equal(r.validate, v, `${r.description}: validate only signedness and right shift`);
  }
  // The same reads of the real struct: nothing moves.
  for (const r of results.filter((x) => /struct sk_buff\.pkt_type/.test(x.description)))
    assert.equal(r.origValue, r.newValue);
});

const res = (over: Partial<CoreReloResult>): CoreReloResult => ({
  kind: CORE_RELO_KIND.field_byte_offset,
  origValue: 19,
  newValue: 16,
  poison: false,
  validate: false,
  description: 'test',
  ...over,
});
const alu = (imm: number) => {
  const b = new Uint8Array(8);
  b[0] = 0x07;
  b[1] = 0x01;
  new DataView(b.buffer).setInt32(4, imm, true);
  return b;
};

test('an unvalidated (bitfield) relocation patches whatever immediate clang chose; a validated one checks it', () => {
  const insn = alu(16); // clang's byte offset differs from libbpf's local computation (the "imm 16, expected 19" case)
  patchCoreInsn(insn, 0, res({ newValue: 40 }));
  assert.equal(new DataView(insn.buffer).getInt32(4, true), 40);
  assert.throws(
    () =>
      patchCoreInsn(
        alu(16),
        0,
        res({ kind: CORE_RELO_KIND.field_rshift_u64, validate: true, origValue: 61, newValue: 60 }),
      ),
    CoreReloError,
  );
});

test('a load whose field changed size: resized for unsigned ints, poisoned when unsafe (libbpf fail_memsz_adjust)', () => {
  const ldx = () => {
    const b = new Uint8Array(8);
    b[0] = 0x61;
    b[1] = 0x21;
    new DataView(b.buffer).setInt16(2, 8, true);
    return b;
  }; // w1 = *(u32 *)(r2 + 8)
  const ok = ldx();
  patchCoreInsn(ok, 0, res({ origValue: 8, newValue: 16, validate: true, origSize: 4, newSize: 8 }));
  assert.equal(ok[0], 0x79, 'u32 load became a u64 load');
  assert.equal(new DataView(ok.buffer).getInt16(2, true), 16);
  const bad = ldx();
  patchCoreInsn(
    bad,
    0,
    res({ origValue: 8, newValue: 16, validate: true, origSize: 4, newSize: 8, failMemSizeAdjust: true }),
  );
  assert.equal(bad[0], 0x85);
  assert.equal(new DataView(bad.buffer).getInt32(4, true), CORE_POISON_IMM);
});
