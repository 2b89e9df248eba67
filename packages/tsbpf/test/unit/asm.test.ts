import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  asm,
  assemble,
  assembleProgram,
  labelPositions,
  disassemble,
  parseAsm,
  decodeProgram,
  helperId,
  t,
  R0,
  R1,
  R2,
  R3,
  R4,
  R5,
  R6,
  R7,
  R8,
  R9,
  R10,
  type AsmItem,
} from '../support/pure.js';
import { decodeInsns, LD_IMM64, PSEUDO } from '../../src/pure/insn.js';
import { HELPER_IDS } from '../../src/pure/helper-ids.js';
import { ALL_FORMS } from '../fixtures/asm-forms.js';

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const one = (item: AsmItem) => hex(assemble([item]));

test('encodes instruction fields exactly (struct bpf_insn layout, little-endian)', () => {
  assert.equal(one(asm.mov64(R1, 32)), 'b701000020000000');
  assert.equal(one(asm.mov64(R6, R1)), 'bf16000000000000');
  assert.equal(one(asm.mov32(R1, -1)), 'b4010000ffffffff');
  assert.equal(one(asm.mov32(R1, 0xffffffff)), 'b4010000ffffffff');
  assert.equal(one(asm.add64(R1, -16)), '07010000f0ffffff');
  assert.equal(one(asm.stxw(R10, -4, R1)), '631afcff00000000');
  assert.equal(one(asm.ldxdw(R1, R2, 8)), '7921080000000000');
  assert.equal(one(asm.stw(R10, -8, 7)), '620af8ff07000000');
  assert.equal(one(asm.call('ringbuf_reserve')), '8500000083000000');
  assert.equal(one(asm.call('bpf_ringbuf_reserve')), '8500000083000000');
  assert.equal(one(asm.call(131)), '8500000083000000');
  assert.equal(one(asm.exit()), '9500000000000000');
  assert.equal(one(asm.be16(R6)), 'dc06000010000000');
  assert.equal(one(asm.le64(R6)), 'd406000040000000');
  assert.equal(one(asm.bswap32(R6)), 'd706000020000000');
  assert.equal(one(asm.movsx64(R1, R2, 16)), 'bf21100000000000');
  assert.equal(one(asm.sdiv64(R1, R2)), '3f21010000000000');
  assert.equal(one(asm.smod32(R1, 3)), '9401010003000000');
  assert.equal(one(asm.ldxsw(R1, R2, 4)), '8121040000000000');
  assert.equal(one(asm.ldxsb(R1, R2, 4)), '9121040000000000');
  assert.equal(one(asm.atomicFetchAdd64(R1, 0, R2)), 'db21000001000000');
  assert.equal(one(asm.atomicAdd32(R1, 0, R2)), 'c321000000000000');
  assert.equal(one(asm.xchg64(R1, 8, R2)), 'db210800e1000000');
  assert.equal(one(asm.cmpxchg32(R1, 0, R2)), 'c3210000f1000000');
  assert.equal(one(asm.loadAcquire('dw', R0, R1, 0)), 'db10000000010000');
  assert.equal(one(asm.storeRelease('w', R1, 0, R2)), 'c321000010010000');
  assert.equal(one(asm.ldAbs('h', 12)), '280000000c000000');
  assert.equal(one(asm.ldInd('b', R1, 4)), '5010000004000000');
  assert.equal(one(asm.gotol(70000)), '0600000070110100');
  assert.equal(one(asm.mayGoto(1)), 'e500010000000000');
  assert.equal(one(asm.neg64(R3)), '8703000000000000');
});

