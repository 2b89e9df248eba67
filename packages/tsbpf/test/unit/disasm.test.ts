import { test } from 'node:test';
import assert from 'node:assert/strict';
import { asm, assemble, disassemble, decodeProgram, parseAsm, R0, R1, R2, R3, R9 } from '../support/pure.js';
import { V4_FORMS } from '../fixtures/asm-forms.js';
import { AsmSyntaxError } from '../../src/pure/asm-text.js';
import { TsbpfError } from '../../src/pure/errors.js';

test('llvm syntax with labels for jump targets, hex (default) or decimal immediates', () => {
  const b = assemble([
    asm.mov64(R1, 32),
    asm.call('ringbuf_reserve'),
    asm.jeq(R0, 0, 'out'),
    asm.stxw(R9, 4, R0),
    asm.ja('out'),
    asm.label('out'),
    asm.mov64(R0, 0),
    asm.exit(),
  ]);
  assert.deepEqual(disassemble(b), [
    'r1 = 0x20',
    'call 0x83',
    'if r0 == 0x0 goto +0x2 <LBB0_0>',
    '*(u32 *)(r9 + 0x4) = w0',
    'goto +0x0 <LBB0_0>',
    'LBB0_0:',
    'r0 = 0x0',
    'exit',
  ]);
  assert.deepEqual(disassemble(b, { hex: false, labels: false }), [
    'r1 = 32',
    'call 131',
    'if r0 == 0 goto +2',
    '*(u32 *)(r9 + 4) = w0',
    'goto +0',
    'r0 = 0',
    'exit',
  ]);
  assert.equal(disassemble(b, { addresses: true, labels: false })[2], '       2:\tif r0 == 0x0 goto +0x2');
  assert.equal(disassemble(b, { style: 'readable' })[1], 'call bpf_ringbuf_reserve');
});

test('v4 and newer forms use current LLVM spelling', () => {
  assert.deepEqual(disassemble(assemble(V4_FORMS), { labels: false, hex: false }), [
    'r1 s/= r2',
    'r1 s/= -3',
    'r3 s%= r4',
    'r3 s%= 7',
    'w1 s/= w2',
    'w1 s/= -3',
    'w3 s%= w4',
    'w3 s%= 7',
    'r1 = (s8)r2',
    'r1 = (s16)r2',
    'r1 = (s32)r2',
    'w3 = (s8)w4',
    'w3 = (s16)w4',
    'r1 = bswap16 r1',
    'r2 = bswap32 r2',
    'r3 = bswap64 r3',
    'r1 = *(s8 *)(r2 + 1)',
    'r1 = *(s16 *)(r2 - 2)',
    'r1 = *(s32 *)(r2 + 4)',
    '*(u8 *)(r10 - 1) = 127',
    '*(u16 *)(r10 - 2) = -1',
    '*(u32 *)(r10 - 4) = 123456',
    '*(u64 *)(r10 - 8) = -2',
    'gotol +2',
    'gotol -70000',
    'may_goto +1',
    'w0 = load_acquire((u8 *)(r1 + 0))',
    'w0 = load_acquire((u16 *)(r1 + 2))',
    'w0 = load_acquire((u32 *)(r1 + 4))',
    'r0 = load_acquire((u64 *)(r1 + 8))',
    'store_release((u8 *)(r1 + 0), w2)',
    'store_release((u16 *)(r1 + 2), w2)',
    'store_release((u32 *)(r1 + 4), w2)',
    'store_release((u64 *)(r1 + 8), r2)',
    'r1 = addr_space_cast(r2, 1, 0)',
    'r0 = *(u32 *)skb[r3]',
  ]);
});

