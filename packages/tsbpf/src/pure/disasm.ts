/**
 * The eBPF disassembler: bytes back to text in the syntax `llvm-objdump -d` prints (with
 * `--mattr=+alu32`, so 32-bit memory operands show as `w` registers), extended with the v4 and newer
 * forms in the spelling current LLVM uses. Decoding is strict like the verifier: an instruction with
 * reserved fields set, an unknown opcode or a truncated `ld_imm64` becomes an `<unknown>` line; nothing
 * in the input can make it throw.
 */
import {
  ALU_OP,
  ATOMIC_OP,
  CLASS,
  INSN_SIZE,
  JMP_OP,
  LD_IMM64,
  MODE,
  PSEUDO,
  PSEUDO_CALL,
  PSEUDO_KFUNC_CALL,
  SIZE,
  decodeInsn,
  imm64Of,
  type RawInsn,
} from './insn.js';
import { helperName } from './asm.js';

/** Options of {@link disassemble}. */
export interface DisasmOptions {
  /**
   * `'llvm'` (default): exactly what `llvm-objdump -d --mattr=+alu32` prints (`call 131`, `ld_pseudo r1, 1, 5`).
   * `'readable'`: helper names (`call bpf_ringbuf_reserve`), `call pc+3` for bpf-to-bpf calls, named
   * `ld_imm64` pseudo forms (`r1 = map_fd(5) ll`), and raw bytes after `<unknown>`; every line of this
   * style parses back to the same bytes with `parseAsm`.
   */
  style?: 'llvm' | 'readable';
  /** Immediates and offsets in hex (`r1 = 0x20`, default, as llvm-objdump 15+) or decimal (llvm-objdump 14). */
  hex?: boolean;
  /** Emit `LBB0_n:` lines before jump/call targets and `<LBB0_n>` after jumps (default true). */
  labels?: boolean;
  /** Prefix each instruction with its slot index, as llvm-objdump does (`   12:\t`). Default false. */
  addresses?: boolean;
}

/** One decoded instruction (one or two slots). */
export interface DecodedInsn {
  /** Slot index of the instruction. */
  index: number;
  /** 1, or 2 for `ld_imm64`. */
  slots: 1 | 2;
  /** The first slot's fields. */
  raw: RawInsn;
  /** `ld_imm64` only: the full 64-bit value (unsigned). */
  imm64?: bigint;
  /** Whether the instruction is a valid encoding. */
  known: boolean;
  /** Slot index a jump/call/ld_func refers to, if any. */
  target?: number;
  /** Trailing bytes that do not make a full slot. */
  truncated?: Uint8Array;
}

const ALU_SYM: Record<number, string> = {
  [ALU_OP.add]: '+=',
  [ALU_OP.sub]: '-=',
  [ALU_OP.mul]: '*=',
  [ALU_OP.div]: '/=',
  [ALU_OP.or]: '|=',
  [ALU_OP.and]: '&=',
  [ALU_OP.lsh]: '<<=',
  [ALU_OP.rsh]: '>>=',
  [ALU_OP.mod]: '%=',
  [ALU_OP.xor]: '^=',
  [ALU_OP.arsh]: 's>>=',
};
const JMP_SYM: Record<number, string> = {
  [JMP_OP.jeq]: '==',
  [JMP_OP.jgt]: '>',
  [JMP_OP.jge]: '>=',
  [JMP_OP.jset]: '&',
  [JMP_OP.jne]: '!=',
  [JMP_OP.jsgt]: 's>',
  [JMP_OP.jsge]: 's>=',
  [JMP_OP.jlt]: '<',
  [JMP_OP.jle]: '<=',
  [JMP_OP.jslt]: 's<',
  [JMP_OP.jsle]: 's<=',
};
const ATOMIC_SYM: Record<number, [string, string]> = {
  [ATOMIC_OP.add]: ['+=', 'add'],
  [ATOMIC_OP.or]: ['|=', 'or'],
  [ATOMIC_OP.and]: ['&=', 'and'],
  [ATOMIC_OP.xor]: ['^=', 'xor'],
};
const SIZE_NAME: Record<number, string> = { [SIZE.b]: 'u8', [SIZE.h]: 'u16', [SIZE.w]: 'u32', [SIZE.dw]: 'u64' };

