/**
 * The eBPF assembler: instruction builders named after the mnemonics (`asm.mov64(R1, 32)`,
 * `asm.jeq(R0, 0, 'exit')`), symbolic labels, helpers by name, map references bound at assembly,
 * and `assemble()` which resolves all of it into the kernel's instruction bytes.
 *
 * A program is a (possibly nested) array of {@link AsmItem}s. Builders only validate operand ranges;
 * labels and maps are resolved by {@link assemble}, so the same item list can be assembled against
 * different maps.
 */
import {
  ALU_OP,
  ATOMIC_OP,
  CLASS,
  END,
  INSN_SIZE,
  JMP_OP,
  LD_IMM64,
  MODE,
  PSEUDO,
  PSEUDO_CALL,
  PSEUDO_KFUNC_CALL,
  SIZE,
  SRC,
  encodeInsn,
  splitImm64,
  type AluOpName,
  type CondJumpName,
  type RawInsn,
  type SizeName,
} from './insn.js';
import { HELPER_IDS } from './helper-ids.js';
import { TsbpfError } from './errors.js';

/** A program that cannot be assembled: an unknown or duplicate label, an unbound map. */
export class AsmError extends TsbpfError {
  override readonly name = 'AsmError';
  readonly code = 'ERR_ASM';
}

// ---------------------------------------------------------------------------------------------
// Registers

/** A BPF register. Use the constants {@link R0}…{@link R10}. */
export interface Reg {
  readonly kind: 'reg';
  readonly n: number;
}
function reg(n: number): Reg {
  return Object.freeze({ kind: 'reg' as const, n, toString: () => `r${n}` });
}
/** Return value / helper result. */
export const R0 = reg(0);
/** Argument 1 (and the context pointer on entry). */
export const R1 = reg(1);
export const R2 = reg(2);
export const R3 = reg(3);
export const R4 = reg(4);
export const R5 = reg(5);
/** Callee-saved registers R6–R9. */
export const R6 = reg(6);
export const R7 = reg(7);
export const R8 = reg(8);
export const R9 = reg(9);
/** Read-only frame pointer. */
export const R10 = reg(10);
/** All registers by number. */
export const REGS: readonly Reg[] = [R0, R1, R2, R3, R4, R5, R6, R7, R8, R9, R10];

/** Whether a value is a register (as opposed to an immediate). */
export function isReg(x: unknown): x is Reg {
  return typeof x === 'object' && x !== null && (x as Reg).kind === 'reg' && Number.isInteger((x as Reg).n);
}

// ---------------------------------------------------------------------------------------------
// Items

/**
 * A map reference: an open map (anything with an `fd`, e.g. `BpfMap`) or a name bound by
 * `assemble(items, { maps: { name: map } })`.
 */
export type MapRef = { readonly fd: number } | string;

/** One 8-byte instruction; `offLabel`/`immLabel` are resolved by `assemble` into pc-relative offsets. */
export interface InsnItem extends RawInsn {
  readonly kind: 'insn';
  /** Jump target label for `off` (conditional jumps, `ja`, `may_goto`). */
  readonly offLabel?: string;
  /** Target label for `imm` (`gotol`, bpf-to-bpf `call`). */
  readonly immLabel?: string;
}

/** A two-slot `ld_imm64`, with its pseudo (src_reg) form. */
export interface LdImm64Item {
  readonly kind: 'ld_imm64';
  readonly dst: number;
  /** `src_reg`: 0 for a plain constant, else one of `PSEUDO` (from `tsbpf/insn`). */
  readonly src: number;
  /** The 64-bit constant; for map-value forms the high half is the value offset. */
  readonly imm: bigint;
  /** For `map_fd`/`map_value`: the map whose fd becomes the low half. */
  readonly map?: MapRef;
  /** For `func`: the label of the callback subprogram. */
  readonly funcLabel?: string;
}

/** A label marking the position of the next instruction. */
export interface LabelItem {
  readonly kind: 'label';
  readonly name: string;
}

export type AsmItem = InsnItem | LdImm64Item | LabelItem;
/** What `assemble` accepts: items, arbitrarily nested (handy for macros returning several items). */
export type AsmInput = AsmItem | readonly AsmInput[];

/** A jump target: a label name, or a raw signed offset in instructions. */
export type Target = string | number;
/** A register or a signed 32-bit immediate. */
export type Operand = Reg | number;

// ---------------------------------------------------------------------------------------------
// Validation

