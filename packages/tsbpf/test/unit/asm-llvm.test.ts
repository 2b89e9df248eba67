/**
 * Cross-check against LLVM 14 (Debian's llvm-mc / llvm-objdump). LLVM 14 predates the v4 ISA
 * (`-mcpu=v4` is "not a recognized processor"), so: text llvm-mc can assemble is compared byte for
 * byte with tsbpf's encoding; every form llvm-objdump can decode (v1–v3 plus atomics, with
 * `--mattr=+alu32`) is compared with tsbpf's disassembly in both decimal and `--print-imm-hex`
 * spelling; v4 forms, which LLVM 14 prints as `<unknown>`, are checked against current LLVM's
 * spelling in disasm.test.ts.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  asm,
  assemble,
  disassemble,
  decodeProgram,
  R0,
  R1,
  R2,
  R3,
  R4,
  R5,
  R6,
  R7,
  R9,
  R10,
  type AsmItem,
} from '../support/pure.js';
import { V3_FORMS, V4_FORMS, PSEUDO_FORMS } from '../fixtures/asm-forms.js';

const dir = mkdtempSync(join(tmpdir(), 'tsbpf-llvm-'));
after(() => rmSync(dir, { recursive: true, force: true }));
let seq = 0;

/** Assembles text with llvm-mc into an object file. */
function llvmMc(text: string): string {
  const src = join(dir, `t${seq}.s`);
  const obj = join(dir, `t${seq++}.o`);
  writeFileSync(src, `.text\n${text}\n`);
  execFileSync('llvm-mc', ['-triple', 'bpfel', '-mcpu=v3', '-filetype=obj', src, '-o', obj]);
  return obj;
}
/** The .text bytes of an object file. */
function textBytes(obj: string): Uint8Array {
  const bin = `${obj}.bin`;
  execFileSync('llvm-objcopy', ['-O', 'binary', '--only-section=.text', obj, bin]);
  return new Uint8Array(readFileSync(bin));
}
/** llvm-objdump's text per instruction (target annotations stripped). */
function objdump(bytes: Uint8Array, hex: boolean): string[] {
  const lines: string[] = [];
  for (let i = 0; i < bytes.length; i += 8)
    lines.push(`.byte ${Array.from(bytes.subarray(i, i + 8), (b) => `0x${b.toString(16)}`).join(', ')}`);
  const obj = llvmMc(lines.join('\n'));
  const out = execFileSync('llvm-objdump', ['-d', '--mattr=+alu32', ...(hex ? ['--print-imm-hex'] : []), obj], {
    encoding: 'utf8',
  });
  return out
    .split('\n')
    .map((l) => /^\s*\d+:\t(?:[0-9a-f]{2} )+[0-9a-f]{2}\s*\t(.*)$/.exec(l)?.[1])
    .filter((x): x is string => x !== undefined)
    .map(norm);
}
const norm = (s: string) =>
  s
    .replace(/\s*<(?!unknown>)[^<>]*>\s*$/, '')
    .replace(/\s+/g, ' ')
    .trim();
const ours = (bytes: Uint8Array, hex: boolean) => disassemble(bytes, { hex, labels: false }).map(norm);