/** Decodes an instruction stream into instructions (never throws for any byte content). */
export function decodeProgram(bytes: Uint8Array): DecodedInsn[] {
  if (!(bytes instanceof Uint8Array)) throw new TypeError('tsbpf: decodeProgram: expected a Uint8Array');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n = Math.floor(bytes.length / INSN_SIZE);
  const out: DecodedInsn[] = [];
  for (let i = 0; i < n; i++) {
    const raw = decodeInsn(view, i * INSN_SIZE);
    if (raw.code === LD_IMM64) {
      const hi = i + 1 < n ? decodeInsn(view, (i + 1) * INSN_SIZE) : undefined;
      if (hi && hi.code === 0 && hi.dst === 0 && hi.src === 0 && hi.off === 0 && validLdImm64(raw, hi.imm)) {
        const d: DecodedInsn = { index: i, slots: 2, raw, imm64: imm64Of(raw.imm, hi.imm), known: true };
        if (raw.src === PSEUDO.func) d.target = i + 1 + raw.imm;
        out.push(d);
        i++;
        continue;
      }
      out.push({ index: i, slots: 1, raw, known: false });
      continue;
    }
    const d: DecodedInsn = { index: i, slots: 1, raw, known: validInsn(raw) };
    if (d.known) {
      const cls = raw.code & 7;
      const op = raw.code & 0xf0;
      if (cls === CLASS.jmp32 && op === JMP_OP.ja) d.target = i + 1 + raw.imm;
      else if (cls === CLASS.jmp && op === JMP_OP.call && raw.src === PSEUDO_CALL) d.target = i + 1 + raw.imm;
      else if ((cls === CLASS.jmp || cls === CLASS.jmp32) && op !== JMP_OP.call && op !== JMP_OP.exit)
        d.target = i + 1 + raw.off;
    }
    out.push(d);
  }
  if (bytes.length % INSN_SIZE !== 0) {
    out.push({
      index: n,
      slots: 1,
      raw: { code: 0, dst: 0, src: 0, off: 0, imm: 0 },
      known: false,
      truncated: bytes.slice(n * INSN_SIZE),
    });
  }
  return out;
}

function validLdImm64(raw: RawInsn, hi: number): boolean {
  if (raw.off !== 0 || raw.dst > 10) return false;
  switch (raw.src) {
    case 0:
    case PSEUDO.map_value:
    case PSEUDO.map_idx_value:
    case PSEUDO.btf_id:
      return true;
    case PSEUDO.map_fd:
    case PSEUDO.map_idx:
    case PSEUDO.func:
      return hi === 0;
    default:
      return false;
  }
}