function checkReg(r: unknown, what: string): number {
  if (!isReg(r) || r.n < 0 || r.n > 10)
    throw new TypeError(`tsbpf: ${what}: expected a register R0..R10, got ${String(r)}`);
  return r.n;
}
function checkImm(v: unknown, what: string): number {
  // Accept both signed and unsigned 32-bit spellings (0xffffffff === -1), as llvm-mc does.
  if (typeof v !== 'number' || !Number.isInteger(v) || v < -0x80000000 || v > 0xffffffff) {
    throw new RangeError(`tsbpf: ${what}: immediate ${String(v)} is not a 32-bit integer`);
  }
  return v | 0;
}
function checkOff(v: unknown, what: string): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < -0x8000 || v > 0x7fff) {
    throw new RangeError(`tsbpf: ${what}: offset ${String(v)} is not a signed 16-bit integer`);
  }
  return v;
}
function checkLabel(name: unknown, what: string): string {
  if (typeof name !== 'string' || name.length === 0)
    throw new TypeError(`tsbpf: ${what}: label must be a non-empty string`);
  return name;
}
function checkMap(m: unknown, what: string): MapRef {
  if (typeof m === 'string' && m.length > 0) return m;
  if (typeof m === 'object' && m !== null && 'fd' in m) return m as { fd: number };
  throw new TypeError(`tsbpf: ${what}: expected a map (an object with .fd) or a map name, got ${String(m)}`);
}

function insn(
  code: number,
  dst: number,
  src: number,
  off: number,
  imm: number,
  extra?: { offLabel?: string; immLabel?: string },
): InsnItem {
  return { kind: 'insn', code, dst, src, off, imm, ...extra };
}

// ---------------------------------------------------------------------------------------------
// Helpers

/** Helper ids by name: the generated uapi table plus helpers newer than the installed header. */
export const HELPERS: Readonly<Record<string, number>> = {
  ...HELPER_IDS,
  cgrp_storage_get: 210,
  cgrp_storage_delete: 211,
};
const HELPER_BY_ID: string[] = [];
for (const [name, id] of Object.entries(HELPERS)) HELPER_BY_ID[id] = name;

/** Resolves a helper name (`'ringbuf_reserve'` or `'bpf_ringbuf_reserve'`) or id to its id. */
export function helperId(helper: string | number): number {
  if (typeof helper === 'number') return checkImm(helper, 'call');
  const name = helper.startsWith('bpf_') && !(helper in HELPERS) ? helper.slice(4) : helper;
  const id = HELPERS[name];
  if (id === undefined || name === 'unspec') throw new RangeError(`tsbpf: call: unknown helper '${helper}'`);
  return id;
}
/** The name of helper `id` (without the `bpf_` prefix), or undefined. */
export function helperName(id: number): string | undefined {
  return HELPER_BY_ID[id];
}

// ---------------------------------------------------------------------------------------------
// Builders

export type AluBuilder = (dst: Reg, src: Operand) => InsnItem;
function alu(cls: number, op: AluOpName, name: string, off = 0): AluBuilder {
  return (dst, src) => {
    const d = checkReg(dst, name);
    if (isReg(src)) return insn(cls | ALU_OP[op] | SRC.x, d, checkReg(src, name), off, 0);
    return insn(cls | ALU_OP[op] | SRC.k, d, 0, off, checkImm(src, name));
  };
}
export type JmpBuilder = (dst: Reg, src: Operand, target: Target) => InsnItem;
function cond(cls: number, op: CondJumpName, name: string): JmpBuilder {
  return (dst, src, target) => {
    const d = checkReg(dst, name);
    const t = targetOf(target, name);
    if (isReg(src)) return insn(cls | JMP_OP[op] | SRC.x, d, checkReg(src, name), t.off, 0, t.extra);
    return insn(cls | JMP_OP[op] | SRC.k, d, 0, t.off, checkImm(src, name), t.extra);
  };
}
function targetOf(target: Target, name: string): { off: number; extra?: { offLabel: string } } {
  if (typeof target === 'number') return { off: checkOff(target, name) };
  return { off: 0, extra: { offLabel: checkLabel(target, name) } };
}
function ldx(size: SizeName, mode: number, name: string) {
  return (dst: Reg, src: Reg, off = 0): InsnItem =>
    insn(CLASS.ldx | mode | SIZE[size], checkReg(dst, name), checkReg(src, name), checkOff(off, name), 0);
}
function stx(size: SizeName, name: string) {
  return (dst: Reg, off: number, src: Reg): InsnItem =>
    insn(CLASS.stx | MODE.mem | SIZE[size], checkReg(dst, name), checkReg(src, name), checkOff(off, name), 0);
}
function st(size: SizeName, name: string) {
  return (dst: Reg, off: number, imm: number): InsnItem =>
    insn(CLASS.st | MODE.mem | SIZE[size], checkReg(dst, name), 0, checkOff(off, name), checkImm(imm, name));
}
function atomic(size: 'w' | 'dw', op: number, name: string) {
  return (dst: Reg, off: number, src: Reg): InsnItem =>
    insn(CLASS.stx | MODE.atomic | SIZE[size], checkReg(dst, name), checkReg(src, name), checkOff(off, name), op);
}
function endian(cls: number, dir: number, bits: 16 | 32 | 64, name: string) {
  return (dst: Reg): InsnItem => insn(cls | ALU_OP.end | dir, checkReg(dst, name), 0, 0, bits);
}
function ldImm64Item(dst: number, src: number, imm: bigint, extra?: { map?: MapRef; funcLabel?: string }): LdImm64Item {
  return { kind: 'ld_imm64', dst, src, imm: BigInt.asUintN(64, imm), ...extra };
}
function checkSize(size: unknown, what: string, allowed: readonly SizeName[] = ['b', 'h', 'w', 'dw']): SizeName {
  if (typeof size !== 'string' || !(allowed as readonly string[]).includes(size)) {
    throw new RangeError(`tsbpf: ${what}: size must be one of ${allowed.join(', ')}, got ${String(size)}`);
  }
  return size as SizeName;
}

