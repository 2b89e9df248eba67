/**
 * `tsbpf/insn`: the BPF instruction encoding: opcode fields (`CLASS`, `SIZE`, `MODE`, `SRC`, `ALU_OP`,
 * `JMP_OP`, ...), pseudo source registers and 8-byte instruction encode/decode. For tools that read or
 * rewrite bytecode. Pure: never loads the native addon.
 *
 * @packageDocumentation
 * @module tsbpf/insn
 */
export {
  CLASS,
  SIZE,
  SIZE_BYTES,
  MODE,
  SRC,
  ALU_OP,
  END,
  JMP_OP,
  COND_JUMPS,
  ATOMIC_OP,
  PSEUDO,
  PSEUDO_CALL,
  PSEUDO_KFUNC_CALL,
  LD_IMM64,
  INSN_SIZE,
  encodeInsn,
  decodeInsn,
  encodeInsns,
  decodeInsns,
  classOf,
  isLdImm64,
  imm64Of,
  splitImm64,
} from '../pure/insn.js';
export type { RawInsn, SizeName, AluOpName, JmpOpName, CondJumpName } from '../pure/insn.js';