test('llvm-mc assembles the same bytes tsbpf encodes', () => {
  const pairs: [string, AsmItem][] = [
    ['r1 = 32', asm.mov64(R1, 32)],
    ['r6 = r1', asm.mov64(R6, R1)],
    ['w1 = w2', asm.mov32(R1, R2)],
    ['w1 = -1', asm.mov32(R1, -1)],
    ['r1 += -16', asm.add64(R1, -16)],
    ['r1 -= r2', asm.sub64(R1, R2)],
    ['r1 *= 3', asm.mul64(R1, 3)],
    ['r1 /= r3', asm.div64(R1, R3)],
    ['r1 |= r2', asm.or64(R1, R2)],
    ['r1 &= 255', asm.and64(R1, 255)],
    ['r1 ^= r4', asm.xor64(R1, R4)],
    ['r1 <<= 32', asm.lsh64(R1, 32)],
    ['r0 >>= 32', asm.rsh64(R0, 32)],
    ['r1 s>>= r3', asm.arsh64(R1, R3)],
    ['w1 += 5', asm.add32(R1, 5)],
    ['w1 -= w2', asm.sub32(R1, R2)],
    ['w1 *= w2', asm.mul32(R1, R2)],
    ['w3 /= 2', asm.div32(R3, 2)],
    ['w1 |= 1', asm.or32(R1, 1)],
    ['w1 &= w5', asm.and32(R1, R5)],
    ['w1 ^= -1', asm.xor32(R1, -1)],
    ['w1 <<= 3', asm.lsh32(R1, 3)],
    ['w1 >>= w2', asm.rsh32(R1, R2)],
    ['w1 s>>= 3', asm.arsh32(R1, 3)],
    ['r1 = -r1', asm.neg64(R1)],
    ['w1 = -w1', asm.neg32(R1)],
    ['r6 = be16 r6', asm.be16(R6)],
    ['r6 = be32 r6', asm.be32(R6)],
    ['r6 = be64 r6', asm.be64(R6)],
    ['r6 = le16 r6', asm.le16(R6)],
    ['r6 = le32 r6', asm.le32(R6)],
    ['r6 = le64 r6', asm.le64(R6)],
    ['if r0 == 0 goto +5', asm.jeq(R0, 0, 5)],
    ['if r4 > r3 goto +2', asm.jgt(R4, R3, 2)],
    ['if r6 != 2048 goto -3', asm.jne(R6, 0x800, -3)],
    ['if r1 >= r2 goto +1', asm.jge(R1, R2, 1)],
    ['if r1 < 1000 goto +1', asm.jlt(R1, 1000, 1)],
    ['if r1 <= r2 goto +0', asm.jle(R1, R2, 0)],
    ['if r1 s> -1 goto +1', asm.jsgt(R1, -1, 1)],
    ['if r1 s>= r2 goto +1', asm.jsge(R1, R2, 1)],
    ['if r1 s< 0 goto +1', asm.jslt(R1, 0, 1)],
    ['if r1 s<= r2 goto +1', asm.jsle(R1, R2, 1)],
    ['if w1 == 7 goto +1', asm.jeq32(R1, 7, 1)],
    ['if w1 != w2 goto +1', asm.jne32(R1, R2, 1)],
    ['if w1 > 7 goto +1', asm.jgt32(R1, 7, 1)],
    ['if w1 s< w2 goto -1', asm.jslt32(R1, R2, -1)],
    ['if w1 s<= -3 goto +1', asm.jsle32(R1, -3, 1)],
    ['goto +1', asm.ja(1)],
    ['goto -1', asm.ja(-1)],
    ['call 131', asm.call('ringbuf_reserve')],
    ['call 1', asm.call('map_lookup_elem')],
    ['exit', asm.exit()],
    ['r1 = *(u8 *)(r2 + 23)', asm.ldxb(R1, R2, 23)],
    ['r6 = *(u16 *)(r2 + 12)', asm.ldxh(R6, R2, 12)],
    ['r2 = *(u32 *)(r1 + 0)', asm.ldxw(R2, R1, 0)],
    ['r1 = *(u64 *)(r0 + 8)', asm.ldxdw(R1, R0, 8)],
    ['*(u8 *)(r10 - 1) = r1', asm.stxb(R10, -1, R1)],
    ['*(u16 *)(r10 - 2) = r1', asm.stxh(R10, -2, R1)],
    ['*(u32 *)(r9 + 4) = r0', asm.stxw(R9, 4, R0)],
    ['*(u64 *)(r10 - 8) = r7', asm.stxdw(R10, -8, R7)],
    ['lock *(u64 *)(r1 + 0) += r2', asm.atomicAdd64(R1, 0, R2)],
    ['lock *(u32 *)(r1 + 4) += r2', asm.atomicAdd32(R1, 4, R2)],
    ['lock *(u64 *)(r1 + 0) |= r2', asm.atomicOr64(R1, 0, R2)],
    ['lock *(u64 *)(r1 + 0) &= r2', asm.atomicAnd64(R1, 0, R2)],
    ['lock *(u64 *)(r1 + 0) ^= r2', asm.atomicXor64(R1, 0, R2)],
    ['r1 = 0x1122334455667788 ll', asm.ldImm64(R1, 0x1122334455667788n)],
    ['r1 = -1 ll', asm.ldImm64(R1, -1)],
    ['r2 = 0 ll', asm.ldImm64(R2, 0)],
    ['r0 = *(u8 *)skb[23]', asm.ldAbs('b', 23)],
    ['r0 = *(u16 *)skb[12]', asm.ldAbs('h', 12)],
    ['r0 = *(u32 *)skb[26]', asm.ldAbs('w', 26)],
    ['r0 = *(u32 *)skb[r1]', asm.ldInd('w', R1)],
    ['r0 = *(u8 *)skb[r3]', asm.ldInd('b', R3)],
  ];
  const llvm = textBytes(llvmMc(pairs.map((p) => p[0]).join('\n')));
  const mine = assemble(pairs.map((p) => p[1]));
  assert.equal(llvm.length, mine.length);
  for (let i = 0, slot = 0; i < pairs.length; i++) {
    const n = pairs[i][1].kind === 'ld_imm64' ? 2 : 1;
    const a = Buffer.from(llvm.subarray(slot * 8, (slot + n) * 8)).toString('hex');
    const b = Buffer.from(mine.subarray(slot * 8, (slot + n) * 8)).toString('hex');
    assert.equal(b, a, `'${pairs[i][0]}'`);
    slot += n;
  }
});