const A64 = CLASS.alu64;
const A32 = CLASS.alu;
const J64 = CLASS.jmp;
const J32 = CLASS.jmp32;

const core = {
  // ALU64 (`r1 += r2`) and ALU32 (`w1 += w2`, zero-extends into the upper half).
  add64: alu(A64, 'add', 'add64'),
  sub64: alu(A64, 'sub', 'sub64'),
  mul64: alu(A64, 'mul', 'mul64'),
  div64: alu(A64, 'div', 'div64'),
  mod64: alu(A64, 'mod', 'mod64'),
  or64: alu(A64, 'or', 'or64'),
  and64: alu(A64, 'and', 'and64'),
  xor64: alu(A64, 'xor', 'xor64'),
  lsh64: alu(A64, 'lsh', 'lsh64'),
  rsh64: alu(A64, 'rsh', 'rsh64'),
  arsh64: alu(A64, 'arsh', 'arsh64'),
  mov64: alu(A64, 'mov', 'mov64'),
  /** Signed division (v4): `r1 s/= r2`. */
  sdiv64: alu(A64, 'div', 'sdiv64', 1),
  /** Signed modulo (v4): `r1 s%= r2`. */
  smod64: alu(A64, 'mod', 'smod64', 1),
  add32: alu(A32, 'add', 'add32'),
  sub32: alu(A32, 'sub', 'sub32'),
  mul32: alu(A32, 'mul', 'mul32'),
  div32: alu(A32, 'div', 'div32'),
  mod32: alu(A32, 'mod', 'mod32'),
  or32: alu(A32, 'or', 'or32'),
  and32: alu(A32, 'and', 'and32'),
  xor32: alu(A32, 'xor', 'xor32'),
  lsh32: alu(A32, 'lsh', 'lsh32'),
  rsh32: alu(A32, 'rsh', 'rsh32'),
  arsh32: alu(A32, 'arsh', 'arsh32'),
  mov32: alu(A32, 'mov', 'mov32'),
  sdiv32: alu(A32, 'div', 'sdiv32', 1),
  smod32: alu(A32, 'mod', 'smod32', 1),
  /** `r1 = -r1`. */
  neg64: (dst: Reg): InsnItem => insn(A64 | ALU_OP.neg, checkReg(dst, 'neg64'), 0, 0, 0),
  /** `w1 = -w1`. */
  neg32: (dst: Reg): InsnItem => insn(A32 | ALU_OP.neg, checkReg(dst, 'neg32'), 0, 0, 0),
  /** Sign-extending move (v4): `r1 = (s8)r2`; `bits` is 8, 16 or 32. */
  movsx64: (dst: Reg, src: Reg, bits: 8 | 16 | 32): InsnItem => {
    if (bits !== 8 && bits !== 16 && bits !== 32)
      throw new RangeError(`tsbpf: movsx64: bits must be 8, 16 or 32, got ${String(bits)}`);
    return insn(A64 | ALU_OP.mov | SRC.x, checkReg(dst, 'movsx64'), checkReg(src, 'movsx64'), bits, 0);
  },
  /** Sign-extending 32-bit move (v4): `w1 = (s8)w2`; `bits` is 8 or 16. */
  movsx32: (dst: Reg, src: Reg, bits: 8 | 16): InsnItem => {
    if (bits !== 8 && bits !== 16) throw new RangeError(`tsbpf: movsx32: bits must be 8 or 16, got ${String(bits)}`);
    return insn(A32 | ALU_OP.mov | SRC.x, checkReg(dst, 'movsx32'), checkReg(src, 'movsx32'), bits, 0);
  },

  // Byte order: be/le convert host (little-endian) to the named order and zero-extend; bswap swaps unconditionally (v4).
  be16: endian(A32, END.to_be, 16, 'be16'),
  be32: endian(A32, END.to_be, 32, 'be32'),
  be64: endian(A32, END.to_be, 64, 'be64'),
  le16: endian(A32, END.to_le, 16, 'le16'),
  le32: endian(A32, END.to_le, 32, 'le32'),
  le64: endian(A32, END.to_le, 64, 'le64'),
  bswap16: endian(A64, END.to_le, 16, 'bswap16'),
  bswap32: endian(A64, END.to_le, 32, 'bswap32'),
  bswap64: endian(A64, END.to_le, 64, 'bswap64'),

  // Conditional jumps, 64-bit (`if r1 > r2 goto`) and 32-bit (`if w1 > w2 goto`).
  jeq: cond(J64, 'jeq', 'jeq'),
  jne: cond(J64, 'jne', 'jne'),
  jgt: cond(J64, 'jgt', 'jgt'),
  jge: cond(J64, 'jge', 'jge'),
  jlt: cond(J64, 'jlt', 'jlt'),
  jle: cond(J64, 'jle', 'jle'),
  jset: cond(J64, 'jset', 'jset'),
  jsgt: cond(J64, 'jsgt', 'jsgt'),
  jsge: cond(J64, 'jsge', 'jsge'),
  jslt: cond(J64, 'jslt', 'jslt'),
  jsle: cond(J64, 'jsle', 'jsle'),
  jeq32: cond(J32, 'jeq', 'jeq32'),
  jne32: cond(J32, 'jne', 'jne32'),
  jgt32: cond(J32, 'jgt', 'jgt32'),
  jge32: cond(J32, 'jge', 'jge32'),
  jlt32: cond(J32, 'jlt', 'jlt32'),
  jle32: cond(J32, 'jle', 'jle32'),
  jset32: cond(J32, 'jset', 'jset32'),
  jsgt32: cond(J32, 'jsgt', 'jsgt32'),
  jsge32: cond(J32, 'jsge', 'jsge32'),
  jslt32: cond(J32, 'jslt', 'jslt32'),
  jsle32: cond(J32, 'jsle', 'jsle32'),
  /** Unconditional jump, 16-bit offset: `goto +N`. */
  ja: (target: Target): InsnItem => {
    const t = targetOf(target, 'ja');
    return insn(J64 | JMP_OP.ja, 0, 0, t.off, 0, t.extra);
  },
  /** Unconditional jump with a 32-bit offset (v4): `gotol +N`. */
  gotol: (target: Target): InsnItem => {
    if (typeof target === 'number') return insn(J32 | JMP_OP.ja, 0, 0, 0, checkImm(target, 'gotol'));
    return insn(J32 | JMP_OP.ja, 0, 0, 0, 0, { immLabel: checkLabel(target, 'gotol') });
  },
  /** Bounded-loop escape (kernel 6.9+): `may_goto +N`, taken once the loop budget is spent. */
  mayGoto: (target: Target): InsnItem => {
    const t = targetOf(target, 'mayGoto');
    return insn(J64 | JMP_OP.jcond, 0, 0, t.off, 0, t.extra);
  },
  /** Call a kernel helper by name (`'ringbuf_reserve'`, `bpf_` prefix optional) or id. */
  call: (helper: string | number): InsnItem => {
    if (typeof helper !== 'string' && typeof helper !== 'number')
      throw new TypeError(`tsbpf: call: expected a helper name or id, got ${String(helper)}`);
    return insn(J64 | JMP_OP.call, 0, 0, 0, helperId(helper));
  },
  /** bpf-to-bpf call of the subprogram at `label` (BPF_PSEUDO_CALL). */
  callLabel: (target: Target): InsnItem => {
    if (typeof target === 'number') return insn(J64 | JMP_OP.call, 0, PSEUDO_CALL, 0, checkImm(target, 'callLabel'));
    return insn(J64 | JMP_OP.call, 0, PSEUDO_CALL, 0, 0, { immLabel: checkLabel(target, 'callLabel') });
  },
  /** Call a kfunc by its vmlinux BTF id (BPF_PSEUDO_KFUNC_CALL); `btfFdIndex` selects module BTF via fd_array. */
  callKfunc: (btfId: number, btfFdIndex = 0): InsnItem =>
    insn(J64 | JMP_OP.call, 0, PSEUDO_KFUNC_CALL, checkOff(btfFdIndex, 'callKfunc'), checkImm(btfId, 'callKfunc')),
  /** Return from the program or subprogram with R0. */
  exit: (): InsnItem => insn(J64 | JMP_OP.exit, 0, 0, 0, 0),
  /** Marks the position of the next instruction as a jump/call target. */
  label: (name: string): LabelItem => ({ kind: 'label', name: checkLabel(name, 'label') }),

  // Loads `dst = *(size *)(src + off)`, sign-extending loads (v4), stores `*(size *)(dst + off) = src|imm`.
  ldxb: ldx('b', MODE.mem, 'ldxb'),
  ldxh: ldx('h', MODE.mem, 'ldxh'),
  ldxw: ldx('w', MODE.mem, 'ldxw'),
  ldxdw: ldx('dw', MODE.mem, 'ldxdw'),
  ldxsb: ldx('b', MODE.memsx, 'ldxsb'),
  ldxsh: ldx('h', MODE.memsx, 'ldxsh'),
  ldxsw: ldx('w', MODE.memsx, 'ldxsw'),
  stxb: stx('b', 'stxb'),
  stxh: stx('h', 'stxh'),
  stxw: stx('w', 'stxw'),
  stxdw: stx('dw', 'stxdw'),
  stb: st('b', 'stb'),
  sth: st('h', 'sth'),
  stw: st('w', 'stw'),
  stdw: st('dw', 'stdw'),

  // Atomics `lock *(size *)(dst + off) op= src`; fetch forms also return the old value in src.
  atomicAdd64: atomic('dw', ATOMIC_OP.add, 'atomicAdd64'),
  atomicOr64: atomic('dw', ATOMIC_OP.or, 'atomicOr64'),
  atomicAnd64: atomic('dw', ATOMIC_OP.and, 'atomicAnd64'),
  atomicXor64: atomic('dw', ATOMIC_OP.xor, 'atomicXor64'),
  atomicAdd32: atomic('w', ATOMIC_OP.add, 'atomicAdd32'),
  atomicOr32: atomic('w', ATOMIC_OP.or, 'atomicOr32'),
  atomicAnd32: atomic('w', ATOMIC_OP.and, 'atomicAnd32'),
  atomicXor32: atomic('w', ATOMIC_OP.xor, 'atomicXor32'),
  atomicFetchAdd64: atomic('dw', ATOMIC_OP.add | ATOMIC_OP.fetch, 'atomicFetchAdd64'),
  atomicFetchOr64: atomic('dw', ATOMIC_OP.or | ATOMIC_OP.fetch, 'atomicFetchOr64'),
  atomicFetchAnd64: atomic('dw', ATOMIC_OP.and | ATOMIC_OP.fetch, 'atomicFetchAnd64'),
  atomicFetchXor64: atomic('dw', ATOMIC_OP.xor | ATOMIC_OP.fetch, 'atomicFetchXor64'),
  atomicFetchAdd32: atomic('w', ATOMIC_OP.add | ATOMIC_OP.fetch, 'atomicFetchAdd32'),
  atomicFetchOr32: atomic('w', ATOMIC_OP.or | ATOMIC_OP.fetch, 'atomicFetchOr32'),
  atomicFetchAnd32: atomic('w', ATOMIC_OP.and | ATOMIC_OP.fetch, 'atomicFetchAnd32'),
  atomicFetchXor32: atomic('w', ATOMIC_OP.xor | ATOMIC_OP.fetch, 'atomicFetchXor32'),
  /** `src = xchg(dst + off, src)`. */
  xchg64: atomic('dw', ATOMIC_OP.xchg, 'xchg64'),
  xchg32: atomic('w', ATOMIC_OP.xchg, 'xchg32'),
  /** `r0 = cmpxchg(dst + off, r0, src)`: writes src if the memory equals R0; R0 gets the old value. */
  cmpxchg64: atomic('dw', ATOMIC_OP.cmpxchg, 'cmpxchg64'),
  cmpxchg32: atomic('w', ATOMIC_OP.cmpxchg, 'cmpxchg32'),
  /** Acquire load (kernel 6.15+): `dst = load_acquire((size *)(src + off))`. */
  loadAcquire: (size: SizeName, dst: Reg, src: Reg, off = 0): InsnItem =>
    insn(
      CLASS.stx | MODE.atomic | SIZE[checkSize(size, 'loadAcquire')],
      checkReg(dst, 'loadAcquire'),
      checkReg(src, 'loadAcquire'),
      checkOff(off, 'loadAcquire'),
      ATOMIC_OP.load_acq,
    ),
  /** Release store (kernel 6.15+): `store_release((size *)(dst + off), src)`. */
  storeRelease: (size: SizeName, dst: Reg, off: number, src: Reg): InsnItem =>
    insn(
      CLASS.stx | MODE.atomic | SIZE[checkSize(size, 'storeRelease')],
      checkReg(dst, 'storeRelease'),
      checkReg(src, 'storeRelease'),
      checkOff(off, 'storeRelease'),
      ATOMIC_OP.store_rel,
    ),

  // ld_imm64 and its pseudo forms (two slots each).
  /** `dst = imm ll`: any 64-bit constant. */
  ldImm64: (dst: Reg, value: bigint | number): LdImm64Item => {
    if (typeof value === 'number' && !Number.isSafeInteger(value))
      throw new RangeError(`tsbpf: ldImm64: ${value} is not a safe integer; pass a bigint`);
    const v = BigInt(value);
    if (v < -(1n << 63n) || v >= 1n << 64n) throw new RangeError(`tsbpf: ldImm64: ${v} does not fit in 64 bits`);
    return ldImm64Item(checkReg(dst, 'ldImm64'), 0, v);
  },
  /** `dst = map` (BPF_PSEUDO_MAP_FD): the map pointer, as `bpf_map_lookup_elem` etc. expect in R1. */
  ldMapFd: (dst: Reg, map: MapRef): LdImm64Item =>
    ldImm64Item(checkReg(dst, 'ldMapFd'), PSEUDO.map_fd, 0n, { map: checkMap(map, 'ldMapFd') }),
  /** `dst = &map.value[0] + offset` (BPF_PSEUDO_MAP_VALUE), for array maps with one entry (globals). */
  ldMapValue: (dst: Reg, map: MapRef, offset = 0): LdImm64Item => {
    const off = checkImm(offset, 'ldMapValue');
    return ldImm64Item(checkReg(dst, 'ldMapValue'), PSEUDO.map_value, BigInt(off >>> 0) << 32n, {
      map: checkMap(map, 'ldMapValue'),
    });
  },
  /** `dst = map` by index into the load's `fd_array` (BPF_PSEUDO_MAP_IDX). */
  ldMapIdx: (dst: Reg, index: number): LdImm64Item =>
    ldImm64Item(checkReg(dst, 'ldMapIdx'), PSEUDO.map_idx, BigInt(checkImm(index, 'ldMapIdx') >>> 0)),
  /** `dst = &fd_array[index].value[0] + offset` (BPF_PSEUDO_MAP_IDX_VALUE). */
  ldMapIdxValue: (dst: Reg, index: number, offset = 0): LdImm64Item =>
    ldImm64Item(
      checkReg(dst, 'ldMapIdxValue'),
      PSEUDO.map_idx_value,
      (BigInt(checkImm(offset, 'ldMapIdxValue') >>> 0) << 32n) | BigInt(checkImm(index, 'ldMapIdxValue') >>> 0),
    ),
  /** `dst = &ksym` by vmlinux BTF id of a VAR (BPF_PSEUDO_BTF_ID); `btfFd` selects module BTF. */
  ldBtfId: (dst: Reg, btfId: number, btfFd = 0): LdImm64Item =>
    ldImm64Item(
      checkReg(dst, 'ldBtfId'),
      PSEUDO.btf_id,
      (BigInt(checkImm(btfFd, 'ldBtfId') >>> 0) << 32n) | BigInt(checkImm(btfId, 'ldBtfId') >>> 0),
    ),
  /** `dst = &subprog` (BPF_PSEUDO_FUNC), for callbacks such as `bpf_loop` and `bpf_for_each_map_elem`. */
  ldFunc: (dst: Reg, target: Target): LdImm64Item => {
    if (typeof target === 'number')
      return ldImm64Item(checkReg(dst, 'ldFunc'), PSEUDO.func, BigInt(checkImm(target, 'ldFunc') >>> 0));
    return ldImm64Item(checkReg(dst, 'ldFunc'), PSEUDO.func, 0n, { funcLabel: checkLabel(target, 'ldFunc') });
  },

  /** Legacy packet load (socket filters): `r0 = *(size *)skb[imm]`, network byte order converted to host. */
  ldAbs: (size: 'b' | 'h' | 'w', offset: number): InsnItem =>
    insn(CLASS.ld | MODE.abs | SIZE[checkSize(size, 'ldAbs', ['b', 'h', 'w'])], 0, 0, 0, checkImm(offset, 'ldAbs')),
  /** Legacy packet load (socket filters): `r0 = *(size *)skb[src + imm]`. */
  ldInd: (size: 'b' | 'h' | 'w', src: Reg, offset = 0): InsnItem =>
    insn(
      CLASS.ld | MODE.ind | SIZE[checkSize(size, 'ldInd', ['b', 'h', 'w'])],
      0,
      checkReg(src, 'ldInd'),
      0,
      checkImm(offset, 'ldInd'),
    ),

  /** An arbitrary raw instruction (for tests and forms without a builder). */
  raw: (code: number, dst = 0, src = 0, off = 0, imm = 0): InsnItem => {
    if (!Number.isInteger(code) || code < 0 || code > 0xff)
      throw new RangeError(`tsbpf: raw: opcode ${code} is not a byte`);
    for (const [v, what] of [
      [dst, 'dst'],
      [src, 'src'],
    ] as const) {
      if (!Number.isInteger(v) || v < 0 || v > 15)
        throw new RangeError(`tsbpf: raw: ${what} ${v} is not a 4-bit register field`);
    }
    return insn(code, dst, src, checkOff(off, 'raw'), checkImm(imm, 'raw'));
  },
};

