/**
 * Program: load BPF programs (with the verifier log on rejection), run them with BPF_PROG_TEST_RUN,
 * read their kernel info and stats, pin them. Attach methods return Links (see link.ts, attach-*.ts).
 */
import { constants } from 'node:os';
import { asm, assembleProgram, type AsmInput, R0 } from '../pure/asm.js';
import { annotateInstruction } from '../pure/disasm.js';
import {
  ATTACH_TYPE,
  type AttachTypeName,
  BPF_CMD,
  nameOf,
  PROG_TYPE,
  type ProgTypeName,
  STATS_TYPE,
  TEST_RUN_FLAG,
  XDP,
} from '../pure/uapi.js';
import { BpfError, NotSupportedError, VerifierError } from './errors.js';
import { preparePinPath } from './fs-mounts.js';
import type { BpfMap } from './map.js';
import { Attr, argError, bpf, bpfFail, bpfRaw, commandName, cString, OwnedFd } from './syscall.js';
import type { Link } from './link.js';
import { attachTracepoint } from './attach-tracepoint.js';
import { attachRawTracepoint } from './attach-raw-tracepoint.js';
import {
  attachTracing,
  explainTracingLoadError,
  trampolineSupport,
  tracingLoadOptions,
  type TracingLoadOptions,
} from './attach-tracing.js';
import { attachUprobe, type UprobeOptions } from './attach-uprobe.js';
import { attachPerfEvent, type PerfEventOptions } from './attach-perf-event.js';
import { attachTcx, attachXdp, type Interface, type XdpMode } from './attach-net.js';
import { attachCgroup, type CgroupAttachType } from './attach-cgroup.js';
import { attachKprobe, type KprobeOptions } from './kprobe.js';
import { loadGeneratedFuncBtf } from './func-btf.js';
import {
  attachIter,
  explainIterLoadError,
  type IterLink,
  iterLoadOptions,
  type IterLoadOptions,
  type IterOptions,
} from './attach-iter.js';
import { attachUsdt, type UsdtLink, type UsdtOptions } from './attach-usdt.js';
import { attachSocket, type SocketFilter, type SocketTarget } from './attach-socket.js';

const ENOSPC = 28;
const EAGAIN = 11;
const MAX_LOG = 1 << 30; // the kernel's UINT_MAX >> 2 cap, rounded

/** Options for Program.load. */
export interface ProgramLoadOptions {
  /** Program type by name: 'xdp', 'tracepoint', 'raw_tracepoint', 'tracing', 'socket_filter', 'sched_cls', ... */
  type: ProgTypeName;
  /**
   * Encoded instructions, or assembler items (`asm.*`) to assemble with `maps`. When items contain subprograms
   * (`asm.callLabel`, `asm.ldFunc` callbacks) and no `btf` is given, minimal BTF with func_info (static functions
   * named after their labels) is generated and loaded, as the verifier requires for callbacks.
   */
  instructions: Uint8Array | AsmInput;
  /** License; GPL-only helpers need a GPL-compatible one. Default 'GPL'. */
  license?: string;
  /** Up to 15 characters. */
  name?: string;
  /** expected_attach_type (e.g. 'trace_fentry', 'cgroup_inet_ingress', 'xdp'). */
  expectedAttachType?: AttachTypeName;
  /** BTF id of the attach target (fentry/fexit/tp_btf/lsm). */
  attachBtfId?: number;
  /** BTF object fd of the target when it is in a module (0 for vmlinux). */
  attachBtfObjFd?: number;
  /** Target program fd (freplace / fentry on a BPF program). */
  attachProgFd?: number;
  /** Maps to bind by name when `instructions` reference maps by name. */
  maps?: Record<string, BpfMap | { fd: number }>;
  /** Verifier log level: 0 (only on failure, the default), 1, 2 (every instruction), 4 (stats). */
  logLevel?: number;
  /** Initial log buffer size; grown on ENOSPC. Default 64 KiB. */
  logSize?: number;
  /** prog_flags mask (BPF_F_SLEEPABLE, BPF_F_XDP_HAS_FRAGS, ...). */
  flags?: number;
  /** BTF and func/line info (the object loader passes these). */
  btf?: {
    fd: number;
    funcInfo?: Uint8Array;
    funcInfoRecSize?: number;
    funcInfoCount?: number;
    lineInfo?: Uint8Array;
    lineInfoRecSize?: number;
    lineInfoCount?: number;
  };
  /** Network interface index for offloaded programs. */
  ifindex?: number;
  /** fd_array for BPF_PSEUDO_MAP_IDX references. */
  fdArray?: Uint32Array;
}

