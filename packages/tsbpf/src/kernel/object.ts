/**
 * BpfObject: load clang-compiled, libbpf-style BPF objects (`clang -O2 -g -target bpf -c x.bpf.c`) into the kernel.
 *
 * Parsing and linking live in the pure layer (`ObjectSpec`): an object is first a spec (maps, programs, variables,
 * externs, relocation records), then a BpfObject loads it: `.kconfig` and other externs are resolved for the
 * running kernel, maps are created (pinned by name under pinRoot), the object BTF is loaded, map fds patched,
 * CO-RE resolved against the kernel's BTF (or a given one) and programs loaded with func/line info, so verifier
 * errors point at C source lines. Programs attach by their section name.
 *
 * ```ts
 * using obj = BpfObject.open('execsnoop.bpf.o');      // parse (ObjectSpec.parse) + wrap
 * obj.rodata!.set('target_tgid', process.pid);
 * obj.load();
 * obj.attach();
 *
 * const spec = ObjectSpec.parse(readFileSync('execsnoop.bpf.o'));
 * using a = BpfObject.load(spec);                      // the spec stays reusable:
 * spec.maps.events!.maxEntries *= 4;
 * using b = BpfObject.load(spec);
 * ```
 */
import { existsSync, readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { release } from 'node:os';
import { basename, join } from 'node:path';
import { ElfError } from '../pure/elf.js';
import { Btf, BtfError } from '../pure/btf.js';
import type { BtfExt } from '../pure/btf-ext.js';
import { btfLayout } from '../pure/btf-layout.js';
import type { Layout } from '../pure/layout.js';
import { CoreReloError, type CoreReloResult } from '../pure/core-relo.js';
import { SectionNameError, type SectionInfo } from '../pure/section-names.js';
import { MAP_FLAG, MAP_TYPE, PROG_FLAG } from '../pure/uapi.js';
import { INSN_SIZE, PSEUDO } from '../pure/insn.js';
import { MAP_PIN, resolveMapShape, isSlotRef, type MapSpec } from '../pure/map-spec.js';
import { BpfObjectError, GlobalData, type GlobalVariable } from '../pure/global-data.js';
import {
  ObjectSpec,
  coreInstructions,
  dataBytes,
  resolveProgramCore,
  type CoreRecord,
  type ExternSpec,
  type LineInfoRecord,
  type ProgramSpec,
} from '../pure/object-spec.js';
import { BpfError, VerifierError } from './errors.js';
import { ArrayMap, BpfMap, updateMapBytes } from './map.js';
import { Program } from './program.js';
import { AttachError, type Link } from './link.js';
import { loadObjectBtf } from './btf-load.js';
import {
  explainTracingLoadError,
  tracingTargetBtfId,
  vmlinuxBtf,
  type TracingKind,
  type TracingLoadOptions,
} from './attach-tracing.js';
import { KsymResolver, type KsymResolution } from './ksyms.js';
import { patchKfuncCall, patchKsymLoad } from '../pure/ksym-patch.js';
import { iterTargetBtfId, type IterOptions } from './attach-iter.js';
import { possibleCpus } from './cpus.js';
import { argError, type OwnedFd } from './syscall.js';
import type { Interface, XdpMode } from './attach-net.js';

export { BpfObjectError, GlobalData };
export type { GlobalVariable, MapSpec };

/** Options for BpfObject.open / BpfObject.load. */
export interface BpfObjectOptions {
  /** Target BTF for CO-RE: a path or raw bytes (default /sys/kernel/btf/vmlinux). Records already resolved in the spec are kept. */
  btf?: string | Uint8Array;
  /** Directory for maps declared with `__uint(pinning, LIBBPF_PIN_BY_NAME)` (default /sys/fs/bpf). */
  pinRoot?: string;
  /** Object name (prefix of global data map names; default: the file name without `.bpf.o`, or the spec's name). */
  name?: string;
  /** Verifier log level passed to every program load (default 0: a log only on failure). */
  logLevel?: number;
  /** Values for `.kconfig` externs, overriding the running kernel's config (`{ CONFIG_HZ: 250 }`). */
  kconfig?: Record<string, number | bigint | boolean | string>;
}

/** Options for attaching a program whose section does not name everything (xdp, tc, cgroup, uprobe pid). */
export interface ProgramAttachOptions {
  /** Network interface for xdp / tc / tcx programs. */
  interface?: Interface;
  /** XDP mode. */
  xdpMode?: XdpMode;
  /** Direction for a plain `tc`/`classifier` section (tcx). Default ingress. */
  direction?: 'ingress' | 'egress';
  /** Cgroup path for cgroup programs. */
  cgroup?: string;
  /** Uprobe: only this process. */
  pid?: number;
  /** bpf_get_attach_cookie value (usdt: the bpf_usdt_cookie value). */
  cookie?: bigint;
  /** Iterator programs: narrow to one map, task or cgroup. */
  iter?: IterOptions;
}

// Set by ObjectProgram's static block: a BpfObject makes one per program spec; users cannot.
let newObjectProgram: (object: BpfObject, spec: ProgramSpec) => ObjectProgram;

/** A program of the object: its spec, and the loaded Program after load(). */
export class ObjectProgram {
  /** The program's spec (instructions, relocation records); edits before load() are honoured. */
  readonly spec: ProgramSpec;
  /** CO-RE results after load (for inspection). */
  coreResults: CoreReloResult[] = [];
  #program: Program | undefined;
  readonly #object: BpfObject;

  static {
    newObjectProgram = (object, spec) => new ObjectProgram(object, spec);
  }

  private constructor(object: BpfObject, spec: ProgramSpec) {
    this.#object = object;
    this.spec = spec;
  }

  get name(): string {
    return this.spec.name;
  }
  get section(): string {
    return this.spec.section;
  }
  get info(): SectionInfo {
    return this.spec.info;
  }
  /** Load it with the object (set false before load() to skip, like bpf_program__set_autoload). */
  get autoload(): boolean {
    return this.spec.autoload;
  }
  set autoload(v: boolean) {
    this.spec.autoload = v;
  }
  /** Linked instructions (main function + appended subprograms) before map fds and CO-RE. */
  get instructions(): Uint8Array {
    return this.spec.instructions;
  }
  /** Names of the functions linked in, in order (main first). */
  get functions(): readonly string[] {
    return this.spec.functions;
  }
  /** func_info records at linked positions. */
  get funcInfo(): { insn: number; typeId: number }[] | undefined {
    return this.spec.funcInfo;
  }
  /** line_info records at linked positions. */
  get lineInfo(): LineInfoRecord[] | undefined {
    return this.spec.lineInfo;
  }
  /** CO-RE records at linked positions (`result` set once resolved). */
  get coreRelos(): CoreRecord[] {
    return this.spec.core;
  }

  /** The loaded Program (throws before load() or when autoload was off). */
  get program(): Program {
    if (!this.#program)
      throw new TypeError(
        `tsbpf: program "${this.name}" is not loaded${this.autoload ? ' (call load() first)' : ' (autoload is off)'}`,
      );
    return this.#program;
  }

  get loaded(): boolean {
    return this.#program !== undefined && !this.#program.closed;
  }

  /** @internal */
  setProgram(p: Program | undefined): void {
    this.#program = p;
  }

  get fd(): number {
    return this.program.fd;
  }

  /** The C source line of a final instruction index, from line_info. */
  sourceLine(insn: number): { file: string; line: number; column: number; text: string } | undefined {
    return sourceLineOf(this.spec, insn);
  }

  /**
   * Attaches as the section name says (`tp/sched/sched_process_exec`, `raw_tp/sys_enter`, `fentry/fn`,
   * `uprobe/bin:fn`, `perf_event`); xdp/tc/cgroup programs need `opts.interface` / `opts.cgroup`. The link is
   * also owned by the object (closed by close()).
   */
  attach(opts: ProgramAttachOptions = {}): Link {
    const link = this.#attach(opts);
    this.#object.adoptLink(link);
    return link;
  }

  /** Whether attach() works without options. */
  get autoAttachable(): boolean {
    const k = this.info.target.kind;
    return (
      k === 'tracepoint' ||
      k === 'raw_tracepoint' ||
      k === 'tracing' ||
      k === 'kprobe' ||
      k === 'ksyscall' ||
      k === 'uprobe' ||
      k === 'usdt' ||
      k === 'perf_event' ||
      k === 'invalid'
    );
  }

  /** Same as attach() with no options; throws when the section names no target. */
  attachAuto(): Link {
    return this.attach();
  }

  #attach(opts: ProgramAttachOptions): Link {
    const p = this.program;
    const tgt = this.info.target;
    const where = `program "${this.name}" (SEC("${this.section}"))`;
    switch (tgt.kind) {
      case 'tracepoint':
        return p.attachTracepoint(tgt.category, tgt.name, { cookie: opts.cookie });
      case 'raw_tracepoint':
        return p.attachRawTracepoint(tgt.name, { cookie: opts.cookie });
      case 'tracing':
        if (tgt.tracing === 'iter') return p.attachIter(opts.iter);
        if (tgt.tracing === 'freplace')
          throw new BpfObjectError(
            `${where}: freplace programs are not attached automatically; load the replacement with its target program and attach it yourself`,
          );
        return p.attachTracing({ cookie: opts.cookie });
      case 'kprobe':
        return p.attachKprobe(tgt.function, {
          offset: tgt.offset || undefined,
          retprobe: tgt.retprobe,
          cookie: opts.cookie,
        });
      case 'ksyscall':
        return p.attachKprobe(`__x64_sys_${tgt.syscall}`, { retprobe: tgt.retprobe, cookie: opts.cookie });
      case 'uprobe':
        return p.attachUprobe({
          binary: tgt.binary,
          symbol: tgt.symbol,
          offset: tgt.offset || undefined,
          retprobe: tgt.retprobe,
          pid: opts.pid,
          cookie: opts.cookie,
        });
      case 'usdt':
        return p.attachUsdt({
          binary: tgt.binary,
          provider: tgt.provider,
          name: tgt.name,
          pid: opts.pid,
          cookie: opts.cookie,
        });
      case 'perf_event':
        return p.attachPerfEvent();
      case 'invalid':
        throw new AttachError('ENOENT', where, tgt.reason);
      case 'xdp':
        if (opts.interface === undefined) throw argError(`${where} needs { interface } to attach`);
        return p.attachXdp(opts.interface, { mode: opts.xdpMode });
      case 'tc':
      case 'tcx':
        if (opts.interface === undefined) throw argError(`${where} needs { interface } to attach`);
        return p.attachTcx(opts.interface, tgt.kind === 'tcx' ? tgt.direction : (opts.direction ?? 'ingress'));
      case 'cgroup':
        if (opts.cgroup === undefined) throw argError(`${where} needs { cgroup } (a cgroup v2 path) to attach`);
        return p.attachCgroup(opts.cgroup, tgt.attachType);
      default:
        throw argError(
          `${where} names no attach target; attach its Program (obj.programs.${this.name}.program) by hand`,
        );
    }
  }

  /** BPF_PROG_TEST_RUN on the loaded program. */
  testRun(...args: Parameters<Program['testRun']>): ReturnType<Program['testRun']> {
    return this.program.testRun(...args);
  }
}

const NO_BTF_MAP_TYPES = new Set<string>([
  'perf_event_array',
  'cgroup_array',
  'stack_trace',
  'array_of_maps',
  'hash_of_maps',
  'devmap',
  'devmap_hash',
  'cpumap',
  'xskmap',
  'sockmap',
  'sockhash',
  'queue',
  'stack',
  'arena',
  'ringbuf',
  'user_ringbuf',
  'prog_array',
]);
const PSEUDO_MAP_FD = PSEUDO.map_fd;
const PSEUDO_MAP_VALUE = PSEUDO.map_value;
const FUNC_INFO_REC_SIZE = 8;
const LINE_INFO_REC_SIZE = 16;
const ERRNO_EINVAL = 22;
const DEFAULT_PIN_ROOT = '/sys/fs/bpf';
const INNER_NAME_PREFIX = 9;

/** The C source line of a linked instruction, from line_info. */
function sourceLineOf(
  p: ProgramSpec,
  insn: number,
): { file: string; line: number; column: number; text: string } | undefined {
  if (!p.lineInfo) return undefined;
  let best: LineInfoRecord | undefined;
  for (const l of p.lineInfo) {
    if (l.insn <= insn) best = l;
    else break;
  }
  return best
    ? { file: best.record.fileName, line: best.line, column: best.column, text: best.record.lineText.trim() }
    : undefined;
}

/** A clang-compiled BPF object: an ObjectSpec and, after load(), its maps and programs in the kernel. */
export class BpfObject {
  /** The spec this object loads (edits before load() are honoured; BpfObject.load(spec) works on a copy). */
  readonly spec: ObjectSpec;
  readonly name: string;
  /** Object BTF (DATASECs fixed up), if the object has `.BTF`. */
  readonly btf: Btf | undefined;
  readonly btfExt: BtfExt | undefined;
  readonly license: string;
  /** Map specs by name (the spec's maps), editable before load(). */
  readonly mapSpecs: Record<string, MapSpec>;
  /** Programs by function name. */
  readonly programs: Record<string, ObjectProgram>;
  readonly #options: BpfObjectOptions;
  readonly #data = new Map<string, GlobalData>();
  #maps: Record<string, BpfMap> | undefined;
  #mapList: BpfMap[] = [];
  #btfFd: OwnedFd | undefined;
  /** `__ksym` resolution of the load in progress (holds module BTF fds until the programs are loaded). */
  #ksyms: KsymResolver | undefined;
  #links: Link[] = [];
  #state: 'open' | 'loaded' | 'closed' = 'open';

  /** Wraps a spec (used in place, not copied). Nothing touches the kernel until load(). */
  constructor(spec: ObjectSpec, options: BpfObjectOptions = {}) {
    if (!(spec instanceof ObjectSpec)) throw argError('BpfObject expects an ObjectSpec (ObjectSpec.parse(bytes))');
    if (options === null || typeof options !== 'object') throw argError('BpfObject options must be an object');
    this.spec = spec;
    this.#options = options;
    if (options.name !== undefined) spec.name = options.name;
    this.name = spec.name;
    this.btf = spec.btf;
    this.btfExt = spec.btfExt;
    this.license = spec.license;
    this.mapSpecs = spec.maps;
    for (const [n, m] of Object.entries(spec.maps)) {
      if (m.origin !== 'data') continue;
      const gd = spec.data(n);
      if (gd) this.#data.set(n, gd);
    }
    const programs: Record<string, ObjectProgram> = Object.create(null);
    for (const [n, p] of Object.entries(spec.programs)) programs[n] = newObjectProgram(this, p);
    this.programs = programs;
  }

  /**
   * Parses an object file (path) or its bytes (ObjectSpec.parse). Throws ElfError/BtfError/BpfObjectError with a
   * clear message for malformed input; nothing touches the kernel until load().
   */
  static open(pathOrBuffer: string | Uint8Array, options: BpfObjectOptions = {}): BpfObject {
    if (options === null || typeof options !== 'object') throw argError('BpfObject.open options must be an object');
    let bytes: Uint8Array;
    let label: string;
    if (typeof pathOrBuffer === 'string') {
      bytes = readFileSync(pathOrBuffer);
      label = pathOrBuffer;
    } else if (pathOrBuffer instanceof Uint8Array) {
      bytes = pathOrBuffer;
      label = options.name ?? 'object';
    } else {
      throw argError('BpfObject.open expects a path or a Uint8Array');
    }
    const name =
      options.name ?? (typeof pathOrBuffer === 'string' ? basename(pathOrBuffer).replace(/(\.bpf)?\.o$/, '') : 'obj');
    let spec: ObjectSpec;
    try {
      spec = ObjectSpec.parse(bytes, { name });
    } catch (e) {
      // ObjectSpec.parse throws only tsbpf errors (anything unexpected arrives as BpfObjectError); name the file.
      if (
        e instanceof ElfError ||
        e instanceof BtfError ||
        e instanceof BpfObjectError ||
        e instanceof SectionNameError ||
        e instanceof CoreReloError
      ) {
        e.message = `${label}: ${e.message}`;
      }
      throw e;
    }
    return new BpfObject(spec, options);
  }

  /**
   * Loads a spec into the kernel: works on a copy, so the spec can be edited and loaded again. Equivalent to
   * `new BpfObject(spec.copy(), options).load()`.
   */
  static load(spec: ObjectSpec, options: BpfObjectOptions = {}): BpfObject {
    if (!(spec instanceof ObjectSpec)) throw argError('BpfObject.load expects an ObjectSpec (ObjectSpec.parse(bytes))');
    return new BpfObject(spec.copy(), options).load();
  }

  /** Global data section by name (`.rodata`, `.data`, `.bss`, `.data.custom`, `.kconfig`). */
  data(section: string): GlobalData | undefined {
    return this.#data.get(section);
  }
  /** `.rodata` variables: set before load(). */
  get rodata(): GlobalData | undefined {
    return this.#data.get('.rodata');
  }
  /** `.data` variables: read and write after load() too. */
  get dataSection(): GlobalData | undefined {
    return this.#data.get('.data');
  }
  /** `.bss` variables: read and write after load() too. */
  get bss(): GlobalData | undefined {
    return this.#data.get('.bss');
  }
  /** `.kconfig` externs (values resolved for the running kernel at load; zero before). */
  get kconfig(): GlobalData | undefined {
    return this.#data.get('.kconfig');
  }

  /** Maps by name after load(): BTF `.maps` names, legacy map names, and `.rodata`/`.data`/`.bss`. */
  get maps(): Record<string, BpfMap> {
    this.#check();
    if (!this.#maps) throw new TypeError('tsbpf: maps exist after load(); before it, edit mapSpecs');
    return this.#maps;
  }

  /** A program by name; throws listing the names when absent. */
  program(name: string): ObjectProgram {
    const p = this.programs[name];
    if (!p)
      throw new RangeError(
        `tsbpf: no program "${name}" in ${this.name} (programs: ${Object.keys(this.programs).join(', ') || 'none'})`,
      );
    return p;
  }

  /** A loaded map by name; throws listing the names when absent. */
  map(name: string): BpfMap {
    const m = this.maps[name];
    if (!m)
      throw new RangeError(
        `tsbpf: no map "${name}" in ${this.name} (maps: ${Object.keys(this.maps).join(', ') || 'none'})`,
      );
    return m;
  }

  get loaded(): boolean {
    return this.#state === 'loaded';
  }

  #check(): void {
    if (this.#state === 'closed') throw new TypeError(`tsbpf: BPF object ${this.name} is closed`);
  }

  // ---- load --------------------------------------------------------------------------------------------

  /**
   * Resolves externs, creates maps, loads BTF and every program with autoload on. On failure everything created
   * so far is closed and the error (VerifierError with the C source line, BpfError, BtfLoadError, CoreReloError)
   * is thrown.
   */
  load(): this {
    this.#check();
    if (this.#state === 'loaded') throw new TypeError(`tsbpf: BPF object ${this.name} is already loaded`);
    try {
      this.#load();
    } catch (e) {
      this.#release();
      throw e;
    }
    this.#state = 'loaded';
    return this;
  }

  #load(): void {
    const spec = this.spec;
    this.#ksyms = new KsymResolver();
    const externs = resolveExterns(spec, this.#options, this.#ksyms);
    const btf = spec.btf;
    if (btf) this.#btfFd = loadObjectBtf(btf, `BTF of ${this.name}`);
    const btfFd = this.#btfFd?.fd;

    // Maps.
    const maps: Record<string, BpfMap> = Object.create(null);
    for (const [name, m] of Object.entries(spec.maps)) {
      const map = this.#createMap(m, name, btfFd);
      this.#mapList.push(map);
      maps[name] = map;
    }
    this.#maps = maps;
    // Initial contents: global data (then freeze .rodata and map the memory for TypeScript), raw entries.
    for (const [name, m] of Object.entries(spec.maps)) {
      const map = maps[name]!;
      if (m.origin === 'data') {
        const gd = this.#data.get(name)!;
        updateMapBytes(map, 0, dataBytes(m));
        const ro = gd.readOnly;
        if (ro) map.freeze();
        gd.bind(ArrayMap.from(map).mmap({ writable: !ro }), ro);
        continue;
      }
      for (const e of m.contents ?? []) if (!isSlotRef(e.value)) updateMapBytes(map, e.key, e.value);
    }

    // Programs.
    let target: Btf | undefined;
    const coreTarget = (): Btf => {
      if (target) return target;
      const o = this.#options.btf;
      if (o === undefined) target = vmlinuxBtf();
      else target = Btf.parse(typeof o === 'string' ? readFileSync(o) : o);
      return target;
    };
    for (const p of Object.values(this.programs)) {
      const ps = p.spec;
      if (!ps.autoload) continue;
      if (ps.core.some((c) => !c.result))
        resolveProgramCore(spec, { ...ps, core: ps.core.filter((c) => !c.result) }, coreTarget());
      const { instructions, results } = coreInstructions(ps);
      p.coreResults = results;
      applyRelocations(ps, instructions, maps, externs);
      p.setProgram(this.#loadProgram(p, instructions, btfFd));
    }
    this.#ksyms.close();

    // Static map-in-map / prog_array slots.
    for (const [name, m] of Object.entries(spec.maps)) {
      for (const e of m.contents ?? []) {
        if (!isSlotRef(e.value)) continue;
        let fd: number;
        if ('map' in e.value) {
          const inner = maps[e.value.map];
          if (!inner)
            throw new BpfObjectError(
              `map '${name}' slot ${String(e.key)} refers to map '${e.value.map}', which does not exist`,
            );
          fd = inner.fd;
        } else {
          const prog = this.programs[e.value.program];
          if (!prog)
            throw new BpfObjectError(
              `map '${name}' slot ${String(e.key)} refers to '${e.value.program}', which is not a program`,
            );
          if (!prog.loaded) continue;
          fd = prog.fd;
        }
        updateMapBytes(maps[name]!, e.key, new Uint8Array(new Uint32Array([fd]).buffer));
      }
    }
  }

  #createMap(spec: MapSpec, name: string, btfFd: number | undefined): BpfMap {
    if ((MAP_TYPE as Record<string, number>)[spec.type] === undefined)
      throw new BpfObjectError(`map '${name}': unknown map type ${spec.type}`);
    const pinPath = spec.pinning === MAP_PIN.byName ? join(this.#options.pinRoot ?? DEFAULT_PIN_ROOT, name) : undefined;
    for (const what of ['key', 'value'] as const) {
      const l = spec[what];
      const size = spec[`${what}Size`];
      if (l && size && l.size !== size)
        throw new BpfObjectError(
          `map '${name}': the ${what} layout is ${l.size} bytes but the object's ${what} is ${size}`,
        );
    }
    const codecs = this.#codecs(spec);
    const shape = resolveMapShape(spec, { possibleCpus: possibleCpus() });
    const flags = spec.flags ?? 0;
    if (pinPath && existsSync(pinPath)) {
      const m = BpfMap.fromPin(pinPath, codecs);
      const info = m.info();
      if (
        info.type !== spec.type ||
        info.keySize !== shape.keySize ||
        info.valueSize !== shape.valueSize ||
        info.maxEntries !== shape.maxEntries ||
        (info.flags & ~MAP_FLAG.inner_map) !== (flags & ~MAP_FLAG.inner_map)
      ) {
        m.close();
        throw new BpfObjectError(
          `map '${name}': the map pinned at ${pinPath} (${info.type}, key ${info.keySize}, value ${info.valueSize}, ${info.maxEntries} entries, flags 0x${info.flags.toString(16)}) does not match the object's definition`,
        );
      }
      return m;
    }
    // Key/value: a BTF-derived layout when it matches the size, else the raw size (0: none).
    const innerSpec = spec.innerMap && {
      ...spec.innerMap,
      pinning: MAP_PIN.none,
      name: kernelMapName(this.name, `${name.slice(0, INNER_NAME_PREFIX)}.inner`, spec.innerMap),
    };
    if (innerSpec && NO_BTF_MAP_TYPES.has(innerSpec.type)) {
      delete innerSpec.keyTypeId;
      delete innerSpec.valueTypeId;
    }
    const create: MapSpec<any, any> = {
      ...spec,
      maxEntries: shape.maxEntries,
      flags,
      name: kernelMapName(this.name, name, spec),
      innerMap: innerSpec,
      key: codecs?.key,
      value: codecs?.value,
      keySize: shape.keySize,
      valueSize: shape.valueSize,
    };
    {
      const withBtf =
        btfFd !== undefined &&
        !NO_BTF_MAP_TYPES.has(spec.type) &&
        spec.valueTypeId !== undefined &&
        (spec.keyTypeId !== undefined || spec.origin === 'data');
      let m: BpfMap;
      if (withBtf) {
        try {
          m = BpfMap.create(create, { btfFd });
        } catch (e) {
          // libbpf retries without BTF when the kernel refuses the map's BTF description.
          if (!(e instanceof BpfError) || e.errno !== ERRNO_EINVAL) throw e;
          m = BpfMap.create(create);
        }
      } else {
        m = BpfMap.create(create);
      }
      if (pinPath) {
        try {
          m.pin(pinPath);
        } catch (e) {
          m.close();
          throw e;
        }
      }
      return m;
    }
  }

  #codecs(spec: MapSpec): { key?: Layout<any>; value?: Layout<any> } | undefined {
    if (spec.key || spec.value)
      return { key: spec.key as Layout<any> | undefined, value: spec.value as Layout<any> | undefined };
    const btf = this.btf;
    if (!btf || spec.origin === 'data') return undefined;
    const out: { key?: Layout<any>; value?: Layout<any> } = {};
    const tryLayout = (id: number | undefined, size: number | undefined): Layout<any> | undefined => {
      if (id === undefined) return undefined;
      try {
        const l = btfLayout(btf, id, { u64: 'bigint' });
        return l.size === size ? l : undefined;
      } catch {
        return undefined;
      }
    };
    if (!NO_BTF_MAP_TYPES.has(spec.type)) {
      out.key = tryLayout(spec.keyTypeId, spec.keySize);
      out.value = tryLayout(spec.valueTypeId, spec.valueSize);
    }
    return out.key || out.value ? out : undefined;
  }

  #loadProgram(p: ObjectProgram, insns: Uint8Array, btfFd: number | undefined): Program {
    const info = p.info;
    let attachBtfId: number | undefined;
    const tg = info.target;
    if (tg.kind === 'tracing' && tg.tracing !== 'iter' && tg.tracing !== 'freplace')
      attachBtfId = tracingTargetBtfId(tg.tracing as TracingKind, tg.target);
    if (tg.kind === 'tracing' && tg.tracing === 'iter') attachBtfId = iterTargetBtfId(tg.target);
    let flags = 0;
    if (info.sleepable) flags |= PROG_FLAG.sleepable;
    if (info.xdpFrags) flags |= PROG_FLAG.xdp_has_frags;
    const fi = p.spec.funcInfo;
    const li = p.spec.lineInfo;
    const btfOpt =
      btfFd !== undefined && fi
        ? {
            fd: btfFd,
            funcInfo: encodeFuncInfo(fi),
            funcInfoRecSize: FUNC_INFO_REC_SIZE,
            funcInfoCount: fi.length,
            lineInfo: li?.length ? encodeLineInfo(li) : undefined,
            lineInfoRecSize: LINE_INFO_REC_SIZE,
            lineInfoCount: li?.length ?? 0,
          }
        : undefined;
    try {
      return Program.load({
        type: info.programType,
        instructions: insns,
        license: p.spec.license || 'GPL',
        name: p.name.slice(0, 15).replace(/[^A-Za-z0-9_.]/g, '_'),
        expectedAttachType: info.expectedAttachType,
        attachBtfId,
        flags,
        btf: btfOpt,
        logLevel: this.#options.logLevel,
        fdArray: this.#ksyms?.fdArray,
      });
    } catch (err) {
      // A kernel that refuses trampolines (fentry/fexit/lsm): the same explanation Program.loadTracing gives.
      const e =
        tg.kind === 'tracing'
          ? explainTracingLoadError(err, { kind: tg.tracing, target: tg.target } as TracingLoadOptions)
          : err;
      if (e instanceof VerifierError && e.instruction !== undefined) {
        const src = p.sourceLine(e.instruction);
        if (src) {
          e.source = src;
          e.message = `program '${p.name}' (SEC("${p.section}")) rejected at ${src.file}:${src.line}:${src.column}: ${src.text}\n${e.message}`;
        }
      } else if (e instanceof Error) {
        e.message = `program '${p.name}' (SEC("${p.section}")): ${e.message}`;
      }
      throw e;
    }
  }

  // ---- attach / close ----------------------------------------------------------------------------------

  /**
   * Attaches every loaded program whose section names its target (tracepoints, raw tracepoints, fentry/fexit,
   * tp_btf, lsm, uprobes with a binary, kprobes, perf_event); xdp/tc/cgroup/socket programs are left for
   * `obj.programs.x.attach({ interface })`. Returns the new links (also closed by close()).
   */
  attach(): Link[] {
    this.#check();
    if (this.#state !== 'loaded') throw new TypeError('tsbpf: load() the object before attach()');
    const out: Link[] = [];
    for (const p of Object.values(this.programs)) {
      if (!p.loaded || !p.autoAttachable) continue;
      out.push(p.attach());
    }
    return out;
  }

  /** @internal */
  adoptLink(link: Link): void {
    this.#links.push(link);
  }

  #release(): void {
    for (const l of this.#links.splice(0)) {
      try {
        l.close();
      } catch {
        /* already gone */
      }
    }
    for (const p of Object.values(this.programs)) {
      try {
        if (p.loaded) p.program.close();
      } catch {
        /* closed */
      }
      p.setProgram(undefined);
    }
    for (const m of this.#mapList.splice(0)) m.close();
    this.#maps = undefined;
    this.#btfFd?.close();
    this.#btfFd = undefined;
    this.#ksyms?.close();
    for (const gd of this.#data.values()) gd.bind(undefined, false);
  }

  /** Detaches every link made through the object, unloads programs, closes maps and BTF. Safe twice. */
  close(): void {
    if (this.#state === 'closed') return;
    // Keep the data readable as bytes? No: mmaps die with the maps; reads after close throw.
    this.#release();
    this.#state = 'closed';
  }

  [Symbol.dispose](): void {
    this.close();
  }
}

// ---- externs and relocations ------------------------------------------------------------------------

/** Where an extern resolved to (`.kconfig` slots; `__ksym` variables and kfuncs through kernel/ksyms.ts). */
export type ResolvedExtern =
  /** An address inside a data map (`.kconfig` slot): ld_imm64 becomes BPF_PSEUDO_MAP_VALUE. */
  | { kind: 'data'; map: string; offset: number }
  /** A `__ksym` variable or kfunc (kernel/ksyms.ts); `index` numbers poisoned weak kfunc calls. */
  | { kind: 'ksym'; res: KsymResolution; index: number };

/**
 * Resolves every extern of a spec for the running kernel — the one place externs are resolved. `.kconfig`
 * values (options.kconfig, then LINUX_* built-ins, then /proc/config.gz or /boot/config-<release>) are written
 * into the spec's `.kconfig` map contents. `__ksym` variables and kfuncs the programs use resolve through `ksyms`
 * (kernel BTF ids, kallsyms addresses; weak missing ones to 0); without it, using one throws.
 */
export function resolveExterns(
  spec: ObjectSpec,
  options: BpfObjectOptions = {},
  ksyms?: KsymResolver,
): Map<string, ResolvedExtern> {
  const out = new Map<string, ResolvedExtern>();
  const kc = spec.maps['.kconfig'];
  const kcBytes = kc ? dataBytes(kc) : undefined;
  let cfg: Map<string, string> | undefined;
  for (const ext of Object.values(spec.externs)) {
    if (ext.kind !== 'kconfig' || !kcBytes) continue;
    let value: number | bigint | boolean | string | undefined = options.kconfig?.[ext.name];
    if (value === undefined) {
      if (ext.name === 'LINUX_KERNEL_VERSION') value = kernelVersionCode();
      else if (ext.name === 'LINUX_HAS_BPF_COOKIE' || ext.name === 'LINUX_HAS_SYSCALL_WRAPPER') value = 1;
      else {
        cfg ??= kernelConfig();
        if (cfg.has(ext.name)) value = cfg.get(ext.name);
      }
    }
    if (value === undefined) {
      if (!ext.weak && ext.name.startsWith('CONFIG_') && (cfg?.size ?? 0) > 0)
        throw new BpfObjectError(`extern '${ext.name}' (.kconfig) is not set in the kernel config and is not __weak`);
    } else {
      writeKconfig(kcBytes, ext, value);
    }
    out.set(ext.name, { kind: 'data', map: '.kconfig', offset: ext.offset });
  }
  // __ksym variables and kfuncs the programs to load use (libbpf's bpf_object__resolve_ksyms_btf_id / kallsyms).
  if (ksyms) {
    const used = new Set<string>();
    for (const p of Object.values(spec.programs))
      if (p.autoload) for (const r of p.relocations) if (r.kind === 'extern' || r.kind === 'kfunc') used.add(r.extern);
    const list = Object.values(spec.externs).filter(
      (e) => (e.kind === 'ksym' || e.kind === 'kfunc') && used.has(e.name),
    );
    let index = 0;
    for (const [name, res] of ksyms.resolve(
      list as { name: string; kind: 'ksym' | 'kfunc'; weak: boolean; typeId: number }[],
      spec.btf,
    )) {
      out.set(name, { kind: 'ksym', res, index: index++ });
    }
  }
  // Externs the programs to load use but nothing resolved.
  for (const p of Object.values(spec.programs)) {
    if (!p.autoload) continue;
    for (const r of p.relocations) {
      if ((r.kind === 'extern' || r.kind === 'kfunc') && !out.has(r.extern)) {
        const ext = spec.externs[r.extern];
        throw new BpfObjectError(
          `program '${p.name}': extern ${ext?.kind ?? ''} '${r.extern}' is not supported by the loader yet (only .kconfig externs are)`,
        );
      }
    }
  }
  return out;
}

/** Patches map fds, global data addresses and externs into a program's (copied) instructions. */
function applyRelocations(
  p: ProgramSpec,
  insns: Uint8Array,
  maps: Record<string, BpfMap>,
  externs: Map<string, ResolvedExtern>,
): void {
  const v = new DataView(insns.buffer, insns.byteOffset, insns.byteLength);
  const ldMap = (insn: number, map: string, valueOffset: number | undefined): void => {
    const m = maps[map];
    if (!m)
      throw new BpfObjectError(
        `program '${p.name}': instruction ${insn} refers to map '${map}', which the object does not have`,
      );
    const at = insn * INSN_SIZE;
    if (at + 2 * INSN_SIZE > insns.length)
      throw new BpfObjectError(`program '${p.name}': relocation at instruction ${insn} is outside the program`);
    insns[at + 1] = (insns[at + 1]! & 0x0f) | ((valueOffset === undefined ? PSEUDO_MAP_FD : PSEUDO_MAP_VALUE) << 4);
    v.setInt32(at + 4, m.fd, true);
    v.setInt32(at + INSN_SIZE + 4, valueOffset ?? 0, true);
  };
  for (const r of p.relocations) {
    switch (r.kind) {
      case 'map':
        ldMap(r.insn, r.map, undefined);
        break;
      case 'data':
        ldMap(r.insn, r.map, r.offset);
        break;
      case 'extern': {
        const res = externs.get(r.extern)!;
        if (res.kind === 'ksym') patchKsymLoad(insns, r.insn, res.res, `program '${p.name}': extern '${r.extern}'`);
        else ldMap(r.insn, res.map, res.offset + r.offset);
        break;
      }
      case 'kfunc': {
        const res = externs.get(r.extern);
        if (res?.kind !== 'ksym')
          throw new BpfObjectError(
            `program '${p.name}': '${r.extern}' is called as a kfunc but is not a __ksym function`,
          );
        patchKfuncCall(insns, r.insn, res.res, res.index, `program '${p.name}': kfunc '${r.extern}'`);
        break;
      }
    }
  }
}

// ---- helpers -----------------------------------------------------------------------------------------

/** libbpf's internal map naming: `<object prefix><.section>` in 15 characters, other maps by their own name. */
function kernelMapName(object: string, name: string, spec: MapSpec): string {
  const clean = (s: string) => s.replace(/[^A-Za-z0-9_.]/g, '_');
  if (spec.origin !== 'data') return clean(spec.name ?? name).slice(0, 15);
  const sfx = Math.min(15, Math.max(7, name.length));
  const pfx = Math.min(15 - sfx, object.length);
  return clean(object.slice(0, pfx) + name.slice(0, sfx)).slice(0, 15);
}

function encodeFuncInfo(recs: { insn: number; typeId: number }[]): Uint8Array {
  const out = new Uint8Array(recs.length * 8);
  const v = new DataView(out.buffer);
  recs.forEach((r, i) => {
    v.setUint32(i * 8, r.insn, true);
    v.setUint32(i * 8 + 4, r.typeId, true);
  });
  return out;
}

function encodeLineInfo(recs: LineInfoRecord[]): Uint8Array {
  const out = new Uint8Array(recs.length * 16);
  const v = new DataView(out.buffer);
  recs.forEach((r, i) => {
    const o = i * 16;
    v.setUint32(o, r.insn, true);
    v.setUint32(o + 4, r.fileNameOff, true);
    v.setUint32(o + 8, r.lineOff, true);
    v.setUint32(o + 12, ((r.line << 10) | (r.column & 0x3ff)) >>> 0, true);
  });
  return out;
}

function kernelVersionCode(): number {
  const m = /^(\d+)\.(\d+)(?:\.(\d+))?/.exec(release());
  if (!m) return 0;
  return (Number(m[1]) << 16) + (Number(m[2]) << 8) + Math.min(Number(m[3] ?? 0), 255);
}

let kcfg: Map<string, string> | undefined;
/** The running kernel's config (/proc/config.gz or /boot/config-<release>); empty when unavailable. */
function kernelConfig(): Map<string, string> {
  if (kcfg) return kcfg;
  kcfg = new Map();
  let text: string | undefined;
  try {
    text = gunzipSync(readFileSync('/proc/config.gz')).toString('utf8');
  } catch {
    try {
      text = readFileSync(`/boot/config-${release()}`, 'utf8');
    } catch {
      /* none */
    }
  }
  if (text)
    for (const line of text.split('\n')) {
      const m = /^(CONFIG_[A-Za-z0-9_]+)=(.*)$/.exec(line);
      if (m) kcfg.set(m[1]!, m[2]!);
    }
  return kcfg;
}

function writeKconfig(bytes: Uint8Array, v: ExternSpec, value: number | bigint | boolean | string): void {
  let x: number | bigint | string = typeof value === 'boolean' ? (value ? 1 : 0) : value;
  if (typeof x === 'string') {
    // Kconfig: y/m/n tristates (libbpf's enum libbpf_tristate: n=0, y=1, m=2), numbers, quoted strings.
    if (x === 'y') x = 1;
    else if (x === 'm') x = 2;
    else if (x === 'n') x = 0;
    else if (/^-?(0x[0-9a-fA-F]+|\d+)$/.test(x)) x = BigInt(x);
    else if (/^".*"$/.test(x)) x = x.slice(1, -1);
  }
  if (v.offset + v.size > bytes.length)
    throw new BpfObjectError(
      `extern '${v.name}' [${v.offset}, +${v.size}) is outside .kconfig (${bytes.length} bytes)`,
    );
  const slot = bytes.subarray(v.offset, v.offset + v.size);
  slot.fill(0);
  if (typeof x === 'string') {
    slot.set(Buffer.from(x, 'utf8').subarray(0, Math.max(0, v.size - 1)));
    return;
  }
  const n = BigInt.asUintN(64, BigInt(x));
  for (let i = 0; i < v.size && i < 8; i++) slot[i] = Number((n >> BigInt(8 * i)) & 0xffn);
}