const JUMP_NAMES = ['jeq', 'jne', 'jgt', 'jge', 'jlt', 'jle', 'jset', 'jsgt', 'jsge', 'jslt', 'jsle'] as const;

/** Readable aliases: widthless ALU names (64-bit) and size-named memory, jump and byte-swap builders. */
const aliases = {
  /** `mov`, `add`, ... without a width are the 64-bit forms (`mov64`, `add64`, ...). */
  mov: core.mov64,
  add: core.add64,
  sub: core.sub64,
  mul: core.mul64,
  div: core.div64,
  mod: core.mod64,
  or: core.or64,
  and: core.and64,
  xor: core.xor64,
  lsh: core.lsh64,
  rsh: core.rsh64,
  arsh: core.arsh64,
  neg: core.neg64,
  /** `dst = src` between registers (64-bit), e.g. `movReg(R6, R1)`. */
  movReg: (dst: Reg, src: Reg): InsnItem => core.mov64(dst, checkRegObj(src, 'movReg')),
  /** `*(size *)(dst + off) = src` (a register or an immediate), e.g. `storeMem('w', R9, 0, R0)`. */
  storeMem: (size: SizeName, dst: Reg, off: number, src: Operand): InsnItem => {
    const s = checkSize(size, 'storeMem');
    return isReg(src) ? stx(s, 'storeMem')(dst, off, src) : st(s, 'storeMem')(dst, off, src);
  },
  /** `dst = *(size *)(src + off)`, e.g. `loadMem('w', R1, R9, 0)`. */
  loadMem: (size: SizeName, dst: Reg, src: Reg, off = 0): InsnItem =>
    ldx(checkSize(size, 'loadMem'), MODE.mem, 'loadMem')(dst, src, off),
  /** Loads a context field through R1: `dst = *(size *)(R1 + off)`, e.g. `loadCtx('w', R2, 0)`. */
  loadCtx: (size: SizeName, dst: Reg, off: number): InsnItem =>
    ldx(checkSize(size, 'loadCtx'), MODE.mem, 'loadCtx')(dst, R1, off),
  /** Conditional jump against an immediate, e.g. `jmpImm('jeq', R0, 0, 'exit')`. */
  jmpImm: (op: CondJumpName, dst: Reg, imm: number, target: Target): InsnItem =>
    condByName(op, 'jmpImm')(dst, checkImm(imm, 'jmpImm'), target),
  /** Conditional jump against a register, e.g. `jmpReg('jgt', R4, R3, 'drop')`. */
  jmpReg: (op: CondJumpName, dst: Reg, src: Reg, target: Target): InsnItem =>
    condByName(op, 'jmpReg')(dst, checkRegObj(src, 'jmpReg'), target),
  /** Unconditional jump to a label, e.g. `jmp('pass')`. */
  jmp: (target: Target): InsnItem => core.ja(target),
  /** Converts `dst` to big-endian (network order) in place, e.g. `endianBe('h', R6)`. */
  endianBe: (size: 'h' | 'w' | 'dw', dst: Reg): InsnItem =>
    endian(A32, END.to_be, endianBits(size, 'endianBe'), 'endianBe')(dst),
  /** Converts `dst` to little-endian in place, e.g. `endianLe('h', R6)`. */
  endianLe: (size: 'h' | 'w' | 'dw', dst: Reg): InsnItem =>
    endian(A32, END.to_le, endianBits(size, 'endianLe'), 'endianLe')(dst),
};
function checkRegObj(r: Reg, what: string): Reg {
  checkReg(r, what);
  return r;
}
function condByName(op: CondJumpName, what: string): JmpBuilder {
  if (!(JUMP_NAMES as readonly string[]).includes(op))
    throw new RangeError(`tsbpf: ${what}: unknown jump '${String(op)}'`);
  return core[op];
}
function endianBits(size: string, what: string): 16 | 32 | 64 {
  const bits = ({ h: 16, w: 32, dw: 64 } as const)[size as 'h' | 'w' | 'dw'];
  if (!bits) throw new RangeError(`tsbpf: ${what}: size must be h, w or dw, got ${size}`);
  return bits;
}