/** What BPF_PROG_TEST_RUN takes. */
export interface TestRunOptions {
  /** Packet (xdp, sched_cls, socket_filter, ...) or other input data. */
  data?: Uint8Array;
  /** Context in (e.g. struct xdp_md, __sk_buff, raw_tracepoint args). */
  ctx?: Uint8Array;
  /** Run count; durationNs is the average per run. Default 1. */
  repeat?: number;
  /** Run on this CPU (BPF_F_TEST_RUN_ON_CPU). */
  cpu?: number;
  /** Extra flags (e.g. xdp_live_frames = 2). */
  flags?: number;
  /** Size of the output data buffer (default: data length + 256). 0 for none. */
  dataOutSize?: number;
  /** Size of the output context buffer (default: ctx length). */
  ctxOutSize?: number;
  /** Live-frames batch size. */
  batchSize?: number;
}

/** BPF_PROG_TEST_RUN's result. */
export interface TestRunResult {
  /** The program's return value (r0), as an unsigned 32-bit number. */
  retval: number;
  /** Average time per run in nanoseconds, as the kernel reports it. */
  durationNs: number;
  /** Output data (packet after the program), when any. */
  dataOut?: Uint8Array;
  /** Output context. */
  ctxOut?: Uint8Array;
}

/** What BPF_OBJ_GET_INFO_BY_FD reports about a program. */
export interface ProgramInfo {
  type: string;
  typeId: number;
  id: number;
  name: string;
  /** Program tag (hex). */
  tag: string;
  xlatedLength: number;
  jitedLength: number;
  loadTimeNs: number;
  mapIds: number[];
  btfId: number;
  /** Cumulative run time; counted only while stats are enabled (Program.enableStats). */
  runTimeNs: number;
  runCount: number;
  recursionMisses: number;
  verifiedInstructions: number;
}

/**
 * A loaded BPF program.
 *
 * ```ts
 * using prog = Program.load({ type: 'xdp', instructions: [asm.mov64(R0, 2), asm.exit()] });
 * prog.testRun({ data: new Uint8Array(64) }).retval; // 2 (XDP_PASS)
 * ```
 */
export class Program {
  readonly #owned: OwnedFd;
  readonly type: ProgTypeName;
  readonly name: string;
  readonly expectedAttachType: AttachTypeName | undefined;
  readonly attachBtfId: number | undefined;
  /** The instructions as loaded. */
  readonly instructions: Uint8Array;
  /** The verifier log when loaded with logLevel > 0. */
  readonly verifierLog: string;
  readonly #testAttr = new Attr(80);

  private constructor(
    fd: number,
    type: ProgTypeName,
    name: string,
    insns: Uint8Array,
    expectedAttachType: AttachTypeName | undefined,
    attachBtfId: number | undefined,
    log: string,
  ) {
    this.#owned = new OwnedFd(fd, `program "${name || '(unnamed)'}" (${type})`);
    this.type = type;
    this.name = name;
    this.instructions = insns;
    this.expectedAttachType = expectedAttachType;
    this.attachBtfId = attachBtfId;
    this.verifierLog = log;
  }

