/**
 * tsbpf — eBPF for Node.js in TypeScript.
 *
 * Pure layer: layouts (`t`), the assembler (`asm`, `assemble`, registers), the disassembler, ELF and
 * BTF parsing. Kernel layer: `BpfMap`, `Program`, links, `RingBuffer`, `PerfBuffer`, `BpfObject`.
 */
export * from './pure/layout.js';
export * from './pure/uapi.js';
export * from './pure/asm.js';
export * from './pure/disasm.js';
export { parseAsm } from './pure/asm-text.js';
export { HELPER_IDS, type HelperName } from './pure/helper-ids.js';
export * as insn from './pure/insn.js';
export type { RawInsn } from './pure/insn.js';
export * from './kernel/errors.js';
export { BpfMap } from './kernel/map.js';
export type { MapCreateOptions, MapInfo, BatchResult, Codec, RawValue } from './kernel/map.js';
export { Program } from './kernel/program.js';
export type { ProgramLoadOptions, TestRunOptions, TestRunResult, ProgramInfo } from './kernel/program.js';
export { possibleCpus, onlineCpus } from './kernel/cpus.js';
export { ensureBpffs, ensureTracefs } from './kernel/fs-mounts.js';
export { Link, AttachError, PERF_IOC } from './kernel/link.js';
export type { LinkInfo, LinkUpdateOptions, LinkPart } from './kernel/link.js';
export { closeOnExit, closeAllLinks, openLinks } from './kernel/cleanup.js';
export { tracepointId, splitTracepoint } from './kernel/attach-tracepoint.js';
export { kernelFunction, vmlinuxBtf, tracingTargetBtfId, tracingLoadOptions } from './kernel/attach-tracing.js';
export type { TracingKind, TracingLoadOptions, KernelFunction } from './kernel/attach-tracing.js';
export { uprobeOffset, resolveBinary } from './kernel/attach-uprobe.js';
export type { UprobeOptions } from './kernel/attach-uprobe.js';
export { SOFTWARE_EVENT, HARDWARE_EVENT } from './kernel/attach-perf-event.js';
export type { PerfEventOptions } from './kernel/attach-perf-event.js';
export { interfaceIndex } from './kernel/attach-net.js';
export type { XdpMode, Interface } from './kernel/attach-net.js';
export { cgroup2Root, cgroupPath } from './kernel/attach-cgroup.js';
export type { CgroupAttachType } from './kernel/attach-cgroup.js';
export { kprobeSupport } from './kernel/kprobe.js';
export type { KprobeSupport, KprobeOptions } from './kernel/kprobe.js';
export { RingBuffer, RecordView } from './kernel/ring-buffer.js';
export type { RingBufferOptions, RingOptions, RecordCallback, WaitOptions, WaitStats } from './kernel/ring-buffer.js';
export { PerfBuffer } from './kernel/perf-buffer.js';
export type { PerfBufferOptions, PerfSampleCallback, PerfLostCallback } from './kernel/perf-buffer.js';
export { DropCounter, asmCountDrop, asmRingbufReserve, asmRingbufOutput } from './kernel/drop-counter.js';
export type { ReserveOptions, OutputOptions } from './kernel/drop-counter.js';