/**
 * The instruction builders. Operand order follows the instruction text:
 * `mov64(dst, src|imm)`, `ldxw(dst, src, off)` for `dst = *(u32 *)(src + off)`,
 * `stxw(dst, off, src)` for `*(u32 *)(dst + off) = src`, `jeq(dst, src|imm, label)`.
 * @example
 * assemble([asm.mov64(R0, 0), asm.jeq(R1, 0, 'out'), asm.mov64(R0, 1), asm.label('out'), asm.exit()])
 */
export const asm = Object.freeze({ ...core, ...aliases });
export type Asm = typeof asm;

// ---------------------------------------------------------------------------------------------
// Assembly

/** Options of {@link assemble}. */
export interface AssembleOptions {
  /** Binds map names used in `ldMapFd`/`ldMapValue` to open maps. */
  maps?: Readonly<Record<string, { readonly fd: number }>>;
}

/** The result of {@link assembleProgram}: bytes plus where each label landed. */
export interface AssembledProgram {
  bytes: Uint8Array;
  /** Label → instruction (slot) index. */
  labels: Map<string, number>;
  /** Number of 8-byte slots. */
  slots: number;
}

/** Flattens nested item arrays (macros may return arrays of items). */
export function flattenItems(items: AsmInput): AsmItem[] {
  const out: AsmItem[] = [];
  const walk = (x: AsmInput): void => {
    if (Array.isArray(x)) for (const y of x) walk(y);
    else out.push(x as AsmItem);
  };
  walk(items);
  return out;
}

