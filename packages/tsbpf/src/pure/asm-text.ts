/**
 * Parses eBPF assembly text (the syntax `disassemble` and `llvm-objdump` print) back into assembler
 * items, so that disassembled programs can be edited and reassembled. Jump and call offsets are kept as
 * the numeric offsets in the text; `<LBB0_3>` annotations, `LBB0_3:` label lines, `12:` address columns
 * and `;`/`#`/`//` comments are ignored, except that `<unknown> ; xx xx ...` reproduces its raw bytes.
 */
import { ALU_OP, ATOMIC_OP, CLASS, JMP_OP, MODE, PSEUDO, PSEUDO_CALL, PSEUDO_KFUNC_CALL, SIZE, SRC } from './insn.js';
import { helperId, type AsmItem, type InsnItem, type LdImm64Item } from './asm.js';
import { TsbpfError } from './errors.js';

/** Assembler text that does not parse; the message names the line. */
export class AsmSyntaxError extends TsbpfError {
  override readonly name = 'AsmSyntaxError';
  readonly code = 'ERR_ASM_SYNTAX';
}

const N = '(-?(?:0x[0-9a-f]+|\\d+))';
const REL = '([+-](?:0x[0-9a-f]+|\\d+))';
const R = '([rw])(\\d+)';
const MEM = `r(\\d+)\\s*([+-])\\s*(0x[0-9a-f]+|\\d+)`;
const SZ = '(u8|u16|u32|u64)';

function int(s: string): number {
  const neg = s.startsWith('-');
  const body = neg || s.startsWith('+') ? s.slice(1) : s;
  const v = body.startsWith('0x') ? parseInt(body.slice(2), 16) : parseInt(body, 10);
  return neg ? -v : v;
}
function big(s: string): bigint {
  const neg = s.startsWith('-');
  const body = neg ? s.slice(1) : s;
  const v = BigInt(body);
  return neg ? -v : v;
}
/*
 * Operand ranges. The encoding has 4-bit register fields, a signed 16-bit offset and a 32-bit
 * immediate; a number outside its field would be silently truncated by the encoder and assemble
 * to a different instruction than the text says, so the parser rejects it (RangeError here,
 * reported by parseAsm as an AsmSyntaxError naming the line). Registers r11..r15 do not exist,
 * but they are what the disassembler prints for such raw encodings, so they parse back to them.
 */
function fits(v: number, lo: number, hi: number, what: string): number {
  if (!(v >= lo && v <= hi)) throw new RangeError(`tsbpf: ${what} ${v} does not fit its field (${lo}..${hi})`);
  return v;
}
const regNo = (v: number): number => fits(v, 0, 15, 'register number');
const off16 = (v: number): number => fits(v, -0x8000, 0x7fff, 'offset');
/** Signed or unsigned 32-bit spellings (0xffffffff is -1), as llvm-mc accepts them. */
const imm32 = (v: number): number => fits(v, -0x80000000, 0xffffffff, 'immediate');
const u32 = (v: number): number => fits(v, 0, 0xffffffff, 'value');
const u16 = (v: number): number => fits(v, 0, 0xffff, 'address space');
const IMM64_MIN = -(1n << 63n);
const IMM64_MAX = (1n << 64n) - 1n;

const sizeOf = (s: string): number =>
  ({ u8: SIZE.b, u16: SIZE.h, u32: SIZE.w, u64: SIZE.dw, s8: SIZE.b, s16: SIZE.h, s32: SIZE.w })[s]!;
const memOff = (sign: string, v: string): number => (sign === '-' ? -int(v) : int(v));
const i = (code: number, dst: number, src: number, off: number, imm: number): InsnItem => ({
  kind: 'insn',
  code,
  dst: regNo(dst),
  src: regNo(src),
  off: off16(off),
  imm: imm32(imm) | 0,
});
const ld64 = (dst: number, src: number, imm: bigint): LdImm64Item => {
  if (imm < IMM64_MIN || imm > IMM64_MAX)
    throw new RangeError(`tsbpf: 64-bit immediate ${imm} does not fit (${IMM64_MIN}..${IMM64_MAX})`);
  return { kind: 'ld_imm64', dst: regNo(dst), src: regNo(src), imm: BigInt.asUintN(64, imm) };
};
/** The low (u32) and high (i32 or u32) halves of a pseudo ld_imm64 operand. */
const halves = (lo: string, hi: number): bigint => (BigInt(imm32(hi) >>> 0) << 32n) | BigInt(u32(Number(lo)));

