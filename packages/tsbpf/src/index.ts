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
export { Elf, ElfError, findFunctionSymbol, symbolFileOffset, vaddrToFileOffset, machineName, EM_BPF, EM_X86_64 } from './pure/elf.js';
export type { ElfHeader, ElfSection, ElfSymbol, ElfRelocation, ElfRelocationSection, ElfProgramHeader, ElfFunctionSymbol, ElfParseOptions } from './pure/elf.js';
export { Btf, BtfError, BTF_KIND, btfKindName } from './pure/btf.js';
export type { BtfType, BtfKindName, BtfMember, BtfMemberLocation, BtfComposite, BtfParseOptions } from './pure/btf.js';
export { BtfExt, CORE_RELO_KIND, coreReloKindName, encodeFuncInfo, encodeLineInfo } from './pure/btf-ext.js';
export type { BtfCoreRelo, BtfFuncInfo, BtfLineInfo, BtfExtSection } from './pure/btf-ext.js';
export { parseBtfMaps } from './pure/btf-maps.js';
export type { BtfMapDefinition } from './pure/btf-maps.js';
export { btfLayout, btfStructLayout, BtfStructLayout } from './pure/btf-layout.js';
export type { BtfLayoutOptions } from './pure/btf-layout.js';
export { BpfObject, BpfObjectError, GlobalData, ObjectProgram } from './kernel/object.js';
export type { BpfObjectOptions, ProgramAttachOptions, MapSpec, GlobalVariable } from './kernel/object.js';
export { loadObjectBtf, loadRawBtf, sanitizeBtf, probeBtfFeatures, BtfLoadError } from './kernel/btf-load.js';
export type { BtfFeatures } from './kernel/btf-load.js';
export { parseSectionName, trySectionName, SectionNameError } from './pure/section-names.js';
export type { SectionInfo, AttachTarget } from './pure/section-names.js';
export { resolveCoreRelo, patchCoreInsn, applyCoreRelo, essentialName, CoreReloError, CORE_POISON_IMM } from './pure/core-relo.js';
export type { CoreReloResult } from './pure/core-relo.js';
export { BtfBuilder, sanitizeIdentifier } from './pure/btf-builder.js';
export { programFuncBtf, subprogramStarts } from './pure/asm-func-btf.js';
export type { ProgramFunc, ProgramFuncBtf, ProgramFuncBtfOptions } from './pure/asm-func-btf.js';
export { probeKernel } from './kernel/features.js';
export type { ProbeReport, ProbeResult } from './kernel/features.js';
export { syscallName, SYSCALL_NUMBERS } from './pure/syscall-names.js';