test('ld_imm64 forms: plain constant, map fd, map value, BTF id, func, map idx', () => {
  assert.equal(one(asm.ldImm64(R1, 0x5566778811223344n)), '1801000044332211000000008877665' + '5');
  assert.equal(one(asm.ldImm64(R1, -1)), '18010000ffffffff00000000ffffffff');
  assert.equal(one(asm.ldMapFd(R1, { fd: 5 })), '1811000005000000' + '0000000000000000');
  assert.equal(one(asm.ldMapValue(R2, { fd: 7 }, 8)), '1822000007000000' + '0000000008000000');
  assert.equal(one(asm.ldBtfId(R3, 1234)), '18330000d2040000' + '0000000000000000');
  assert.equal(one(asm.ldMapIdx(R1, 2)), '1851000002000000' + '0000000000000000');
  assert.equal(one(asm.ldMapIdxValue(R1, 2, 16)), '1861000002000000' + '0000000010000000');
  const b = assemble([asm.ldFunc(R2, 'cb'), asm.exit(), asm.label('cb'), asm.exit()]);
  // The callback starts at slot 3 = first slot (0) + 1 + imm.
  assert.equal(hex(b.subarray(0, 16)), '1842000002000000' + '0000000000000000');
  assert.throws(() => asm.ldImm64(R1, 1n << 64n), /64 bits/);
  assert.throws(() => asm.ldImm64(R1, 2 ** 60), /bigint/);
});

test('labels resolve forward and backward; label positions are exported', () => {
  const items = [
    asm.label('top'),
    asm.mov64(R0, 0),
    asm.jeq(R1, 0, 'out'),
    asm.ldImm64(R2, 1n),
    asm.ja('top'),
    asm.label('out'),
    asm.exit(),
  ];
  const { bytes, labels } = assembleProgram(items);
  const insns = decodeInsns(bytes);
  assert.equal(insns[1].off, 3); // jeq at 1 -> out at 5
  assert.equal(insns[4].off, -5); // ja at 4 -> top at 0
  assert.deepEqual(
    [...labels],
    [
      ['top', 0],
      ['out', 5],
    ],
  );
  assert.deepEqual(
    [...labelPositions(items)],
    [
      ['top', 0],
      ['out', 5],
    ],
  );
  // Nested arrays (macros) flatten.
  assert.deepEqual(assemble([[asm.mov64(R0, 1)], [[asm.exit()]]]), assemble([asm.mov64(R0, 1), asm.exit()]));
});

test('label errors name the label: unknown, duplicate, out of 16-bit range', () => {
  assert.throws(() => assemble([asm.ja('nowhere'), asm.exit()]), /unknown label 'nowhere'/);
  assert.throws(() => assemble([asm.callLabel('fn'), asm.exit()]), /unknown label 'fn'/);
  assert.throws(() => assemble([asm.ldFunc(R1, 'cb'), asm.exit()]), /unknown label 'cb'/);
  assert.throws(() => assemble([asm.label('a'), asm.label('a'), asm.exit()]), /duplicate label 'a'/);
  const filler = Array.from({ length: 40000 }, () => asm.mov64(R0, 0));
  assert.throws(
    () => assemble([asm.jeq(R1, 0, 'far'), ...filler, asm.label('far'), asm.exit()]),
    /label 'far'.*16-bit range/,
  );
  // gotol reaches beyond 16 bits.
  const b = assemble([asm.gotol('far'), ...filler, asm.label('far'), asm.exit()]);
  assert.equal(decodeInsns(b)[0].imm, 40000);
  // Exactly at the 16-bit edge is fine.
  const edge = Array.from({ length: 32767 }, () => asm.mov64(R0, 0));
  assert.equal(decodeInsns(assemble([asm.ja('e'), ...edge, asm.label('e'), asm.exit()]))[0].off, 32767);
});

test('bpf-to-bpf calls use BPF_PSEUDO_CALL with a pc-relative imm', () => {
  const b = assemble([asm.callLabel('fn'), asm.exit(), asm.label('fn'), asm.mov64(R0, 1), asm.exit()]);
  const [call] = decodeInsns(b);
  assert.equal(call.src, 1);
  assert.equal(call.imm, 1);
});