  /** Loads a program (BPF_PROG_LOAD). A verifier rejection throws VerifierError with the full log. */
  static load(opts: ProgramLoadOptions): Program {
    if (!opts || typeof opts !== 'object') throw argError('Program.load needs an options object');
    const typeId = (PROG_TYPE as Record<string, number>)[opts.type];
    if (typeId === undefined)
      throw argError(`unknown program type "${String(opts.type)}" (known: ${Object.keys(PROG_TYPE).join(', ')})`);
    let attachType = 0;
    if (opts.expectedAttachType !== undefined) {
      const at = (ATTACH_TYPE as Record<string, number>)[opts.expectedAttachType];
      if (at === undefined) throw argError(`unknown attach type "${String(opts.expectedAttachType)}"`);
      attachType = at;
    }
    const name = opts.name ?? '';
    if (!/^[A-Za-z0-9_.]{0,15}$/.test(name))
      throw argError(`program name "${name}" must be at most 15 characters of [A-Za-z0-9_.]`);
    let insns: Uint8Array;
    if (opts.instructions instanceof Uint8Array) insns = opts.instructions;
    else if (Array.isArray(opts.instructions)) {
      const assembled = assembleProgram(opts.instructions as AsmInput, {
        maps: opts.maps as Record<string, { fd: number }> | undefined,
      });
      insns = assembled.bytes;
      // Callbacks need BTF func_info, which assembled code lacks: generate it (the kernel keeps its own reference).
      const gen = opts.btf ? undefined : loadGeneratedFuncBtf(insns, assembled.labels, name);
      if (gen) {
        try {
          return Program.load({ ...opts, instructions: insns, btf: gen.btf });
        } finally {
          gen.owned.close();
        }
      }
    } else throw argError('instructions must be a Uint8Array of encoded instructions or an array of asm items');
    if (insns.byteLength === 0 || insns.byteLength % 8 !== 0)
      throw argError(`instructions must be a non-empty multiple of 8 bytes, got ${insns.byteLength}`);
    const license = cString(opts.license ?? 'GPL');
    const what = `program "${name || '(unnamed)'}" (${opts.type})`;

    const a = new Attr(152);
    const fill = (logLevel: number, log: Uint8Array | undefined): void => {
      a.reset()
        .u32(0, typeId)
        .u32(4, insns.byteLength / 8)
        .ptr(8, insns)
        .ptr(16, license)
        .u32(24, log ? logLevel : 0)
        .u32(28, log ? log.byteLength : 0)
        .ptr(32, log)
        .u32(44, opts.flags ?? 0)
        .name(48, name)
        .u32(64, opts.ifindex ?? 0)
        .u32(68, attachType)
        .u32(108, opts.attachBtfId ?? 0)
        .u32(112, opts.attachProgFd ?? opts.attachBtfObjFd ?? 0);
      if (opts.btf) {
        a.u32(72, opts.btf.fd);
        if (opts.btf.funcInfo && opts.btf.funcInfoCount)
          a.u32(76, opts.btf.funcInfoRecSize ?? 8)
            .ptr(80, opts.btf.funcInfo)
            .u32(88, opts.btf.funcInfoCount);
        if (opts.btf.lineInfo && opts.btf.lineInfoCount)
          a.u32(92, opts.btf.lineInfoRecSize ?? 16)
            .ptr(96, opts.btf.lineInfo)
            .u32(104, opts.btf.lineInfoCount);
      }
      if (opts.fdArray) a.ptr(120, opts.fdArray);
    };

    const wantLog = (opts.logLevel ?? 0) > 0;
    let logSize = Math.max(opts.logSize ?? 64 * 1024, 1024);
    let log: Uint8Array | undefined = wantLog ? new Uint8Array(logSize) : undefined;
    fill(opts.logLevel ?? 1, log);
    let r = bpfRaw(BPF_CMD.prog_load, a.bytes);
    // The verifier returns EAGAIN when a signal interrupts it (profilers, timers): retry, as libbpf does.
    for (let tries = 0; r === -EAGAIN && tries < 5; tries++) r = bpfRaw(BPF_CMD.prog_load, a.bytes);
    // Rejected without a log (the fast path): load again with one so the error can explain itself.
    if (r < 0 && !log && r !== -1) {
      log = new Uint8Array(logSize);
      fill(1, log);
      r = bpfRaw(BPF_CMD.prog_load, a.bytes);
    }
    while (r === -ENOSPC && log && logSize < MAX_LOG) {
      logSize *= 4;
      log = new Uint8Array(logSize);
      fill(opts.logLevel || 1, log);
      r = bpfRaw(BPF_CMD.prog_load, a.bytes);
    }
    const text = log ? decodeLog(log) : '';
    if (r < 0) {
      if (text.trim()) {
        throw new VerifierError(
          -r,
          { syscall: 'bpf', command: commandName(BPF_CMD.prog_load), object: what },
          text,
          (i) => annotateInstruction(insns, i),
        );
      }
      throw new BpfError(-r, {
        syscall: 'bpf',
        command: commandName(BPF_CMD.prog_load),
        object: what,
        hint: loadHint(-r, opts),
      });
    }
    return new Program(r, opts.type, name, insns, opts.expectedAttachType, opts.attachBtfId, wantLog ? text : '');
  }