const ALU_BY_SYM: Record<string, number> = {
  '+=': ALU_OP.add,
  '-=': ALU_OP.sub,
  '*=': ALU_OP.mul,
  '/=': ALU_OP.div,
  '|=': ALU_OP.or,
  '&=': ALU_OP.and,
  '<<=': ALU_OP.lsh,
  '>>=': ALU_OP.rsh,
  '%=': ALU_OP.mod,
  '^=': ALU_OP.xor,
  's>>=': ALU_OP.arsh,
  's/=': ALU_OP.div,
  's%=': ALU_OP.mod,
};
const JMP_BY_SYM: Record<string, number> = {
  '==': JMP_OP.jeq,
  '>': JMP_OP.jgt,
  '>=': JMP_OP.jge,
  '&': JMP_OP.jset,
  '!=': JMP_OP.jne,
  's>': JMP_OP.jsgt,
  's>=': JMP_OP.jsge,
  '<': JMP_OP.jlt,
  '<=': JMP_OP.jle,
  's<': JMP_OP.jslt,
  's<=': JMP_OP.jsle,
};
const ATOMIC_BY_SYM: Record<string, number> = {
  '+=': ATOMIC_OP.add,
  '|=': ATOMIC_OP.or,
  '&=': ATOMIC_OP.and,
  '^=': ATOMIC_OP.xor,
};
const ATOMIC_BY_NAME: Record<string, number> = {
  add: ATOMIC_OP.add,
  or: ATOMIC_OP.or,
  and: ATOMIC_OP.and,
  xor: ATOMIC_OP.xor,
};

type Rule = [RegExp, (m: RegExpExecArray) => AsmItem];
const rx = (s: string): RegExp => new RegExp(`^${s}$`, 'i');
const alu = (r: string): number => (r.toLowerCase() === 'w' ? CLASS.alu : CLASS.alu64);
const jcls = (r: string): number => (r.toLowerCase() === 'w' ? CLASS.jmp32 : CLASS.jmp);