test('maps: objects with fd, names bound at assembly, clear error for an unbound name', () => {
  const prog = [asm.ldMapFd(R1, 'events'), asm.ldMapValue(R2, 'globals', 4), asm.exit()];
  const b = assemble(prog, { maps: { events: { fd: 9 }, globals: { fd: 11 } } });
  const s = decodeInsns(b);
  assert.deepEqual([s[0].code, s[0].src, s[0].imm, s[1].imm], [LD_IMM64, PSEUDO.map_fd, 9, 0]);
  assert.deepEqual([s[2].src, s[2].imm, s[3].imm], [PSEUDO.map_value, 11, 4]);
  assert.throws(() => assemble(prog, { maps: { events: { fd: 9 } } }), /map 'globals' is not bound/);
  assert.throws(() => assemble([asm.ldMapFd(R1, { fd: -1 }), asm.exit()]), /no valid fd/);
  assert.throws(() => asm.ldMapFd(R1, 42 as never), /expected a map/);
});

test('helpers by name come from the generated uapi table, bpf_ prefix optional', () => {
  assert.equal(Object.keys(HELPER_IDS).length > 200, true);
  assert.equal(helperId('map_lookup_elem'), 1);
  assert.equal(helperId('bpf_map_lookup_elem'), 1);
  assert.equal(helperId('ringbuf_submit'), 132);
  assert.equal(helperId('user_ringbuf_drain'), 209);
  assert.throws(() => asm.call('no_such_helper'), /unknown helper 'no_such_helper'/);
});

test('operand validation fails before assembly with clear messages', () => {
  assert.throws(() => asm.mov64(R1, 2 ** 32), /not a 32-bit integer/);
  assert.throws(() => asm.mov64(R1, 1.5), /not a 32-bit integer/);
  assert.throws(() => asm.ldxw(R1, R2, 40000), /signed 16-bit/);
  assert.throws(() => asm.mov64({ kind: 'reg', n: 11 } as never, 0), /R0\.\.R10/);
  assert.throws(() => asm.add64(1 as never, R1), /register/);
  assert.throws(() => asm.movsx64(R1, R2, 64 as never), /8, 16 or 32/);
  assert.throws(() => asm.storeMem('q' as never, R1, 0, R2), /size must be/);
  assert.throws(() => asm.jmpImm('jfoo' as never, R1, 0, 'x'), /unknown jump/);
  assert.throws(() => assemble([{ kind: 'bogus' } as never]), /not an instruction/);
});

test('struct offsets from the layout library are plain numbers', () => {
  const Event = t.struct({ pid: t.u32, uid: t.u32, timestamp: t.u64, comm: t.cstring(16) });
  const b = assemble([asm.stxw(R9, Event.offsetOf('uid'), R0), asm.stxdw(R9, Event.offsetOf('timestamp'), R0)]);
  assert.deepEqual(
    decodeInsns(b).map((i) => i.off),
    [4, 8],
  );
});

test('seed-style aliases encode like the mnemonic builders', () => {
  const pairs: [AsmItem, AsmItem][] = [
    [asm.mov(R1, 0), asm.mov64(R1, 0)],
    [asm.movReg(R6, R1), asm.mov64(R6, R1)],
    [asm.rsh(R0, 32), asm.rsh64(R0, 32)],
    [asm.storeMem('w', R9, 0, R0), asm.stxw(R9, 0, R0)],
    [asm.storeMem('dw', R10, -8, 1), asm.stdw(R10, -8, 1)],
    [asm.loadMem('h', R6, R2, 12), asm.ldxh(R6, R2, 12)],
    [asm.loadCtx('w', R2, 4), asm.ldxw(R2, R1, 4)],
    [asm.jmpImm('jne', R6, 0x800, 3), asm.jne(R6, 0x800, 3)],
    [asm.jmpReg('jgt', R4, R3, 2), asm.jgt(R4, R3, 2)],
    [asm.jmp(1), asm.ja(1)],
    [asm.endianBe('h', R6), asm.be16(R6)],
    [asm.endianLe('dw', R6), asm.le64(R6)],
  ];
  for (const [a, b] of pairs) assert.equal(one(a), one(b));
});