/** Label → slot index for a program, with duplicate-label errors. */
export function labelPositions(items: AsmInput): Map<string, number> {
  return layout(flattenItems(items)).labels;
}

function layout(flat: AsmItem[]): { labels: Map<string, number>; slots: number } {
  const labels = new Map<string, number>();
  let pc = 0;
  flat.forEach((item, i) => {
    if (typeof item !== 'object' || item === null)
      throw new TypeError(`tsbpf: assemble: item ${i} is not an instruction (${String(item)})`);
    switch (item.kind) {
      case 'label':
        if (labels.has(item.name)) throw new AsmError(`tsbpf: assemble: duplicate label '${item.name}'`);
        labels.set(item.name, pc);
        break;
      case 'insn':
        pc += 1;
        break;
      case 'ld_imm64':
        pc += 2;
        break;
      default:
        throw new TypeError(
          `tsbpf: assemble: item ${i} is not an instruction (kind ${String((item as { kind?: unknown }).kind)})`,
        );
    }
  });
  return { labels, slots: pc };
}

/**
 * Assembles items into instruction bytes, resolving labels (pc-relative: `target - (pc + 1)`)
 * and map references.
 * @throws Error naming the label for unknown/duplicate labels and out-of-range offsets, or the map for unbound names.
 */
export function assemble(items: AsmInput, options: AssembleOptions = {}): Uint8Array {
  return assembleProgram(items, options).bytes;
}