const RULES: Rule[] = [
  [rx('exit'), () => i(CLASS.jmp | JMP_OP.exit, 0, 0, 0, 0)],
  [rx(`goto ${REL}`), (m) => i(CLASS.jmp | JMP_OP.ja, 0, 0, int(m[1]), 0)],
  [rx(`gotol ${REL}`), (m) => i(CLASS.jmp32 | JMP_OP.ja, 0, 0, 0, int(m[1]))],
  [rx(`may_goto ${REL}`), (m) => i(CLASS.jmp | JMP_OP.jcond, 0, 0, int(m[1]), 0)],
  [rx(`call pc${REL}`), (m) => i(CLASS.jmp | JMP_OP.call, 0, PSEUDO_CALL, 0, int(m[1]))],
  [
    rx(`call kfunc#(\\d+)(?:@${N})?`),
    (m) => i(CLASS.jmp | JMP_OP.call, 0, PSEUDO_KFUNC_CALL, m[2] ? int(m[2]) : 0, Number(m[1])),
  ],
  [rx(`call ${N}`), (m) => i(CLASS.jmp | JMP_OP.call, 0, 0, 0, int(m[1]))],
  [rx('call ([a-z_][a-z0-9_]*)(?:#\\d+)?'), (m) => i(CLASS.jmp | JMP_OP.call, 0, 0, 0, helperId(m[1]))],
  [
    rx(`if ${R} (==|!=|>=|>|<=|<|&|s>=|s>|s<=|s<) (?:${R}|${N}) goto ${REL}`),
    (m) =>
      m[4] !== undefined
        ? i(jcls(m[1]) | JMP_BY_SYM[m[3]] | SRC.x, +m[2], +m[5], int(m[7]), 0)
        : i(jcls(m[1]) | JMP_BY_SYM[m[3]] | SRC.k, +m[2], 0, int(m[7]), int(m[6])),
  ],
  // Loads and stores.
  [
    rx(`[rw](\\d+) = \\*\\(${SZ} \\*\\)\\(${MEM}\\)`),
    (m) => i(CLASS.ldx | MODE.mem | sizeOf(m[2]), +m[1], +m[3], memOff(m[4], m[5]), 0),
  ],
  [
    rx(`[rw](\\d+) = \\*\\((s8|s16|s32) \\*\\)\\(${MEM}\\)`),
    (m) => i(CLASS.ldx | MODE.memsx | sizeOf(m[2]), +m[1], +m[3], memOff(m[4], m[5]), 0),
  ],
  [
    rx(`\\*\\(${SZ} \\*\\)\\(${MEM}\\) = [rw](\\d+)`),
    (m) => i(CLASS.stx | MODE.mem | sizeOf(m[1]), +m[2], +m[5], memOff(m[3], m[4]), 0),
  ],
  [
    rx(`\\*\\(${SZ} \\*\\)\\(${MEM}\\) = ${N}`),
    (m) => i(CLASS.st | MODE.mem | sizeOf(m[1]), +m[2], 0, memOff(m[3], m[4]), int(m[5])),
  ],
  [
    rx(`lock \\*\\(${SZ} \\*\\)\\(${MEM}\\) (\\+=|\\|=|&=|\\^=) [rw](\\d+)`),
    (m) => i(CLASS.stx | MODE.atomic | sizeOf(m[1]), +m[2], +m[6], memOff(m[3], m[4]), ATOMIC_BY_SYM[m[5]]),
  ],
  [
    rx(`[rw](\\d+) = atomic_fetch_(add|or|and|xor)\\(\\(${SZ} \\*\\)\\(${MEM}\\), [rw](\\d+)\\)`),
    (m) =>
      i(
        CLASS.stx | MODE.atomic | sizeOf(m[3]),
        +m[4],
        +m[7],
        memOff(m[5], m[6]),
        ATOMIC_BY_NAME[m[2]] | ATOMIC_OP.fetch,
      ),
  ],
  [
    rx(`[rw](\\d+) = xchg(_64|32_32)\\(${MEM}, [rw](\\d+)\\)`),
    (m) =>
      i(
        CLASS.stx | MODE.atomic | (m[2] === '_64' ? SIZE.dw : SIZE.w),
        +m[3],
        +m[6],
        memOff(m[4], m[5]),
        ATOMIC_OP.xchg,
      ),
  ],
  [
    rx(`[rw]0 = cmpxchg(_64|32_32)\\(${MEM}, [rw]0, [rw](\\d+)\\)`),
    (m) =>
      i(
        CLASS.stx | MODE.atomic | (m[1] === '_64' ? SIZE.dw : SIZE.w),
        +m[2],
        +m[5],
        memOff(m[3], m[4]),
        ATOMIC_OP.cmpxchg,
      ),
  ],
  [
    rx(`[rw](\\d+) = load_acquire\\(\\(${SZ} \\*\\)\\(${MEM}\\)\\)`),
    (m) => i(CLASS.stx | MODE.atomic | sizeOf(m[2]), +m[1], +m[3], memOff(m[4], m[5]), ATOMIC_OP.load_acq),
  ],
  [
    rx(`store_release\\(\\(${SZ} \\*\\)\\(${MEM}\\), [rw](\\d+)\\)`),
    (m) => i(CLASS.stx | MODE.atomic | sizeOf(m[1]), +m[2], +m[5], memOff(m[3], m[4]), ATOMIC_OP.store_rel),
  ],
  [rx(`r0 = \\*\\(${SZ} \\*\\)skb\\[${N}\\]`), (m) => i(CLASS.ld | MODE.abs | sizeOf(m[1]), 0, 0, 0, int(m[2]))],
  [
    rx(`r0 = \\*\\(${SZ} \\*\\)skb\\[r(\\d+)(?:\\s*([+-])\\s*(0x[0-9a-f]+|\\d+))?\\]`),
    (m) => i(CLASS.ld | MODE.ind | sizeOf(m[1]), 0, +m[2], 0, m[3] ? memOff(m[3], m[4]) : 0),
  ],
  // ld_imm64 and its pseudo forms.
  [rx(`r(\\d+) = ${N} ll`), (m) => ld64(+m[1], 0, big(m[2]))],
  [rx(`ld_pseudo\\s+r(\\d+), ${N}, ${N}`), (m) => ld64(+m[1], int(m[2]), BigInt(imm32(int(m[3])) >>> 0))],
  [rx(`r(\\d+) = map_fd\\((\\d+)\\) ll`), (m) => ld64(+m[1], PSEUDO.map_fd, halves(m[2], 0))],
  [rx(`r(\\d+) = map_idx\\((\\d+)\\) ll`), (m) => ld64(+m[1], PSEUDO.map_idx, halves(m[2], 0))],
  [rx(`r(\\d+) = map_value\\((\\d+), ${N}\\) ll`), (m) => ld64(+m[1], PSEUDO.map_value, halves(m[2], int(m[3])))],
  [
    rx(`r(\\d+) = map_idx_value\\((\\d+), ${N}\\) ll`),
    (m) => ld64(+m[1], PSEUDO.map_idx_value, halves(m[2], int(m[3]))),
  ],
  [
    rx(`r(\\d+) = btf_id\\((\\d+)(?:, (\\d+))?\\) ll`),
    (m) => ld64(+m[1], PSEUDO.btf_id, halves(m[2], u32(Number(m[3] ?? 0)))),
  ],
  [rx(`r(\\d+) = func\\(pc${REL}\\) ll`), (m) => ld64(+m[1], PSEUDO.func, BigInt(imm32(int(m[2])) >>> 0))],
  // ALU.
  [
    rx('r(\\d+) = (be|le|bswap)(16|32|64) r\\d+'),
    (m) =>
      i((m[2] === 'bswap' ? CLASS.alu64 : CLASS.alu) | ALU_OP.end | (m[2] === 'be' ? 0x08 : 0), +m[1], 0, 0, +m[3]),
  ],
  [rx(`${R} = -[rw]\\d+`), (m) => i(alu(m[1]) | ALU_OP.neg, +m[2], 0, 0, 0)],
  [rx(`${R} = \\(s(8|16|32)\\)[rw](\\d+)`), (m) => i(alu(m[1]) | ALU_OP.mov | SRC.x, +m[2], +m[4], +m[3], 0)],
  [
    rx('r(\\d+) = addr_space_cast\\(r(\\d+), (\\d+), (\\d+)\\)'),
    (m) => i(CLASS.alu64 | ALU_OP.mov | SRC.x, +m[1], +m[2], 1, (u16(+m[3]) << 16) | u16(+m[4])),
  ],
  [rx(`${R} = [rw](\\d+)`), (m) => i(alu(m[1]) | ALU_OP.mov | SRC.x, +m[2], +m[3], 0, 0)],
  [rx(`${R} = ${N}`), (m) => i(alu(m[1]) | ALU_OP.mov | SRC.k, +m[2], 0, 0, int(m[3]))],
  [
    rx(`${R} (s>>=|s/=|s%=|\\+=|-=|\\*=|/=|\\|=|&=|<<=|>>=|%=|\\^=) (?:[rw](\\d+)|${N})`),
    (m) => {
      const off = m[3] === 's/=' || m[3] === 's%=' ? 1 : 0;
      return m[4] !== undefined
        ? i(alu(m[1]) | ALU_BY_SYM[m[3]] | SRC.x, +m[2], +m[4], off, 0)
        : i(alu(m[1]) | ALU_BY_SYM[m[3]] | SRC.k, +m[2], 0, off, int(m[5]));
    },
  ],
];