test('readable style: helper names, pc-relative calls, named pseudo loads, callback labels', () => {
  const b = assemble([
    asm.ldMapFd(R1, { fd: 4 }),
    asm.ldMapValue(R2, { fd: 4 }, 16),
    asm.ldBtfId(R3, 77),
    asm.ldFunc(R2, 'cb'),
    asm.callLabel('cb'),
    asm.callKfunc(1234),
    asm.call('map_lookup_elem'),
    asm.exit(),
    asm.label('cb'),
    asm.mov64(R0, 0),
    asm.exit(),
  ]);
  assert.deepEqual(disassemble(b, { style: 'readable' }), [
    'r1 = map_fd(4) ll',
    'r2 = map_value(4, 0x10) ll',
    'r3 = btf_id(77) ll',
    'r2 = func(pc+0x5) ll <LBB0_0>',
    'call pc+0x3 <LBB0_0>',
    'call kfunc#1234',
    'call bpf_map_lookup_elem',
    'exit',
    'LBB0_0:',
    'r0 = 0x0',
    'exit',
  ]);
  assert.equal(disassemble(b)[0], 'ld_pseudo\tr1, 0x1, 0x4');
});

test('malformed input: reserved fields, unknown opcodes, truncated ld_imm64 and partial slots become <unknown>', () => {
  const bytes = new Uint8Array([
    0xb7,
    0x01,
    0x01,
    0x00,
    0x00,
    0x00,
    0x00,
    0x00, // mov with off=1: reserved
    0x07,
    0x01,
    0x00,
    0x00,
    0x01,
    0x00,
    0x00,
    0x00, // valid r1 += 1
    0xff,
    0x00,
    0x00,
    0x00,
    0x00,
    0x00,
    0x00,
    0x00, // reserved opcode
    0x95,
    0x00,
    0x00,
    0x00,
    0x01,
    0x00,
    0x00,
    0x00, // exit with imm
    0x18,
    0x01,
    0x00,
    0x00,
    0x01,
    0x00,
    0x00,
    0x00, // ld_imm64 with no second slot
    0xaa,
    0xbb,
    0xcc, // trailing partial slot
  ]);
  assert.deepEqual(disassemble(bytes), ['<unknown>', 'r1 += 0x1', '<unknown>', '<unknown>', '<unknown>', '<unknown>']);
  const readable = disassemble(bytes, { style: 'readable' });
  assert.equal(readable[0], '<unknown> ; b7 01 01 00 00 00 00 00');
  assert.equal(readable[5], '<unknown> ; aa bb cc');
  // Everything except the partial slot reassembles to the same bytes.
  assert.deepEqual(assemble(parseAsm(readable.slice(0, 5))), bytes.subarray(0, 40));
  // ld_imm64 whose second slot is not all-zero except imm.
  const bad = assemble([asm.raw(0x18, 1, 0, 0, 1), asm.raw(0x07, 1, 0, 0, 1)]);
  assert.deepEqual(disassemble(bad), ['<unknown>', 'r1 += 0x1']);
  assert.deepEqual(disassemble(new Uint8Array(0)), []);
  assert.throws(() => disassemble('nope' as never), TypeError);
});

test('jumps out of the program get no label; decodeProgram reports targets', () => {
  const b = assemble([asm.ja(5), asm.exit()]);
  assert.deepEqual(disassemble(b), ['goto +0x5', 'exit']);
  assert.equal(decodeProgram(b)[0].target, 6);
});

test('parseAsm accepts llvm-objdump output with address and byte columns and reports bad lines', () => {
  const items = parseAsm([
    '       0:\tb7 01 00 00 20 00 00 00\tr1 = 32',
    '       1:\t18 01 00 00 ff ff ff ff 00 00 00 00 ff ff ff ff\tr1 = -1 ll',
    'LBB0_1:',
    '  if w1 s< -3 goto -1 <LBB0_1>  ; comment',
    'call bpf_ktime_get_ns',
    'exit',
  ]);
  assert.equal(
    Buffer.from(assemble(items)).toString('hex'),
    'b701000020000000' +
      '18010000ffffffff00000000ffffffff' +
      'c601fffffdffffff' +
      '8500000005000000' +
      '9500000000000000',
  );
  assert.throws(() => parseAsm(['r1 = ?']), /line 1: cannot parse 'r1 = \?'/);
  assert.throws(() => parseAsm(['call nope']), /unknown helper 'nope'/);
});