/** Like {@link assemble}, also returning the label positions. */
export function assembleProgram(items: AsmInput, options: AssembleOptions = {}): AssembledProgram {
  const flat = flattenItems(items);
  const { labels, slots } = layout(flat);
  const bytes = new Uint8Array(slots * INSN_SIZE);
  const view = new DataView(bytes.buffer);
  const resolve = (label: string, pc: number, what: string): number => {
    const target = labels.get(label);
    if (target === undefined)
      throw new AsmError(`tsbpf: assemble: unknown label '${label}' (${what} at instruction ${pc})`);
    return target - (pc + 1);
  };
  const mapFd = (map: MapRef, pc: number): number => {
    let m: { readonly fd: number } | undefined;
    if (typeof map === 'string') {
      m = options.maps?.[map];
      if (!m)
        throw new AsmError(`tsbpf: assemble: map '${map}' is not bound (instruction ${pc}); pass it in options.maps`);
    } else m = map;
    const fd = m.fd;
    if (!Number.isInteger(fd) || fd < 0 || fd > 0x7fffffff) {
      throw new RangeError(
        `tsbpf: assemble: map${typeof map === 'string' ? ` '${map}'` : ''} has no valid fd (${String(fd)}) at instruction ${pc}`,
      );
    }
    return fd;
  };
  let pc = 0;
  for (const item of flat) {
    if (item.kind === 'label') continue;
    if (item.kind === 'insn') {
      let { off, imm } = item;
      if (item.offLabel !== undefined) {
        off = resolve(item.offLabel, pc, 'jump');
        if (off < -0x8000 || off > 0x7fff) {
          throw new RangeError(
            `tsbpf: assemble: jump to label '${item.offLabel}' at instruction ${pc} is out of 16-bit range (offset ${off}); use gotol`,
          );
        }
      }
      if (item.immLabel !== undefined) {
        imm = resolve(item.immLabel, pc, item.code === (J32 | JMP_OP.ja) ? 'gotol' : 'call');
        if (imm < -0x80000000 || imm > 0x7fffffff) {
          throw new RangeError(
            `tsbpf: assemble: target label '${item.immLabel}' at instruction ${pc} is out of 32-bit range (offset ${imm})`,
          );
        }
      }
      encodeInsn(view, pc * INSN_SIZE, { code: item.code, dst: item.dst, src: item.src, off, imm });
      pc += 1;
      continue;
    }
    let value = item.imm;
    if (item.map !== undefined) value = (value & 0xffffffff00000000n) | BigInt(mapFd(item.map, pc));
    if (item.funcLabel !== undefined) {
      const rel = resolve(item.funcLabel, pc, 'ldFunc');
      if (rel < -0x80000000 || rel > 0x7fffffff)
        throw new RangeError(`tsbpf: assemble: ldFunc label '${item.funcLabel}' is out of 32-bit range`);
      value = BigInt(rel >>> 0);
    }
    const { lo, hi } = splitImm64(value);
    encodeInsn(view, pc * INSN_SIZE, { code: LD_IMM64, dst: item.dst, src: item.src, off: 0, imm: lo });
    encodeInsn(view, (pc + 1) * INSN_SIZE, { code: 0, dst: 0, src: 0, off: 0, imm: hi });
    pc += 2;
  }
  return { bytes, labels, slots };
}