/** Whether a single-slot instruction is a valid encoding (mirrors the verifier's reserved-field checks). */
function validInsn(r: RawInsn): boolean {
  const { code, dst, src, off, imm } = r;
  const cls = code & 7;
  if (dst > 10 || src > 10) return false;
  switch (cls) {
    case CLASS.alu:
    case CLASS.alu64: {
      const op = code & 0xf0;
      const x = (code & 0x08) !== 0;
      if (op === ALU_OP.end) {
        if (src !== 0 || off !== 0 || (imm !== 16 && imm !== 32 && imm !== 64)) return false;
        return cls === CLASS.alu || !x; // ALU64 only has bswap (TO_LE)
      }
      if (op === ALU_OP.neg) return !x && src === 0 && off === 0 && imm === 0;
      if (op === ALU_OP.mov) {
        if (!x) return src === 0 && off === 0;
        if (cls === CLASS.alu64 && off === 1) return imm === 1 << 16 || imm === 1; // addr_space_cast
        if (imm !== 0) return false;
        return off === 0 || off === 8 || off === 16 || (off === 32 && cls === CLASS.alu64);
      }
      if (!(op in ALU_SYM)) return false;
      const offOk = off === 0 || (off === 1 && (op === ALU_OP.div || op === ALU_OP.mod));
      return offOk && (x ? imm === 0 : src === 0);
    }
    case CLASS.jmp:
    case CLASS.jmp32: {
      const op = code & 0xf0;
      const x = (code & 0x08) !== 0;
      if (op === JMP_OP.ja) {
        if (x || dst !== 0 || src !== 0) return false;
        return cls === CLASS.jmp ? imm === 0 : off === 0;
      }
      if (op === JMP_OP.call) {
        if (cls !== CLASS.jmp || x || dst !== 0) return false;
        if (src === 0 || src === PSEUDO_CALL) return off === 0;
        return src === PSEUDO_KFUNC_CALL;
      }
      if (op === JMP_OP.exit) return cls === CLASS.jmp && !x && dst === 0 && src === 0 && off === 0 && imm === 0;
      if (op === JMP_OP.jcond) return cls === CLASS.jmp && !x && dst === 0 && src === 0 && imm === 0; // may_goto
      if (!(op in JMP_SYM)) return false;
      return x ? imm === 0 : src === 0;
    }
    case CLASS.ld: {
      const mode = code & 0xe0;
      const size = code & 0x18;
      if ((mode !== MODE.abs && mode !== MODE.ind) || size === SIZE.dw) return false;
      return dst === 0 && off === 0 && (mode === MODE.ind || src === 0);
    }
    case CLASS.ldx: {
      const mode = code & 0xe0;
      if (imm !== 0) return false;
      if (mode === MODE.mem) return true;
      return mode === MODE.memsx && (code & 0x18) !== SIZE.dw;
    }
    case CLASS.st:
      return (code & 0xe0) === MODE.mem && src === 0;
    case CLASS.stx: {
      const mode = code & 0xe0;
      const size = code & 0x18;
      if (mode === MODE.mem) return imm === 0;
      if (mode !== MODE.atomic) return false;
      if (imm === ATOMIC_OP.load_acq || imm === ATOMIC_OP.store_rel) return true;
      if (size !== SIZE.w && size !== SIZE.dw) return false;
      const base = imm & ~ATOMIC_OP.fetch;
      return base in ATOMIC_SYM || imm === ATOMIC_OP.xchg || imm === ATOMIC_OP.cmpxchg;
    }
  }
  return false;
}

interface Fmt {
  hex: boolean;
  readable: boolean;
}
function num(v: number | bigint, f: Fmt): string {
  if (!f.hex) return v.toString();
  return v < 0 ? `-0x${(-v).toString(16)}` : `0x${v.toString(16)}`;
}
function rel(v: number, f: Fmt): string {
  return v < 0 ? num(v, f) : `+${num(v, f)}`;
}
function addr(base: number, off: number, f: Fmt): string {
  return off < 0 ? `r${base} - ${num(-off, f)}` : `r${base} + ${num(off, f)}`;
}
function hexBytes(raw: RawInsn, extra?: Uint8Array): string {
  if (extra) return Array.from(extra, (b) => b.toString(16).padStart(2, '0')).join(' ');
  const b = new Uint8Array(8);
  const v = new DataView(b.buffer);
  v.setUint8(0, raw.code);
  v.setUint8(1, (raw.src << 4) | raw.dst);
  v.setInt16(2, raw.off, true);
  v.setInt32(4, raw.imm, true);
  return Array.from(b, (x) => x.toString(16).padStart(2, '0')).join(' ');
}