  /**
   * Loads a BTF-typed tracing program (fentry/fexit/fmod_ret/tp_btf/lsm) for a kernel target found
   * by name in vmlinux BTF; attach it with attachTracing().
   *
   * ```ts
   * using p = Program.loadTracing({ kind: 'fexit', target: 'do_sys_openat2', instructions });
   * using link = p.attachTracing();
   * ```
   */
  static loadTracing(opts: TracingLoadOptions): Program {
    const full = tracingLoadOptions(opts);
    try {
      return Program.load(full);
    } catch (e) {
      throw explainTracingLoadError(e, opts);
    }
  }

  /** Loads an iterator program for kernel iterator `target` (`task`, `bpf_map`, `tcp`, ...); attach it with attachIter(). */
  static loadIter(opts: IterLoadOptions): Program {
    const full = iterLoadOptions(opts);
    try {
      return Program.load(full);
    } catch (e) {
      throw explainIterLoadError(e, opts.target);
    }
  }

  /** Whether this kernel loads BPF trampoline programs (fentry/fexit/fmod_ret/lsm); probed once. */
  static supportsTrampolines(): boolean {
    return trampolineSupport((o) => Program.load(o));
  }

  /** Opens a program pinned on bpffs. */
  static fromPin(path: string): Program {
    preparePinPath(path);
    const p = cString(path);
    const fd = bpf(BPF_CMD.obj_get, new Attr(24).ptr(0, p).bytes, `pinned program ${path}`);
    return Program.#fromFd(fd);
  }

  /** Opens a program by kernel id. */
  static fromId(id: number): Program {
    const fd = bpf(BPF_CMD.prog_get_fd_by_id, new Attr(12).u32(0, id).bytes, `program id ${id}`);
    return Program.#fromFd(fd);
  }