/** Raw bytes of an `<unknown> ; xx xx ...` line, as one 8-byte slot. */
function unknownBytes(comment: string, lineNo: number): AsmItem[] {
  const bytes = comment
    .trim()
    .split(/\s+/)
    .map((h) => parseInt(h, 16));
  if (bytes.length === 0 || bytes.length > 8 || bytes.some((b) => !(b >= 0 && b <= 255))) {
    throw new AsmSyntaxError(`tsbpf: line ${lineNo}: <unknown> needs its raw bytes after ';' to be reassembled`);
  }
  if (bytes.length < 8)
    throw new AsmSyntaxError(
      `tsbpf: line ${lineNo}: a truncated instruction (${bytes.length} bytes) cannot be reassembled`,
    );
  const v = new DataView(Uint8Array.from(bytes).buffer);
  return [i(v.getUint8(0), v.getUint8(1) & 0xf, v.getUint8(1) >> 4, v.getInt16(2, true), v.getInt32(4, true))];
}

/**
 * Parses assembly text (a string or lines) into assembler items.
 * @throws AsmSyntaxError naming the line for text it cannot parse (or that names an unknown helper).
 */
export function parseAsm(text: string | readonly string[]): AsmItem[] {
  const lines = typeof text === 'string' ? text.split('\n') : text;
  const items: AsmItem[] = [];
  lines.forEach((rawLine, k) => {
    let line = rawLine.replace(/^\s*\d+:\s/, ''); // address column
    // Raw byte columns as llvm-objdump prints them ("b7 01 00 00 20 00 00 00\tr1 = 0x20").
    line = line.replace(/^\s*(?:[0-9a-f]{2} ){7,15}[0-9a-f]{2}\t/i, '');
    const unk = /^\s*<unknown>\s*(?:;(.*))?$/.exec(line);
    if (unk) {
      items.push(...unknownBytes(unk[1] ?? '', k + 1));
      return;
    }
    line = line
      .replace(/\s*(;|\/\/|#(?!\d)).*$/, '')
      .replace(/\s*<[^<>]*>\s*$/, '')
      .trim()
      .replace(/\s+/g, ' ');
    if (line === '' || /^[A-Za-z_.$][\w.$]*:$/.test(line)) return;
    for (const [re, build] of RULES) {
      const m = re.exec(line);
      if (m) {
        let item: AsmItem;
        try {
          item = build(m);
        } catch (e) {
          // A builder's argument check (helperId's "unknown helper" RangeError): the text is at fault, so
          // report it as the text's error, naming the line.
          if ((e instanceof RangeError || e instanceof TypeError) && e.message.startsWith('tsbpf: ')) {
            throw new AsmSyntaxError(`tsbpf: line ${k + 1}: ${e.message.slice('tsbpf: '.length)}`, { cause: e });
          }
          throw e;
        }
        items.push(item);
        return;
      }
    }
    throw new AsmSyntaxError(`tsbpf: line ${k + 1}: cannot parse '${rawLine.trim()}'`);
  });
  return items;
}
