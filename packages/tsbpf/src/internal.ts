/**
 * Not public API: low-level pieces the tsbpf-tools package (benchmarks) uses until they have public
 * equivalents. No semver guarantees; not in the API report.
 * @internal
 */
export { native, MAP_SHARED, PROT } from './kernel/native.js';
export { FdWaiter } from './kernel/fd-waiter.js';
export { LD_IMM64, PSEUDO, ALU_OP, CLASS, JMP_OP, MODE, SIZE } from './pure/insn.js';
export { R_BPF_64_64 } from './pure/elf.js';