  static #fromFd(fd: number): Program {
    let info: ProgramInfo;
    try {
      info = readProgramInfo(fd, `program fd ${fd}`);
    } catch (e) {
      new OwnedFd(fd, 'program').close();
      throw e;
    }
    return new Program(fd, info.type as ProgTypeName, info.name, new Uint8Array(0), undefined, undefined, '');
  }

  /**
   * Turns on run-time statistics (BPF_ENABLE_STATS) for all programs until the returned handle is
   * closed, so info().runTimeNs/runCount count.
   */
  static enableStats(): { close(): void; [Symbol.dispose](): void } {
    const fd = bpf(BPF_CMD.enable_stats, new Attr(8).u32(0, STATS_TYPE.run_time).bytes, 'run-time stats');
    const owned = new OwnedFd(fd, 'stats handle');
    return { close: () => owned.close(), [Symbol.dispose]: () => owned.close() };
  }

  /** The program fd (throws once closed). */
  get fd(): number {
    return this.#owned.fd;
  }

  get closed(): boolean {
    return this.#owned.closed;
  }

  /** Runs the program in the kernel on test input (BPF_PROG_TEST_RUN). */
  testRun(opts: TestRunOptions = {}): TestRunResult {
    const data = opts.data;
    const ctx = opts.ctx;
    if (data !== undefined && !(data instanceof Uint8Array)) throw argError('testRun data must be a Uint8Array');
    if (ctx !== undefined && !(ctx instanceof Uint8Array)) throw argError('testRun ctx must be a Uint8Array');
    // raw_tracepoint, tracing and syscall test runs refuse repeat, duration and ctx_out (EINVAL).
    const oneShot = this.type === 'raw_tracepoint' || this.type === 'tracing' || this.type === 'syscall';
    const repeat = opts.repeat ?? (oneShot ? 0 : 1);
    if (!Number.isInteger(repeat) || repeat < 0 || repeat > 0xffffffff)
      throw argError(`repeat must be a non-negative 32-bit integer, got ${repeat}`);
    const dataOutSize = opts.dataOutSize ?? (data ? data.byteLength + 256 : 0);
    const dataOut = dataOutSize > 0 ? new Uint8Array(dataOutSize) : undefined;
    const ctxOutSize = opts.ctxOutSize ?? (ctx && !oneShot ? ctx.byteLength : 0);
    const ctxOut = ctxOutSize > 0 ? new Uint8Array(ctxOutSize) : undefined;
    let flags = opts.flags ?? 0;
    if (opts.cpu !== undefined) flags |= 1;
    const a = this.#testAttr;
    a.reset()
      .u32(0, this.fd)
      .u32(8, data?.byteLength ?? 0)
      .u32(12, dataOut?.byteLength ?? 0)
      .ptr(16, data)
      .ptr(24, dataOut)
      .u32(32, repeat)
      .u32(40, ctx?.byteLength ?? 0)
      .u32(44, ctxOut?.byteLength ?? 0)
      .ptr(48, ctx)
      .ptr(56, ctxOut)
      .u32(64, flags)
      .u32(68, opts.cpu ?? 0)
      .u32(72, opts.batchSize ?? 0);
    const r = bpfRaw(BPF_CMD.prog_test_run, a.bytes);
    if (r < 0) {
      // Kernels before 5.18 refuse the live-frames flag with the EINVAL of any bad argument: tell
      // the two apart with a minimal live run, so a missing feature is a NotSupportedError.
      if (
        r === -EINVAL &&
        (flags & TEST_RUN_FLAG.xdp_live_frames) !== 0 &&
        this.type === 'xdp' &&
        !xdpLiveFramesWork()
      ) {
        throw new NotSupportedError(
          'XDP live frames (BPF_F_TEST_XDP_LIVE_FRAMES)',
          `program "${this.name}": this kernel test-runs XDP programs without live frames (Linux 5.18+); drop flags: xdp_live_frames to run on a copied frame instead`,
        );
      }
      bpfFail(
        BPF_CMD.prog_test_run,
        r,
        `program "${this.name}" (${this.type})`,
        this.type === 'tracepoint' || this.type === 'kprobe' || this.type === 'perf_event'
          ? `${this.type} programs cannot be test-run; attach them instead`
          : undefined,
      );
    }
    const res: TestRunResult = { retval: a.getU32(4), durationNs: a.getU32(36) };
    if (dataOut) res.dataOut = dataOut.subarray(0, a.getU32(12));
    if (ctxOut) res.ctxOut = ctxOut.subarray(0, a.getU32(44));
    return res;
  }

  /** Kernel metadata, including run time and count while stats are enabled. */
  info(): ProgramInfo {
    return readProgramInfo(this.fd, `program "${this.name}"`);
  }

  /** The instructions as the kernel rewrote them (xlated), for `tsbpf prog dump`. */
  xlated(): Uint8Array {
    const len = this.info().xlatedLength;
    const out = new Uint8Array(Math.max(len, 8));
    // bpf_prog_info with only xlated_prog_len (20) and xlated_prog_insns (32) set.
    const info = new Attr(232).u32(20, out.byteLength).ptr(32, out);
    const a = new Attr(16).u32(0, this.fd).u32(4, info.bytes.byteLength).ptr(8, info.bytes);
    bpf(BPF_CMD.obj_get_info_by_fd, a.bytes, `program "${this.name}"`);
    return out.subarray(0, Math.min(info.getU32(20), len));
  }

  /** Pins the program at `path` on bpffs. */
  pin(path: string): void {
    preparePinPath(path);
    const p = cString(path);
    bpf(BPF_CMD.obj_pin, new Attr(24).ptr(0, p).u32(8, this.fd).bytes, `program "${this.name}" → ${path}`);
  }

  /** Attaches a `tracepoint` program to `category:name` (e.g. `'sched', 'sched_process_exec'`). */
  attachTracepoint(category: string, name: string, opts?: { cookie?: bigint }): Link {
    return attachTracepoint(this, category, name, opts);
  }

  /** Attaches a `raw_tracepoint` program to a kernel tracepoint by name (e.g. `'sys_enter'`). */
  attachRawTracepoint(name: string, opts?: { cookie?: bigint }): Link {
    return attachRawTracepoint(this, name, opts);
  }

  /** Attaches a fentry/fexit/fmod_ret/tp_btf/lsm program to the target chosen at load (Program.loadTracing). */
  attachTracing(opts?: { cookie?: bigint }): Link {
    return attachTracing(this, opts);
  }

  /** Attaches a `kprobe` program as a uprobe/uretprobe on `binary` at `symbol` or `offset`, optionally for one pid. */
  attachUprobe(opts: UprobeOptions): Link {
    return attachUprobe(this, opts);
  }

  /**
   * Attaches a `kprobe` program written with libbpf's `<bpf/usdt.bpf.h>` (BPF_USDT, bpf_usdt_arg) to every site of
   * USDT `provider:name` in `binary`, filling the program's `__bpf_usdt_specs` map with each site's argument specs.
   */
  attachUsdt(opts: UsdtOptions): UsdtLink {
    return attachUsdt(this, opts);
  }

  /**
   * Links an iterator program (`iter/task`, loaded with Program.loadIter or from an object); `link.read()` runs
   * it and returns what it printed. `opts` narrows it to one map, task or cgroup.
   */
  attachIter(opts?: IterOptions): IterLink {
    return attachIter(this, opts);
  }

  /** Attaches a `socket_filter` program to a socket (fd, or a Node net/dgram socket); close() the result to detach. */
  attachSocket(socket: SocketTarget): SocketFilter {
    return attachSocket(this, socket);
  }

  /** Attaches a `kprobe` program to a kernel function; on kernels without kprobes this throws NotSupportedError. */
  attachKprobe(fn: string, opts?: KprobeOptions): Link {
    return attachKprobe(this, fn, opts);
  }

  /** Attaches a `perf_event` program to a sampling event on every CPU (default: cpu-clock at 99 Hz). */
  attachPerfEvent(opts?: PerfEventOptions): Link {
    return attachPerfEvent(this, opts);
  }

  /** Attaches an `xdp` program to an interface by name or index (`mode`: 'skb' | 'native' | 'offload'). */
  attachXdp(iface: Interface, opts?: { mode?: XdpMode }): Link {
    return attachXdp(this, iface, opts);
  }

  /** Attaches a `sched_cls` program to an interface's TCX ingress or egress hook (kernel 6.6+). */
  attachTcx(iface: Interface, direction: 'ingress' | 'egress'): Link {
    return attachTcx(this, iface, direction);
  }

  /** Attaches a cgroup program to a cgroup v2 (absolute path or relative to the cgroup2 mount). */
  attachCgroup(path: string, attachType: CgroupAttachType): Link {
    return attachCgroup(this, path, attachType);
  }

  /** Unloads the program (once nothing else holds it). Safe twice. */
  close(): void {
    this.#owned.close();
  }

  [Symbol.dispose](): void {
    this.close();
  }
}

