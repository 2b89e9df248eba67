/**
 * eBPF instruction encoding: opcode constants and the 8-byte slot format
 * (`code:8 dst:4 src:4 off:16 imm:32`, little-endian as on every host tsbpf runs on).
 * `ld_imm64` occupies two slots; the second carries the high 32 bits in its imm.
 */

/** Instruction classes (`code & 0x07`). */
export const CLASS = {
  ld: 0x00,
  ldx: 0x01,
  st: 0x02,
  stx: 0x03,
  alu: 0x04,
  jmp: 0x05,
  jmp32: 0x06,
  alu64: 0x07,
} as const;
/** Access sizes (`code & 0x18`) for loads and stores. */
export const SIZE = { w: 0x00, h: 0x08, b: 0x10, dw: 0x18 } as const;
export type SizeName = keyof typeof SIZE;
/** Size in bytes of each access size. */
export const SIZE_BYTES: Record<SizeName, number> = { b: 1, h: 2, w: 4, dw: 8 };
/** Load/store modes (`code & 0xe0`). */
export const MODE = { imm: 0x00, abs: 0x20, ind: 0x40, mem: 0x60, memsx: 0x80, atomic: 0xc0 } as const;
/** Source operand flag (`code & 0x08`) for ALU and JMP: immediate (K) or register (X). */
export const SRC = { k: 0x00, x: 0x08 } as const;
/** ALU operations (`code & 0xf0`). */
export const ALU_OP = {
  add: 0x00,
  sub: 0x10,
  mul: 0x20,
  div: 0x30,
  or: 0x40,
  and: 0x50,
  lsh: 0x60,
  rsh: 0x70,
  neg: 0x80,
  mod: 0x90,
  xor: 0xa0,
  mov: 0xb0,
  arsh: 0xc0,
  end: 0xd0,
} as const;
export type AluOpName = keyof typeof ALU_OP;
/** Byte-order flag of `BPF_END`: to little-endian (also `bswap` in ALU64) or to big-endian. */
export const END = { to_le: 0x00, to_be: 0x08 } as const;
/** Jump operations (`code & 0xf0`). `jcond` is `may_goto`. */
export const JMP_OP = {
  ja: 0x00,
  jeq: 0x10,
  jgt: 0x20,
  jge: 0x30,
  jset: 0x40,
  jne: 0x50,
  jsgt: 0x60,
  jsge: 0x70,
  call: 0x80,
  exit: 0x90,
  jlt: 0xa0,
  jle: 0xb0,
  jslt: 0xc0,
  jsle: 0xd0,
  jcond: 0xe0,
} as const;
export type JmpOpName = keyof typeof JMP_OP;
/** Conditional jump names (the ones taking two operands). */
export const COND_JUMPS = ['jeq', 'jgt', 'jge', 'jset', 'jne', 'jsgt', 'jsge', 'jlt', 'jle', 'jslt', 'jsle'] as const;
export type CondJumpName = (typeof COND_JUMPS)[number];
/** Atomic operations, carried in the imm of `BPF_STX | BPF_ATOMIC`. */
export const ATOMIC_OP = {
  add: 0x00,
  or: 0x40,
  and: 0x50,
  xor: 0xa0,
  fetch: 0x01,
  xchg: 0xe1,
  cmpxchg: 0xf1,
  load_acq: 0x100,
  store_rel: 0x110,
} as const;
/** `src_reg` values of the first `ld_imm64` slot. */
export const PSEUDO = {
  map_fd: 1,
  map_value: 2,
  btf_id: 3,
  func: 4,
  map_idx: 5,
  map_idx_value: 6,
} as const;
/** `src_reg` values of `call`: a bpf-to-bpf call (imm is pc-relative) or a kfunc (imm is a BTF id). */
export const PSEUDO_CALL = 1;
export const PSEUDO_KFUNC_CALL = 2;

/** Opcode of `ld_imm64` (`BPF_LD | BPF_IMM | BPF_DW`). */
export const LD_IMM64 = 0x18;
/** Bytes per instruction slot. */
export const INSN_SIZE = 8;

/** One 8-byte instruction slot, fields as the kernel's `struct bpf_insn`. `imm` is a signed 32-bit value. */
export interface RawInsn {
  code: number;
  dst: number;
  src: number;
  /** Signed 16-bit. */
  off: number;
  /** Signed 32-bit. */
  imm: number;
}

/** Writes one slot at byte offset `at`. Fields are truncated to their widths (callers range-check first). */
export function encodeInsn(view: DataView, at: number, insn: RawInsn): void {
  view.setUint8(at, insn.code & 0xff);
  view.setUint8(at + 1, ((insn.src & 0xf) << 4) | (insn.dst & 0xf));
  view.setInt16(at + 2, (insn.off << 16) >> 16, true);
  view.setInt32(at + 4, insn.imm | 0, true);
}

/** Reads the slot at byte offset `at`. */
export function decodeInsn(view: DataView, at: number): RawInsn {
  const regs = view.getUint8(at + 1);
  return {
    code: view.getUint8(at),
    dst: regs & 0xf,
    src: regs >> 4,
    off: view.getInt16(at + 2, true),
    imm: view.getInt32(at + 4, true),
  };
}

/** Encodes a list of slots into bytes. */
export function encodeInsns(insns: readonly RawInsn[]): Uint8Array {
  const bytes = new Uint8Array(insns.length * INSN_SIZE);
  const view = new DataView(bytes.buffer);
  for (const [i, insn] of insns.entries()) encodeInsn(view, i * INSN_SIZE, insn);
  return bytes;
}

/** Decodes bytes into slots (both halves of an `ld_imm64` are separate slots). Length must be a multiple of 8. */
export function decodeInsns(bytes: Uint8Array): RawInsn[] {
  if (bytes.length % INSN_SIZE !== 0) {
    throw new RangeError(`tsbpf: instruction bytes: length ${bytes.length} is not a multiple of ${INSN_SIZE}`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out: RawInsn[] = [];
  for (let at = 0; at < bytes.length; at += INSN_SIZE) out.push(decodeInsn(view, at));
  return out;
}

/** Instruction class of an opcode. */
export const classOf = (code: number): number => code & 0x07;
/** Whether an opcode is `ld_imm64` (two slots). */
export const isLdImm64 = (code: number): boolean => code === LD_IMM64;

/** Combines the two imm halves of an `ld_imm64` into an unsigned 64-bit value. */
export function imm64Of(lo: number, hi: number): bigint {
  return (BigInt(hi >>> 0) << 32n) | BigInt(lo >>> 0);
}

/** Splits a 64-bit value (signed or unsigned) into the two signed 32-bit imm halves. */
export function splitImm64(value: bigint): { lo: number; hi: number } {
  const u = BigInt.asUintN(64, value);
  return { lo: Number(BigInt.asIntN(32, u & 0xffffffffn)), hi: Number(BigInt.asIntN(32, u >> 32n)) };
}
