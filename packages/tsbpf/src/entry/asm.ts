/**
 * `tsbpf/asm`: the BPF assembler (`asm` builders, registers, labels, helpers, the text-syntax parser) and
 * the kernel ABI constants programs use (`XDP`, `RINGBUF_FLAG`, `MAP_TYPE`, ...). Pure: works on any
 * platform and never loads the native addon.
 *
 * @packageDocumentation
 * @module tsbpf/asm
 */
export {
  asm,
  assemble,
  assembleProgram,
  AsmError,
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
  REGS,
  isReg,
  HELPERS,
  helperId,
  helperName,
} from '../pure/asm.js';
export type {
  Asm,
  AsmInput,
  AsmItem,
  AssembleOptions,
  AssembledProgram,
  InsnItem,
  LabelItem,
  LdImm64Item,
  MapRef,
  Operand,
  Reg,
  Target,
  AluBuilder,
  JmpBuilder,
} from '../pure/asm.js';
export { parseAsm, AsmSyntaxError } from '../pure/asm-text.js';
export { HELPER_IDS, type HelperName } from '../pure/helper-ids.js';
export { SIZE, COND_JUMPS } from '../pure/insn.js';
export type { RawInsn, SizeName, CondJumpName } from '../pure/insn.js';
export {
  BPF_CMD,
  MAP_TYPE,
  PROG_TYPE,
  ATTACH_TYPE,
  LINK_TYPE,
  MAP_FLAG,
  UPDATE_FLAG,
  PROG_FLAG,
  TEST_RUN_FLAG,
  XDP,
  XDP_FLAG,
  RINGBUF_FLAG,
  RINGBUF_QUERY,
  RINGBUF_HDR,
  STATS_TYPE,
  F_CURRENT_CPU,
} from '../pure/uapi.js';
export type { MapTypeName, ProgTypeName, AttachTypeName, LinkTypeName, UpdateFlag } from '../pure/uapi.js';
export { TsbpfError } from '../pure/errors.js';