test('round trip: every opcode form assembles, disassembles, parses and reassembles to identical bytes', () => {
  const bytes = assemble(ALL_FORMS, { maps: { m: { fd: 3 } } });
  const n = decodeProgram(bytes);
  assert.ok(
    n.every((d) => d.known),
    'every form decodes as a valid instruction',
  );
  for (const hexImm of [true, false]) {
    const text = disassemble(bytes, { style: 'readable', hex: hexImm });
    assert.equal(hex(assemble(parseAsm(text))), hex(bytes), `readable, hex=${hexImm}`);
    const noLabels = disassemble(bytes, { style: 'readable', hex: hexImm, labels: false, addresses: true });
    assert.equal(hex(assemble(parseAsm(noLabels))), hex(bytes));
  }
  // The llvm style is ambiguous only for pseudo calls, ld_pseudo and ld_ind's imm (llvm drops it);
  // everything else round-trips too.
  const plain = ALL_FORMS.filter(
    (i) =>
      !(i.kind === 'ld_imm64' && i.src !== 0) &&
      !(i.kind === 'insn' && i.code === 0x85 && i.src !== 0) &&
      !(i.kind === 'insn' && (i.code & 0xe7) === 0x40 && i.imm !== 0),
  );
  const pb = assemble(plain);
  assert.equal(hex(assemble(parseAsm(disassemble(pb)))), hex(pb));
  // Structured decode → items → bytes as well.
  const items: AsmItem[] = decodeProgram(bytes).map((d) =>
    d.slots === 2 ? { kind: 'ld_imm64', dst: d.raw.dst, src: d.raw.src, imm: d.imm64! } : { kind: 'insn', ...d.raw },
  );
  assert.equal(hex(assemble(items)), hex(bytes));
});

test('round trip: exhaustive over all 256 opcodes with varied fields', () => {
  const fieldSets = [
    [1, 2, 0, 0],
    [1, 0, 0, 5],
    [1, 2, 1, 0],
    [1, 0, 1, -7],
    [0, 0, 3, 0],
    [0, 0, 0, 0],
    [3, 0, 0, 16],
    [3, 0, 0, 32],
    [3, 0, 0, 64],
    [2, 3, 8, 0],
    [2, 3, 16, 0],
    [2, 3, 32, 0],
    [1, 2, 0, 1],
    [1, 2, 0, 0xe1],
    [1, 2, 0, 0xf1],
    [1, 2, -8, 0x41],
    [0, 1, 0, -1],
    [0, 2, 0, 131],
    [1, 2, 1, 65536],
    [0, 2, 5, 7],
  ];
  let known = 0;
  for (let code = 0; code < 256; code++) {
    for (const [dst, src, off, imm] of fieldSets) {
      const b = assemble([asm.raw(code, dst, src, off, imm), asm.raw(0, 0, 0, 0, 0)]);
      const text = disassemble(b, { style: 'readable' });
      assert.equal(
        hex(assemble(parseAsm(text))),
        hex(b),
        `code 0x${code.toString(16)} ${[dst, src, off, imm]}: ${text.join(' | ')}`,
      );
      if (decodeProgram(b)[0].known) known++;
    }
  }
  assert.ok(known > 600, `${known} valid forms exercised`);
});

test('registers R0..R10 are distinct and print as rN', () => {
  const regs = [R0, R1, R2, R3, R4, R5, R6, R7, R8, R9, R10];
  assert.deepEqual(
    regs.map((r) => r.n),
    [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10],
  );
  assert.equal(String(R10), 'r10');
});
