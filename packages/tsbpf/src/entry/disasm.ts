/**
 * `tsbpf/disasm`: the BPF disassembler (llvm-objdump-style text, decoded instructions). Pure: never
 * loads the native addon.
 *
 * @packageDocumentation
 * @module tsbpf/disasm
 */
export { decodeProgram, formatInsn, disassemble, annotateInstruction } from '../pure/disasm.js';
export type { DisasmOptions, DecodedInsn } from '../pure/disasm.js';
export type { RawInsn } from '../pure/insn.js';