test('tsbpf disassembly matches llvm-objdump for every form LLVM 14 decodes (decimal and hex)', () => {
  const bytes = assemble([...V3_FORMS, ...PSEUDO_FORMS], { maps: { m: { fd: 3 } } });
  for (const hex of [false, true]) {
    const theirs = objdump(bytes, hex);
    const mine = ours(bytes, hex);
    assert.equal(mine.length, theirs.length);
    const decoded = decodeProgram(bytes);
    let compared = 0;
    for (let i = 0; i < mine.length; i++) {
      if (theirs[i] === '<unknown>') {
        // LLVM 14 has no BPF_MOD (`%=`), BPF_JSET (`&`) or kfunc calls; nothing else may be unknown to it.
        const { code, src } = decoded[i].raw;
        const alu = (code & 7) === 4 || (code & 7) === 7;
        const jmp = (code & 7) === 5 || (code & 7) === 6;
        assert.ok(
          (alu && (code & 0xf0) === 0x90) || (jmp && (code & 0xf0) === 0x40) || (code === 0x85 && src === 2),
          `LLVM 14 cannot decode instruction ${i}: ${mine[i]}`,
        );
        continue;
      }
      assert.equal(mine[i], theirs[i], `instruction ${i} (hex=${hex})`);
      compared++;
    }
    assert.ok(compared >= mine.length - 12, `${compared}/${mine.length} compared`);
  }
});

test('v4 forms are ones LLVM 14 cannot decode (or decodes leniently); tsbpf decodes them all', () => {
  const bytes = assemble(V4_FORMS);
  const theirs = objdump(bytes, true);
  const decoded = decodeProgram(bytes);
  assert.ok(decoded.every((d) => d.known));
  const mine = ours(bytes, true);
  const unknownToLlvm = theirs.filter((t) => t === '<unknown>').length;
  assert.ok(unknownToLlvm >= 20, `${unknownToLlvm} of ${theirs.length} v4 forms unknown to LLVM 14`);
  // Where LLVM 14 does print something for a v4 encoding it ignored the field that makes it v4
  // (e.g. movsx's off decodes as a plain mov); tsbpf prints the v4 meaning.
  for (let i = 0; i < mine.length; i++) if (theirs[i] !== '<unknown>') assert.notEqual(mine[i], '<unknown>');
});

test('random valid v1-v3 instructions: tsbpf and llvm-objdump agree', () => {
  let seed = 12345;
  const rnd = () => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) >>> 8;
  const picks: Uint8Array[] = [];
  while (picks.length < 1500) {
    const b = new Uint8Array(8);
    const code = rnd() & 0xff;
    b[0] = code;
    b[1] = ((rnd() % 11) << 4) | (rnd() % 11);
    const offChoice = rnd() % 4;
    const off = offChoice === 0 ? 0 : offChoice === 1 ? (rnd() % 64) - 32 : (rnd() & 0xffff) - 0x8000;
    new DataView(b.buffer).setInt16(2, off, true);
    const immChoice = rnd() % 4;
    const imm =
      immChoice === 0
        ? 0
        : immChoice === 1
          ? [16, 32, 64, 1, 0x41, 0xe1, 0xf1, 0xa1][rnd() % 8]
          : immChoice === 2
            ? (rnd() % 2000) - 1000
            : rnd() * 257;
    new DataView(b.buffer).setInt32(4, imm | 0, true);
    // Zero the fields a valid form must leave zero, then keep it only if tsbpf calls it valid v1-v3.
    const d = decodeProgram(b)[0];
    if (!d.known || d.slots !== 1 || isV4(b)) continue;
    picks.push(b);
  }
  const bytes = new Uint8Array(picks.length * 8);
  for (const [i, p] of picks.entries()) bytes.set(p, i * 8);
  for (const hex of [false, true]) {
    const theirs = objdump(bytes, hex);
    const mine = ours(bytes, hex);
    for (let i = 0; i < mine.length; i++)
      assert.equal(mine[i], theirs[i], `${Buffer.from(picks[i]).toString('hex')} (hex=${hex})`);
  }
});

/** Encodings LLVM 14 cannot print: v4, BPF_ST, may_goto, acquire/release, kfunc calls, and mod/jset which it lacks. */
function isV4(b: Uint8Array): boolean {
  const code = b[0];
  const cls = code & 7;
  const v = new DataView(b.buffer, b.byteOffset);
  const off = v.getInt16(2, true);
  const imm = v.getInt32(4, true);
  if ((cls === 4 || cls === 7) && (code & 0xf0) === 0x90) return true; // BPF_MOD: missing from LLVM 14
  if ((cls === 5 || cls === 6) && (code & 0xf0) === 0x40) return true; // BPF_JSET: missing from LLVM 14
  if ((cls === 4 || cls === 7) && off !== 0) return true; // sdiv/smod/movsx/addr_space_cast
  if (cls === 7 && (code & 0xf0) === 0xd0) return true; // bswap
  if (cls === 1 && (code & 0xe0) === 0x80) return true; // ldxs
  if (cls === 2) return true; // BPF_ST (LLVM 14 never emits or decodes it)
  if (cls === 6 && (code & 0xf0) === 0) return true; // gotol
  if (cls === 5 && (code & 0xf0) === 0xe0) return true; // may_goto
  if (cls === 5 && (code & 0xf0) === 0x80 && b[1] >> 4 === 2) return true; // kfunc call
  if (cls === 3 && (code & 0xe0) === 0xc0 && imm >= 0x100) return true; // load_acquire/store_release
  if (cls === 0 && (code & 0xe0) === 0x40 && imm !== 0) return true; // llvm drops ld_ind's imm
  return false;
}