test('parseAsm: every rejection is an AsmSyntaxError (a TsbpfError) naming the line, unknown helpers included', () => {
  const typed = (line: number, what: RegExp) => (e: unknown) =>
    e instanceof AsmSyntaxError &&
    e instanceof TsbpfError &&
    e.code === 'ERR_ASM_SYNTAX' &&
    e.message.startsWith(`tsbpf: line ${line}: `) &&
    what.test(e.message);
  assert.throws(() => parseAsm(['r1 = ?']), typed(1, /cannot parse 'r1 = \?'/));
  // Found by the fuzzer: the call rule's helper lookup threw a RangeError, not the parser's error.
  assert.throws(() => parseAsm(['r0 = 0', 'call nope']), typed(2, /unknown helper 'nope'/));
  assert.throws(() => parseAsm(['call bpf_no_such_helper']), typed(1, /unknown helper 'bpf_no_such_helper'/));
  assert.throws(() => parseAsm(['<unknown> ; 01 02']), typed(1, /truncated instruction/));
});

test('parseAsm: an operand that does not fit its field is an AsmSyntaxError, never a silently different instruction', () => {
  const rejected = [
    'r16 = 1', // 4-bit register field: would encode as r0
    'r1 = 4294967296', // 32-bit immediate: would encode as 0
    'r1 = -2147483649',
    'w1 += 0x100000000',
    'if r1 == 4294967296 goto +1',
    'r1 = *(u32 *)(r2 + 32768)', // signed 16-bit offset
    '*(u64 *)(r10 - 32769) = r1',
    'goto +32768',
    'if r1 > r2 goto -32769',
    'gotol +4294967296',
    'call 4294967296',
    'call kfunc#4294967296',
    'call kfunc#1@32768',
    'r1 = 18446744073709551616 ll', // 64-bit immediate
    'r1 = -9223372036854775809 ll',
    'r1 = map_fd(4294967296) ll', // would spill into the value offset half
    'r1 = map_value(1, 4294967296) ll',
    'r1 = btf_id(1, 4294967296) ll',
    'r1 = func(pc+4294967296) ll',
    'ld_pseudo r1, 16, 0',
    'r1 = addr_space_cast(r2, 65536, 0)',
    'r0 = *(u8 *)skb[4294967296]',
  ];
  for (const line of rejected) {
    assert.throws(
      () => parseAsm(['exit', line]),
      (e: unknown) =>
        e instanceof AsmSyntaxError && e.code === 'ERR_ASM_SYNTAX' && /^tsbpf: line 2: .*does not fit/.test(e.message),
      line,
    );
  }
  // The edges of each field still parse, to the bytes they name.
  const hex = (line: string) => Buffer.from(assemble(parseAsm([line]))).toString('hex');
  assert.equal(hex('r1 = 4294967295'), 'b7010000ffffffff', 'unsigned spelling of -1');
  assert.equal(hex('r1 = -2147483648'), 'b701000000000080');
  assert.equal(hex('r15 = 1'), 'b70f000001000000', 'r11..r15 parse back to their raw encodings');
  assert.equal(hex('goto -32768'), '0500008000000000');
  assert.equal(hex('r1 = *(u32 *)(r2 + 32767)'), '6121ff7f00000000');
  assert.equal(hex('r1 = 18446744073709551615 ll'), '18010000ffffffff00000000ffffffff');
  assert.equal(hex('r1 = -9223372036854775808 ll'), '1801000000000000' + '0000000000000080');
  assert.equal(hex('r1 = map_value(4294967295, -1) ll'), '18210000ffffffff00000000ffffffff');
});