/** Formats one decoded instruction (without label annotation). */
export function formatInsn(d: DecodedInsn, options: DisasmOptions = {}): string {
  const f: Fmt = { hex: options.hex ?? true, readable: options.style === 'readable' };
  if (!d.known) {
    if (!f.readable) return '<unknown>';
    if (d.truncated) return `<unknown> ; ${hexBytes(d.raw, d.truncated)}`;
    return `<unknown> ; ${hexBytes(d.raw)}`;
  }
  const { code, dst, src, off, imm } = d.raw;
  const cls = code & 7;
  if (d.slots === 2) {
    const v = BigInt.asIntN(64, d.imm64!);
    if (src === 0) return `r${dst} = ${num(v, f)} ll`;
    if (!f.readable) return `ld_pseudo\tr${dst}, ${num(src, f)}, ${num(imm, f)}`;
    const hi = Number(BigInt.asIntN(32, d.imm64! >> 32n));
    const lo = imm >>> 0;
    switch (src) {
      case PSEUDO.map_fd:
        return `r${dst} = map_fd(${lo}) ll`;
      case PSEUDO.map_idx:
        return `r${dst} = map_idx(${lo}) ll`;
      case PSEUDO.map_value:
        return `r${dst} = map_value(${lo}, ${num(hi, f)}) ll`;
      case PSEUDO.map_idx_value:
        return `r${dst} = map_idx_value(${lo}, ${num(hi, f)}) ll`;
      case PSEUDO.btf_id:
        return hi === 0 ? `r${dst} = btf_id(${lo}) ll` : `r${dst} = btf_id(${lo}, ${hi >>> 0}) ll`;
      default:
        return `r${dst} = func(pc${rel(imm, f)}) ll`;
    }
  }
  switch (cls) {
    case CLASS.alu:
    case CLASS.alu64: {
      const r = cls === CLASS.alu64 ? 'r' : 'w';
      const op = code & 0xf0;
      const x = (code & 0x08) !== 0;
      if (op === ALU_OP.end) {
        const name = cls === CLASS.alu64 ? 'bswap' : x ? 'be' : 'le';
        return `r${dst} = ${name}${imm} r${dst}`;
      }
      if (op === ALU_OP.neg) return `${r}${dst} = -${r}${dst}`;
      if (op === ALU_OP.mov) {
        if (!x) return `${r}${dst} = ${num(imm, f)}`;
        if (off === 1) return `r${dst} = addr_space_cast(r${src}, ${imm >>> 16}, ${imm & 0xffff})`;
        if (off !== 0) return `${r}${dst} = (s${off})${r}${src}`;
        return `${r}${dst} = ${r}${src}`;
      }
      const sym = off === 1 ? `s${ALU_SYM[op]}` : ALU_SYM[op];
      return `${r}${dst} ${sym} ${x ? `${r}${src}` : num(imm, f)}`;
    }
    case CLASS.jmp:
    case CLASS.jmp32: {
      const op = code & 0xf0;
      if (op === JMP_OP.ja) return cls === CLASS.jmp ? `goto ${rel(off, f)}` : `gotol ${rel(imm, f)}`;
      if (op === JMP_OP.exit) return 'exit';
      if (op === JMP_OP.jcond) return `may_goto ${rel(off, f)}`;
      if (op === JMP_OP.call) {
        if (!f.readable) return `call ${num(imm, f)}`;
        if (src === PSEUDO_CALL) return `call pc${rel(imm, f)}`;
        if (src === PSEUDO_KFUNC_CALL) return off === 0 ? `call kfunc#${imm >>> 0}` : `call kfunc#${imm >>> 0}@${off}`;
        const name = helperName(imm);
        return name !== undefined && imm > 0 ? `call bpf_${name}` : `call ${num(imm, f)}`;
      }
      const r = cls === CLASS.jmp ? 'r' : 'w';
      const x = (code & 0x08) !== 0;
      return `if ${r}${dst} ${JMP_SYM[op]} ${x ? `${r}${src}` : num(imm, f)} goto ${rel(off, f)}`;
    }
    case CLASS.ld: {
      const size = SIZE_NAME[code & 0x18];
      if ((code & 0xe0) === MODE.abs) return `r0 = *(${size} *)skb[${num(imm, f)}]`;
      if (imm === 0 || !f.readable) return `r0 = *(${size} *)skb[r${src}]`;
      return `r0 = *(${size} *)skb[${addr(src, imm, f)}]`;
    }
    case CLASS.ldx: {
      const sz = code & 0x18;
      if ((code & 0xe0) === MODE.memsx) return `r${dst} = *(s${SIZE_NAME[sz].slice(1)} *)(${addr(src, off, f)})`;
      return `${sz === SIZE.dw ? 'r' : 'w'}${dst} = *(${SIZE_NAME[sz]} *)(${addr(src, off, f)})`;
    }
    case CLASS.st:
      return `*(${SIZE_NAME[code & 0x18]} *)(${addr(dst, off, f)}) = ${num(imm, f)}`;
    case CLASS.stx: {
      const sz = code & 0x18;
      const r = sz === SIZE.dw ? 'r' : 'w';
      const size = SIZE_NAME[sz];
      if ((code & 0xe0) === MODE.mem) return `*(${size} *)(${addr(dst, off, f)}) = ${r}${src}`;
      if (imm === ATOMIC_OP.load_acq) return `${r}${dst} = load_acquire((${size} *)(${addr(src, off, f)}))`;
      if (imm === ATOMIC_OP.store_rel) return `store_release((${size} *)(${addr(dst, off, f)}), ${r}${src})`;
      const sfx = sz === SIZE.dw ? '_64' : '32_32';
      if (imm === ATOMIC_OP.xchg) return `${r}${src} = xchg${sfx}(${addr(dst, off, f)}, ${r}${src})`;
      if (imm === ATOMIC_OP.cmpxchg) return `${r}0 = cmpxchg${sfx}(${addr(dst, off, f)}, ${r}0, ${r}${src})`;
      const [sym, name] = ATOMIC_SYM[imm & ~ATOMIC_OP.fetch];
      if (imm & ATOMIC_OP.fetch)
        return `${r}${src} = atomic_fetch_${name}((${size} *)(${addr(dst, off, f)}), ${r}${src})`;
      return `lock *(${size} *)(${addr(dst, off, f)}) ${sym} ${r}${src}`;
    }
  }
  return '<unknown>';
}

