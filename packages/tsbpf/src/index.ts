/**
 * tsbpf — eBPF for Node.js in TypeScript.
 *
 * Pure layer: layouts (`t`), the assembler (`asm`, `assemble`, registers), the disassembler, ELF and
 * BTF parsing. Kernel layer: `BpfMap`, `Program`, links, `RingBuffer`, `PerfBuffer`, `BpfObject`.
 * Importing this entry loads nothing native: the addon loads on the first kernel call. The pure layer
 * is also published as subpaths that never touch it: `tsbpf/asm`, `tsbpf/insn`, `tsbpf/layout`,
 * `tsbpf/disasm`, `tsbpf/elf`, `tsbpf/btf`, `tsbpf/core`, `tsbpf/object-spec`, `tsbpf/usdt`.
 *
 * The export list is deliberate (no `export *`): everything here is public API, recorded in
 * etc/tsbpf.api.md.
 *
 * @packageDocumentation
 * @module tsbpf
 */
export {
  t,
  isLayout,
  BaseLayout,
  NumberLayout,
  BigIntLayout,
  U64NumberLayout,
  CStringLayout,
  BytesLayout,
  ArrayLayout,
  PadLayout,
  BoolLayout,
  BitfieldLayout,
} from './entry/layout.js';
export type {
  Layout,
  Infer,
  StructValue,
  StructLayout,
  StructFields,
  NumberKind,
  StructPlacement,
} from './entry/layout.js';
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
} from './entry/asm.js';
export type { MapTypeName, ProgTypeName, AttachTypeName, LinkTypeName, UpdateFlag } from './entry/asm.js';
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
  SIZE,
  COND_JUMPS,
} from './entry/asm.js';
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
  SizeName,
  CondJumpName,
} from './entry/asm.js';
export { decodeProgram, formatInsn, disassemble, annotateInstruction } from './entry/disasm.js';
export type { DisasmOptions, DecodedInsn } from './entry/disasm.js';
export { parseAsm, AsmSyntaxError } from './entry/asm.js';
export { HELPER_IDS, type HelperName } from './entry/asm.js';
export type { RawInsn } from './entry/insn.js';
export { TsbpfError, NotSupportedError, BpfError, VerifierError, ClosedError, errnoName } from './kernel/errors.js';
export type { BpfErrorContext } from './kernel/errors.js';
export {
  BpfMap,
  HashMap,
  LruHash,
  ArrayMap,
  PerCpuArray,
  PerCpuHash,
  LruPerCpuHash,
  LpmTrie,
  Queue,
  Stack,
  BloomFilter,
  RingBufMap,
  PerfEventArray,
  ProgArray,
  ArrayOfMaps,
  HashOfMaps,
  TaskStorage,
  SkStorage,
  InodeStorage,
  CgrpStorage,
  LocalStorage,
  GenericMap,
  MapTypeError,
} from './kernel/map.js';
export type {
  MapCreateOptions,
  MapCreateExtra,
  MapInfo,
  BatchResult,
  TypedBatchResult,
  TypedBatchOptions,
  TypedArrayFor,
  NumberArray,
  Codec,
  RawValue,
  MapCodecs,
  ValueCodec,
  DecodesTo,
  MapClasses,
  MapOf,
  ProgramRef,
} from './kernel/map.js';
export { Program } from './kernel/program.js';
export type { ProgramLoadOptions, TestRunOptions, TestRunResult, ProgramInfo } from './kernel/program.js';
export { possibleCpus, onlineCpus } from './kernel/cpus.js';
export { ensureBpffs, ensureTracefs } from './kernel/fs-mounts.js';
export { Link, AttachError } from './kernel/link.js';
export type { LinkInfo, LinkUpdateOptions, LinkPart } from './kernel/link.js';
export type { OwnedFd } from './kernel/syscall.js';
export { closeOnExit, closeAllLinks, openLinks } from './kernel/cleanup.js';
export type { Closable } from './kernel/cleanup.js';
export { tracepointId, splitTracepoint } from './kernel/attach-tracepoint.js';
export { kernelFunction, vmlinuxBtf, tracingTargetBtfId, tracingLoadOptions } from './kernel/attach-tracing.js';
export type { TracingKind, TracingLoadOptions, KernelFunction } from './kernel/attach-tracing.js';
export { uprobeOffset, resolveBinary } from './kernel/attach-uprobe.js';
export type { UprobeOptions } from './kernel/attach-uprobe.js';
export { attachIter, IterLink, iterTargetBtfId, iterLoadOptions } from './kernel/attach-iter.js';
export type { IterOptions, IterLoadOptions } from './kernel/attach-iter.js';
export { attachUsdt, UsdtLink } from './kernel/attach-usdt.js';
export type { UsdtOptions } from './kernel/attach-usdt.js';
export { attachSocket, SocketFilter, socketFd } from './kernel/attach-socket.js';
export type { SocketTarget } from './kernel/attach-socket.js';
export {
  parseUsdtNotes,
  usdtSites,
  parseUsdtArgs,
  encodeUsdtSpec,
  usdtSpecLayout,
  UsdtError,
  USDT_SPEC_LAYOUT_V1,
  USDT_SPEC_LAYOUT_V2,
  USDT_ARG_TYPE,
} from './entry/usdt.js';
export type { UsdtNote, UsdtSite, UsdtArg, UsdtArch, UsdtSpecLayout } from './entry/usdt.js';
export { SOFTWARE_EVENT, HARDWARE_EVENT } from './kernel/attach-perf-event.js';
export type { PerfEventOptions, HardwareEventName, SoftwareEventName } from './kernel/attach-perf-event.js';
export { interfaceIndex } from './kernel/attach-net.js';
export type { XdpMode, Interface } from './kernel/attach-net.js';
export { cgroup2Root, cgroupPath } from './kernel/attach-cgroup.js';
export type { CgroupAttachType, CgroupAttachAlias } from './kernel/attach-cgroup.js';
export { kprobeSupport } from './kernel/kprobe.js';
export type { KprobeSupport, KprobeOptions } from './kernel/kprobe.js';
export { RingBuffer, RecordView } from './kernel/ring-buffer.js';
export type { RingBufferOptions, RingOptions, RecordCallback, WaitOptions, WaitStats } from './kernel/ring-buffer.js';
export { PerfBuffer } from './kernel/perf-buffer.js';
export type { PerfBufferOptions, PerfSampleCallback, PerfLostCallback } from './kernel/perf-buffer.js';
export { DropCounter, asmCountDrop, asmRingbufReserve, asmRingbufOutput } from './kernel/drop-counter.js';
export type { ReserveOptions, OutputOptions } from './kernel/drop-counter.js';
export {
  Elf,
  ElfError,
  findFunctionSymbol,
  symbolFileOffset,
  vaddrToFileOffset,
  machineName,
  EM_BPF,
  EM_X86_64,
  EM_AARCH64,
} from './entry/elf.js';
export type {
  ElfErrorCode,
  ElfHeader,
  ElfSection,
  ElfSymbol,
  ElfRelocation,
  ElfRelocationSection,
  ElfProgramHeader,
  ElfFunctionSymbol,
  ElfParseOptions,
} from './entry/elf.js';
export { Btf, BtfError, BTF_KIND, btfKindName } from './entry/btf.js';
export type {
  BtfType,
  BtfKindName,
  BtfMember,
  BtfMemberLocation,
  BtfComposite,
  BtfParseOptions,
  BtfTypeBase,
  BtfVoid,
  BtfInt,
  BtfRef,
  BtfArray,
  BtfEnumValue,
  BtfEnum,
  BtfEnum64Value,
  BtfEnum64,
  BtfFwd,
  BtfFunc,
  BtfParam,
  BtfFuncProto,
  BtfVar,
  BtfVarSecinfo,
  BtfDatasec,
  BtfFloat,
  BtfDeclTag,
  BtfHeader,
} from './entry/btf.js';
export { BtfExt, CORE_RELO_KIND, coreReloKindName, encodeFuncInfo, encodeLineInfo } from './pure/btf-ext.js';
export type { BtfCoreRelo, BtfFuncInfo, BtfLineInfo, BtfExtSection, BtfExtHeader } from './pure/btf-ext.js';
export { parseBtfMaps } from './pure/btf-maps.js';
export type { BtfMapDefinition } from './pure/btf-maps.js';
export { btfLayout, btfStructLayout, BtfStructLayout } from './pure/btf-layout.js';
export type { BtfLayoutOptions } from './pure/btf-layout.js';
export { BpfObject, BpfObjectError, GlobalData, ObjectProgram } from './kernel/object.js';
export type { LayoutOf } from './pure/global-data.js';
export type { BpfObjectOptions, ProgramAttachOptions, MapSpec, GlobalVariable } from './kernel/object.js';
export { resolveExterns } from './kernel/object.js';
export type { ResolvedExtern } from './kernel/object.js';
export { ObjectSpec, coreInstructions, resolveProgramCore } from './pure/object-spec.js';
export type {
  ProgramSpec,
  ExternSpec,
  VariableSpec,
  ObjectSpecParseOptions,
  InsnRelocation,
  FuncInfoRecord,
  LineInfoRecord,
  CoreRecord,
} from './pure/object-spec.js';
export { MAP_PIN, STORAGE_MAP_TYPES, resolveMapShape, copyMapSpec } from './pure/map-spec.js';
export type { MapShape, MapShapeEnv, MapEntrySpec, MapSlotRef, MapSpecOrigin } from './pure/map-spec.js';
export { loadObjectBtf, loadRawBtf, probeBtfFeatures, BtfLoadError } from './kernel/btf-load.js';
export type { BtfFeatures } from './kernel/btf-load.js';
export { parseSectionName, trySectionName, SectionNameError } from './pure/section-names.js';
export type { SectionInfo, AttachTarget } from './pure/section-names.js';
export { resolveCoreRelo, applyCoreRelo, essentialName, CoreReloError } from './entry/core.js';
export type { CoreReloResult } from './entry/core.js';
export { KsymResolver, readKallsyms } from './kernel/ksyms.js';
export type { KsymExtern } from './kernel/ksyms.js';
export { parseKallsyms } from './pure/ksym-patch.js';
export type { KsymResolution } from './pure/ksym-patch.js';
export { BtfBuilder, type BtfBuilderParam } from './entry/btf.js';
export { probeKernel } from './kernel/features.js';
export type { ProbeReport, ProbeResult, ProbeProgress } from './kernel/features.js';
export { syscallName, SYSCALL_NUMBERS } from './pure/syscall-names.js';
export { PerfCounter } from './kernel/perf-counter.js';
export type { PerfCounterEvent, PerfCounterOptions } from './kernel/perf-counter.js';
export { OverloadGuard, asmOverloadGate, OVERLOAD_STATE } from './kernel/overload.js';
export type { OverloadThresholds, OverloadGateOptions } from './kernel/overload.js';
export { PerCpuRings, asmPerCpuRingReserve } from './kernel/per-cpu-rings.js';
export type { PerCpuRingsOptions, PerCpuReserveOptions } from './kernel/per-cpu-rings.js';
export { generateTypes, wrapperClassName, objectBaseName } from './pure/codegen-types.js';
export type { GenTypesOptions, GeneratedModule, GeneratedType } from './pure/codegen-types.js';
