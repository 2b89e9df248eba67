/**
 * tsbpf — eBPF for Node.js in TypeScript.
 *
 * Pure layer: layouts (`t`), the assembler (`asm`, `assemble`, registers), the disassembler, ELF and
 * BTF parsing. Kernel layer: `BpfMap`, `Program`, links, `RingBuffer`, `PerfBuffer`, `BpfObject`.
 */
export * from './pure/layout.js';
export * from './pure/uapi.js';
export * from './kernel/errors.js';
export { BpfMap } from './kernel/map.js';
export type { MapCreateOptions, MapInfo, BatchResult, Codec, RawValue } from './kernel/map.js';
// program exports added when disasm lands
export { Program } from './kernel/program.js';
export type { ProgramLoadOptions, TestRunOptions, TestRunResult, ProgramInfo } from './kernel/program.js';
export { possibleCpus, onlineCpus } from './kernel/cpus.js';
export { ensureBpffs, ensureTracefs } from './kernel/fs-mounts.js';