/** Label names for every in-range jump/call target: `LBB0_0`, `LBB0_1`, ... in program order. */
function targetLabels(insns: DecodedInsn[]): Map<number, string> {
  const starts = new Set(insns.map((d) => d.index));
  const targets = [
    ...new Set(insns.filter((d) => d.target !== undefined && starts.has(d.target)).map((d) => d.target!)),
  ].sort((a, b) => a - b);
  return new Map(targets.map((t, k) => [t, `LBB0_${k}`]));
}

/**
 * Disassembles instruction bytes into text lines, one per instruction plus label lines.
 * Never throws for any byte content (only for a non-Uint8Array argument).
 * @example disassemble(bytes) // ['r1 = 0x20', 'if r0 == 0x0 goto +0x5 <LBB0_0>', ...]
 */
export function disassemble(bytes: Uint8Array, options: DisasmOptions = {}): string[] {
  if (!(bytes instanceof Uint8Array)) throw new TypeError('tsbpf: disassemble: expected a Uint8Array');
  const insns = decodeProgram(bytes);
  const useLabels = options.labels ?? true;
  const labels = useLabels ? targetLabels(insns) : new Map<number, string>();
  const lines: string[] = [];
  for (const d of insns) {
    const label = labels.get(d.index);
    if (label !== undefined) lines.push(`${label}:`);
    let text = formatInsn(d, options);
    if (d.known && d.target !== undefined && labels.has(d.target)) text += ` <${labels.get(d.target)}>`;
    lines.push(options.addresses ? `${String(d.index).padStart(8)}:\t${text}` : text);
  }
  return lines;
}

/**
 * The instruction at slot `index` with `context` instructions either side, each line prefixed by its
 * slot index and the failing one marked with `>`, for annotating verifier errors.
 */
export function annotateInstruction(
  bytes: Uint8Array,
  index: number,
  context = 3,
  options: DisasmOptions = {},
): string {
  const insns = decodeProgram(bytes);
  const at = insns.findIndex((d) => d.index <= index && index < d.index + d.slots);
  if (at < 0) return `(instruction ${index} is outside the program of ${Math.floor(bytes.length / INSN_SIZE)} slots)`;
  const fmt: DisasmOptions = { style: 'readable', ...options };
  const from = Math.max(0, at - context);
  const to = Math.min(insns.length, at + context + 1);
  const lines: string[] = [];
  for (let k = from; k < to; k++) {
    const d = insns[k];
    let text = formatInsn(d, fmt);
    if (d.target !== undefined && d.known) text += `  ; -> ${d.target}`;
    lines.push(`${k === at ? '>' : ' '}${String(d.index).padStart(5)}: ${text}`);
  }
  return lines.join('\n');
}