function decodeLog(log: Uint8Array): string {
  const nul = log.indexOf(0);
  return Buffer.from(log.buffer, log.byteOffset, nul < 0 ? log.byteLength : nul).toString('utf8');
}

function loadHint(errno: number, opts: ProgramLoadOptions): string | undefined {
  if (errno === 1 || errno === 13) return undefined; // the privilege hint comes from BpfError
  if (errno === 22 && (opts.type === 'tracing' || opts.type === 'lsm') && !opts.attachBtfId)
    return `${opts.type} programs need attachBtfId (the target function's BTF id) and expectedAttachType`;
  if (errno === 22) return 'the kernel rejected the load attributes (program type, attach type or flags)';
  return undefined;
}

function readProgramInfo(fd: number, what: string): ProgramInfo {
  const info = new Uint8Array(232);
  const a = new Attr(16).u32(0, fd).u32(4, info.byteLength).ptr(8, info);
  // First pass learns nr_map_ids; second fetches them.
  bpf(BPF_CMD.obj_get_info_by_fd, a.bytes, what);
  const v = new DataView(info.buffer);
  const nMaps = v.getUint32(52, true);
  let mapIds: number[] = [];
  if (nMaps > 0) {
    const ids = new Uint32Array(nMaps);
    const again = new Attr(232).u32(52, nMaps).ptr(56, ids);
    bpf(BPF_CMD.obj_get_info_by_fd, new Attr(16).u32(0, fd).u32(4, 232).ptr(8, again.bytes).bytes, what);
    mapIds = [...ids];
  }
  const u64 = (o: number) => v.getUint32(o, true) + v.getUint32(o + 4, true) * 0x100000000;
  const nameBytes = info.subarray(64, 80);
  const nul = nameBytes.indexOf(0);
  const typeId = v.getUint32(0, true);
  return {
    typeId,
    type: nameOf(PROG_TYPE, typeId),
    id: v.getUint32(4, true),
    tag: Buffer.from(info.subarray(8, 16)).toString('hex'),
    jitedLength: v.getUint32(16, true),
    xlatedLength: v.getUint32(20, true),
    loadTimeNs: u64(40),
    mapIds,
    name: Buffer.from(nameBytes.subarray(0, nul < 0 ? 16 : nul)).toString('utf8'),
    btfId: v.getUint32(128, true),
    runTimeNs: u64(192),
    runCount: u64(200),
    recursionMisses: u64(208),
    verifiedInstructions: v.getUint32(216, true),
  };
}

const EINVAL = constants.errno.EINVAL;
let liveFramesWork: boolean | undefined;

/**
 * Whether this kernel test-runs XDP programs with live frames (Linux 5.18+): a one-frame live run
 * of `return XDP_DROP` (nothing reaches the stack). Cached; only asked after a live run failed with
 * EINVAL, to tell a missing feature from a bad argument.
 */
function xdpLiveFramesWork(): boolean {
  if (liveFramesWork !== undefined) return liveFramesWork;
  try {
    using p = Program.load({ type: 'xdp', name: 'probe_live', instructions: [asm.mov64(R0, XDP.drop), asm.exit()] });
    const frame = new Uint8Array(64);
    frame[12] = 0x08; // an IPv4 ethertype: a well-formed Ethernet frame
    const a = new Attr(80)
      .u32(0, p.fd)
      .u32(8, frame.byteLength)
      .ptr(16, frame)
      .u32(32, 1)
      .u32(64, TEST_RUN_FLAG.xdp_live_frames);
    liveFramesWork = bpfRaw(BPF_CMD.prog_test_run, a.bytes) >= 0;
  } catch {
    liveFramesWork = false;
  }
  return liveFramesWork;
}
