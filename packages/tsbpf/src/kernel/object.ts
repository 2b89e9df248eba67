/**
 * BpfObject: load clang-compiled, libbpf-style BPF objects (`clang -O2 -g -target bpf -c x.bpf.c`).
 *
 * open() parses the ELF, BTF and .BTF.ext, reads map definitions (BTF `.maps` and the legacy `maps` section),
 * global data (`.data*`, `.rodata*`, `.bss*`, `.kconfig`), and links every program: `.text` subprograms it calls
 * are appended and their calls rebased, map and global-data references recorded, func_info/line_info/CO-RE records
 * carried to the final instruction positions. load() creates the maps (pinning by name under pinRoot), loads the
 * BTF, patches map fds, applies CO-RE against the kernel's BTF (or a given one) and loads the programs with
 * func/line info, so verifier errors point at C source lines. Programs attach by their section name.
 *
 * ```ts
 * using obj = BpfObject.open('execsnoop.bpf.o');
 * obj.rodata!.set('target_tgid', process.pid);
 * obj.load();
 * obj.attach();
 * using rb = new RingBuffer(obj.maps.events, (view, off) => { ... });
 * ```
 */
import { TsbpfError } from '../pure/errors.js';
import { existsSync, readFileSync, readFileSync as readFile } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { release } from 'node:os';
import { basename, join } from 'node:path';
import {
  Elf, ElfError, EM_BPF, ET_REL, SHF_ALLOC, SHF_EXECINSTR, SHN_UNDEF, SHT_NOBITS, SHT_PROGBITS, STB_LOCAL, STT_FUNC, STT_SECTION,
  type ElfRelocation, type ElfSection, type ElfSymbol,
} from '../pure/elf.js';
import { Btf, BtfError, type BtfDatasec } from '../pure/btf.js';
import { BtfExt, type BtfCoreRelo, type BtfLineInfo } from '../pure/btf-ext.js';
import { parseBtfMaps, type BtfMapDefinition } from '../pure/btf-maps.js';
import { btfLayout } from '../pure/btf-layout.js';
import { t, type Layout } from '../pure/layout.js';
import { CoreReloError, patchCoreInsn, resolveCoreRelo, type CoreReloResult } from '../pure/core-relo.js';
import { parseSectionName, SectionNameError, type SectionInfo } from '../pure/section-names.js';
import { MAP_FLAG, MAP_TYPE, PROG_FLAG, type MapTypeName } from '../pure/uapi.js';
import { BpfError, VerifierError } from './errors.js';
import { BpfMap } from './map.js';
import { Program } from './program.js';
import { AttachError, type Link } from './link.js';
import { loadObjectBtf } from './btf-load.js';
import { tracingTargetBtfId, vmlinuxBtf, type TracingKind } from './attach-tracing.js';
import { possibleCpus } from './cpus.js';
import { argError, type OwnedFd } from './syscall.js';
import type { Interface, XdpMode } from './attach-net.js';

/** A malformed or unsupported object (bad relocation, unknown map type, missing BTF, ...). */
export class BpfObjectError extends TsbpfError {
  override name = 'BpfObjectError';
  readonly code = 'ERR_OBJECT';
}

/** Options for BpfObject.open. */
export interface BpfObjectOptions {
  /** Target BTF for CO-RE: a path or raw bytes (default /sys/kernel/btf/vmlinux). */
  btf?: string | Uint8Array;
  /** Directory for maps declared with `__uint(pinning, LIBBPF_PIN_BY_NAME)` (default /sys/fs/bpf). */
  pinRoot?: string;
  /** Object name (prefix of global data map names; default: the file name without `.bpf.o`). */
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
  /** bpf_get_attach_cookie value. */
  cookie?: bigint;
}

/** An editable map definition; change fields before load(). */
export interface MapSpec {
  name: string;
  type: MapTypeName;
  keySize: number;
  valueSize: number;
  maxEntries: number;
  flags: number;
  /** 0: none, 1: pin by name under pinRoot. */
  pinning: number;
  numaNode: number;
  mapExtra: number;
  /** BTF type ids of the key and value (object BTF). */
  keyType?: number;
  valueType?: number;
  /** Template for map-in-map. */
  inner?: MapSpec;
  /** Where the map came from. */
  origin: 'btf' | 'legacy' | 'data';
  /** ELF section (index) and offset of the definition / data. */
  readonly sectionIndex: number;
  readonly offset: number;
  /** Byte size of the definition variable (.maps). */
  readonly defSize: number;
}

/** A variable of a global data section. */
export interface GlobalVariable {
  name: string;
  offset: number;
  size: number;
  /** BTF type id (object BTF). */
  type: number;
  layout: Layout<any>;
}

const EMPTY = new Uint8Array(0);

/**
 * One global data section (`.rodata`, `.data`, `.bss`, `.kconfig`, `.data.foo`) as typed variables.
 * Before load() they live in a local copy; after load() reads and writes go to the map's memory (mmap), so the
 * program sees `.data`/`.bss` writes at once. `.rodata` is frozen at load: set it before.
 */
export class GlobalData {
  readonly section: string;
  readonly size: number;
  readonly readOnly: boolean;
  readonly variables: ReadonlyMap<string, GlobalVariable>;
  #view: DataView;
  #bytes: Uint8Array;
  #frozen = false;
  #vars: Record<string, any> | undefined;

  /** @internal */
  constructor(section: string, initial: Uint8Array, size: number, readOnly: boolean, variables: Map<string, GlobalVariable>) {
    this.section = section;
    this.size = size;
    this.readOnly = readOnly;
    this.variables = variables;
    this.#bytes = new Uint8Array(Math.max(size, 1));
    this.#bytes.set(initial.subarray(0, size));
    this.#view = new DataView(this.#bytes.buffer, 0, size);
  }

  /** Variable names. */
  get names(): string[] {
    return [...this.variables.keys()];
  }

  #var(name: string): GlobalVariable {
    const v = this.variables.get(name);
    if (!v) throw new RangeError(`tsbpf: ${this.section} has no variable "${name}" (variables: ${this.names.join(', ') || 'none'})`);
    return v;
  }

  /** Reads a variable (from the map's memory after load). */
  get(name: string): any {
    const v = this.#var(name);
    return v.layout.decode(this.#view, v.offset);
  }

  /** Writes a variable. `.rodata` only before load(). */
  set(name: string, value: any): void {
    const v = this.#var(name);
    if (this.#frozen) throw new TypeError(`tsbpf: ${this.section} is read-only after load() (set "${name}" before loading)`);
    v.layout.encode(value, this.#view, v.offset);
  }

  /** Property-style access: `data.vars.counter`, `rodata.vars.target = 5`. */
  get vars(): Record<string, any> {
    this.#vars ??= new Proxy(Object.create(null), {
      get: (_, k) => (typeof k === 'string' ? this.get(k) : undefined),
      set: (_, k, val) => { if (typeof k !== 'string') return false; this.set(k, val); return true; },
      has: (_, k) => typeof k === 'string' && this.variables.has(k),
      ownKeys: () => this.names,
      getOwnPropertyDescriptor: (_, k) => (typeof k === 'string' && this.variables.has(k) ? { enumerable: true, configurable: true, value: this.get(k), writable: !this.#frozen } : undefined),
    });
    return this.#vars!;
  }

  /** A copy of the current bytes. */
  bytes(): Uint8Array {
    return new Uint8Array(this.#view.buffer.slice(this.#view.byteOffset, this.#view.byteOffset + this.size));
  }

  /** @internal The initial contents for map creation. */
  initialBytes(): Uint8Array {
    return this.#bytes.subarray(0, this.size);
  }

  /** @internal Switch to the map's memory after load. */
  bind(view: DataView | undefined, frozen: boolean): void {
    if (view) this.#view = new DataView(view.buffer, view.byteOffset, this.size);
    this.#frozen = frozen;
  }
}

/** A `ld_imm64` that must point at a map or into global data once fds exist. */
interface MapFixup { pos: number; map: MapSpec; /** PSEUDO_MAP_VALUE offset, or -1 for PSEUDO_MAP_FD. */ valueOffset: number }
interface LinkedLine { insn: number; fileNameOff: number; lineOff: number; line: number; column: number; record: BtfLineInfo }

interface FuncUnit { section: ElfSection; name: string; start: number; len: number; symbol: ElfSymbol }

/** A program of the object. `program` exists after load(). */
export class ObjectProgram {
  readonly name: string;
  readonly section: string;
  readonly info: SectionInfo;
  /** Load it with the object (set false before load() to skip, like bpf_program__set_autoload). */
  autoload = true;
  /** Linked instructions (main function + appended subprograms) before map fds and CO-RE. */
  readonly instructions: Uint8Array;
  /** Names of the functions linked in, in order (main first). */
  readonly functions: readonly string[];
  /** @internal */ readonly fixups: MapFixup[];
  /** @internal */ readonly funcInfo: { insn: number; typeId: number }[] | undefined;
  /** @internal */ readonly lineInfo: LinkedLine[] | undefined;
  /** @internal */ readonly coreRelos: { insn: number; relo: BtfCoreRelo }[];
  /** CO-RE results after load (for inspection). */
  coreResults: CoreReloResult[] = [];
  #program: Program | undefined;
  readonly #object: BpfObject;

  /** @internal */
  constructor(object: BpfObject, name: string, section: string, info: SectionInfo, linked: LinkedProgram) {
    this.#object = object;
    this.name = name;
    this.section = section;
    this.info = info;
    this.instructions = linked.insns;
    this.functions = linked.functions;
    this.fixups = linked.fixups;
    this.funcInfo = linked.funcInfo;
    this.lineInfo = linked.lineInfo;
    this.coreRelos = linked.core;
  }

  /** The loaded Program (throws before load() or when autoload was off). */
  get program(): Program {
    if (!this.#program) throw new TypeError(`tsbpf: program "${this.name}" is not loaded${this.autoload ? ' (call load() first)' : ' (autoload is off)'}`);
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
    if (!this.lineInfo) return undefined;
    let best: LinkedLine | undefined;
    for (const l of this.lineInfo) { if (l.insn <= insn) best = l; else break; }
    return best ? { file: best.record.fileName, line: best.line, column: best.column, text: best.record.lineText.trim() } : undefined;
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
    return k === 'tracepoint' || k === 'raw_tracepoint' || k === 'tracing' || k === 'kprobe' || k === 'ksyscall' || k === 'uprobe' || k === 'perf_event';
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
      case 'tracepoint': return p.attachTracepoint(tgt.category, tgt.name, { cookie: opts.cookie });
      case 'raw_tracepoint': return p.attachRawTracepoint(tgt.name, { cookie: opts.cookie });
      case 'tracing':
        if (tgt.tracing === 'iter' || tgt.tracing === 'freplace') throw new AttachError('ENOTSUP', where, `${tgt.tracing} programs are not supported by the object loader`);
        return p.attachTracing({ cookie: opts.cookie });
      case 'kprobe': return p.attachKprobe(tgt.function, { offset: tgt.offset || undefined, retprobe: tgt.retprobe, cookie: opts.cookie });
      case 'ksyscall': return p.attachKprobe(`__x64_sys_${tgt.syscall}`, { retprobe: tgt.retprobe, cookie: opts.cookie });
      case 'uprobe': return p.attachUprobe({ binary: tgt.binary, symbol: tgt.symbol, offset: tgt.offset || undefined, retprobe: tgt.retprobe, pid: opts.pid, cookie: opts.cookie });
      case 'perf_event': return p.attachPerfEvent();
      case 'xdp':
        if (opts.interface === undefined) throw argError(`${where} needs { interface } to attach`);
        return p.attachXdp(opts.interface, { mode: opts.xdpMode });
      case 'tc': case 'tcx':
        if (opts.interface === undefined) throw argError(`${where} needs { interface } to attach`);
        return p.attachTcx(opts.interface, tgt.kind === 'tcx' ? tgt.direction : opts.direction ?? 'ingress');
      case 'cgroup':
        if (opts.cgroup === undefined) throw argError(`${where} needs { cgroup } (a cgroup v2 path) to attach`);
        return p.attachCgroup(opts.cgroup, tgt.attachType);
      default:
        throw argError(`${where} names no attach target; attach its Program (obj.programs.${this.name}.program) by hand`);
    }
  }

  /** BPF_PROG_TEST_RUN on the loaded program. */
  testRun(...args: Parameters<Program['testRun']>): ReturnType<Program['testRun']> {
    return this.program.testRun(...args);
  }
}

interface LinkedProgram {
  insns: Uint8Array;
  functions: string[];
  fixups: MapFixup[];
  funcInfo: { insn: number; typeId: number }[] | undefined;
  lineInfo: LinkedLine[] | undefined;
  core: { insn: number; relo: BtfCoreRelo }[];
}

const DATA_SECTION = /^\.(data|rodata|bss)(\..*)?$/;
const NO_BTF_MAP_TYPES = new Set<string>(['perf_event_array', 'cgroup_array', 'stack_trace', 'array_of_maps', 'hash_of_maps', 'devmap', 'devmap_hash', 'cpumap', 'xskmap', 'sockmap', 'sockhash', 'queue', 'stack', 'arena', 'ringbuf', 'user_ringbuf', 'prog_array']);
const PSEUDO_MAP_FD = 1;
const PSEUDO_MAP_VALUE = 2;
const PSEUDO_FUNC = 4;
const STV_HIDDEN = 2;

/** A clang-compiled BPF object. */
export class BpfObject {
  readonly name: string;
  readonly elf: Elf;
  /** Object BTF (DATASECs fixed up), if the object has `.BTF`. */
  readonly btf: Btf | undefined;
  readonly btfExt: BtfExt | undefined;
  readonly license: string;
  /** Map definitions by name, editable before load(). */
  readonly mapSpecs: Record<string, MapSpec>;
  /** Programs by function name. */
  readonly programs: Record<string, ObjectProgram>;
  readonly #options: BpfObjectOptions;
  readonly #data = new Map<string, GlobalData>();
  readonly #mapsBySection = new Map<number, MapSpec[]>();
  readonly #mapInit: { outer: MapSpec; slot: number; target: { map?: MapSpec; program?: string } }[] = [];
  #maps: Record<string, BpfMap> | undefined;
  #mapList: BpfMap[] = [];
  #btfFd: OwnedFd | undefined;
  #links: Link[] = [];
  #state: 'open' | 'loaded' | 'closed' = 'open';

  private constructor(bytes: Uint8Array, options: BpfObjectOptions, name: string) {
    this.#options = options;
    this.name = name;
    const elf = Elf.parse(bytes, { machine: EM_BPF });
    if (elf.header.type !== ET_REL) throw new BpfObjectError(`not a relocatable object (e_type ${elf.header.type}); compile with clang -target bpf -c`);
    this.elf = elf;
    const lic = elf.section('license');
    this.license = lic ? cstr(lic.data) : '';
    const symbols = elf.symbols();

    // BTF and .BTF.ext.
    const btfSec = elf.section('.BTF');
    let btf: Btf | undefined;
    if (btfSec) {
      btf = Btf.parse(btfSec.data);
      btf.fixupDataSections(
        (n) => elf.section(n)?.size ?? (n === '.kconfig' || n === '.ksyms' ? 0 : undefined),
        (sec, v) => {
          const s = elf.section(sec);
          const sym = s && symbols.find((x) => x.shndx === s.index && x.name === v);
          return sym ? { offset: sym.value, hidden: sym.visibility === STV_HIDDEN } : undefined;
        },
      );
    }
    this.btf = btf;
    const extSec = elf.section('.BTF.ext');
    this.btfExt = btf && extSec ? BtfExt.parse(extSec.data, btf) : undefined;

    // Maps.
    const specs: Record<string, MapSpec> = Object.create(null);
    const addSpec = (s: MapSpec): void => {
      if (specs[s.name]) throw new BpfObjectError(`duplicate map name '${s.name}'`);
      specs[s.name] = s;
      const list = this.#mapsBySection.get(s.sectionIndex) ?? [];
      list.push(s);
      this.#mapsBySection.set(s.sectionIndex, list);
    };
    const mapsSec = elf.section('.maps');
    if (mapsSec) {
      if (!btf) throw new BpfObjectError('the object has a .maps section but no .BTF: compile with -g');
      for (const def of parseBtfMaps(btf)) {
        const sym = symbols.find((x) => x.shndx === mapsSec.index && x.name === def.name);
        addSpec(btfMapSpec(def, mapsSec.index, sym ? sym.value : def.offset, def.size));
      }
      this.#collectMapInit(mapsSec, specs);
    }
    const legacy = elf.section('maps');
    if (legacy) for (const s of legacyMapSpecs(legacy, symbols)) addSpec(s);

    // Global data.
    for (const sec of elf.sections) {
      if (!DATA_SECTION.test(sec.name) || !(sec.flags & SHF_ALLOC) || (sec.type !== SHT_PROGBITS && sec.type !== SHT_NOBITS)) continue;
      if (sec.size === 0) continue;
      const readOnly = sec.name.startsWith('.rodata');
      const gd = new GlobalData(sec.name, sec.type === SHT_NOBITS ? EMPTY : sec.data, sec.size, readOnly, this.#variables(sec.name, sec.size));
      this.#data.set(sec.name, gd);
      addSpec({
        name: sec.name, type: 'array', keySize: 4, valueSize: sec.size, maxEntries: 1,
        flags: MAP_FLAG.mmapable | (readOnly ? MAP_FLAG.rdonly_prog : 0), pinning: 0, numaNode: 0, mapExtra: 0,
        valueType: btf?.findByName(sec.name, 'datasec'), origin: 'data', sectionIndex: sec.index, offset: 0, defSize: sec.size,
      });
    }
    this.#kconfig(symbols, addSpec);
    this.mapSpecs = specs;

    // Programs.
    const funcs = this.#functions(symbols);
    const relocs = this.#relocations();
    const programs: Record<string, ObjectProgram> = Object.create(null);
    const text = elf.section('.text');
    for (const sec of elf.sections) {
      if (!(sec.flags & SHF_EXECINSTR) || sec.size === 0 || sec.type !== SHT_PROGBITS) continue;
      if (text && sec.index === text.index) continue;
      let info: SectionInfo;
      try { info = parseSectionName(sec.name); } catch (e) {
        throw new BpfObjectError(`${(e as Error).message}`);
      }
      for (const fn of funcs.get(sec.index) ?? []) {
        if (fn.symbol.bind === STB_LOCAL) throw new BpfObjectError(`program '${fn.name}' in section '${sec.name}' is static: BPF programs must be global functions`);
        if (programs[fn.name]) throw new BpfObjectError(`duplicate program name '${fn.name}'`);
        const linked = this.#link(fn, funcs, relocs, text);
        programs[fn.name] = new ObjectProgram(this, fn.name, sec.name, info, linked);
      }
    }
    this.programs = programs;
  }

  /**
   * Parses an object file (path) or its bytes. Throws ElfError/BtfError/BpfObjectError with a clear message for
   * malformed input; nothing touches the kernel until load().
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
    const name = options.name ?? (typeof pathOrBuffer === 'string' ? basename(pathOrBuffer).replace(/(\.bpf)?\.o$/, '') : 'obj');
    try {
      return new BpfObject(bytes, options, name);
    } catch (e) {
      if (e instanceof ElfError || e instanceof BtfError || e instanceof BpfObjectError || e instanceof SectionNameError || e instanceof CoreReloError) {
        e.message = `${label}: ${e.message}`;
        throw e;
      }
      // Anything else (a DataView range error on a mangled table) is still a malformed object.
      const err = new BpfObjectError(`${label}: malformed object: ${(e as Error)?.message ?? String(e)}`);
      (err as { cause?: unknown }).cause = e;
      throw err;
    }
  }

  /** Global data section by name (`.rodata`, `.data`, `.bss`, `.data.custom`, `.kconfig`). */
  data(section: string): GlobalData | undefined {
    return this.#data.get(section);
  }
  /** `.rodata` variables: set before load(). */
  get rodata(): GlobalData | undefined { return this.#data.get('.rodata'); }
  /** `.data` variables: read and write after load() too. */
  get dataSection(): GlobalData | undefined { return this.#data.get('.data'); }
  /** `.bss` variables: read and write after load() too. */
  get bss(): GlobalData | undefined { return this.#data.get('.bss'); }
  /** `.kconfig` externs as resolved at open. */
  get kconfig(): GlobalData | undefined { return this.#data.get('.kconfig'); }

  /** Maps by name after load(): BTF `.maps` names, legacy map names, and `.rodata`/`.data`/`.bss`. */
  get maps(): Record<string, BpfMap> {
    this.#check();
    if (!this.#maps) throw new TypeError('tsbpf: maps exist after load(); before it, edit mapSpecs');
    return this.#maps;
  }

  /** A program by name; throws listing the names when absent. */
  program(name: string): ObjectProgram {
    const p = this.programs[name];
    if (!p) throw new RangeError(`tsbpf: no program "${name}" in ${this.name} (programs: ${Object.keys(this.programs).join(', ') || 'none'})`);
    return p;
  }

  /** A loaded map by name; throws listing the names when absent. */
  map(name: string): BpfMap {
    const m = this.maps[name];
    if (!m) throw new RangeError(`tsbpf: no map "${name}" in ${this.name} (maps: ${Object.keys(this.maps).join(', ') || 'none'})`);
    return m;
  }

  get loaded(): boolean {
    return this.#state === 'loaded';
  }

  #check(): void {
    if (this.#state === 'closed') throw new TypeError(`tsbpf: BPF object ${this.name} is closed`);
  }

  // ---- open-time parsing ----------------------------------------------------------------------------

  #variables(section: string, size: number): Map<string, GlobalVariable> {
    const out = new Map<string, GlobalVariable>();
    const btf = this.btf;
    const id = btf?.findByName(section, 'datasec');
    if (btf && id !== undefined) {
      const ds = btf.type(id) as BtfDatasec;
      for (const vs of ds.vars) {
        const v = btf.type(vs.type);
        if (v.kind !== 14) continue;
        if (vs.offset + vs.size > size) throw new BpfObjectError(`variable '${v.name}' [${vs.offset}, +${vs.size}) is outside section ${section} (${size} bytes)`);
        out.set(v.name, lazyVariable(btf, v.name, vs.offset, vs.size, v.type));
      }
      return out;
    }
    // No BTF: fall back to ELF symbols as raw bytes.
    const sec = this.elf.section(section);
    if (sec) {
      for (const s of this.elf.symbols()) {
        if (s.shndx !== sec.index || s.type === STT_SECTION || !s.name || s.size === 0) continue;
        if (s.value + s.size > size) continue;
        out.set(s.name, { name: s.name, offset: s.value, size: s.size, type: 0, layout: [1, 2, 4, 8].includes(s.size) ? ({ 1: t.u8, 2: t.u16, 4: t.u32, 8: t.u64 } as Record<number, Layout<any>>)[s.size]! : t.bytes(s.size) });
      }
    }
    return out;
  }

  /** `.kconfig` externs (LINUX_KERNEL_VERSION, CONFIG_*): a read-only data map filled at open. */
  #kconfig(symbols: ElfSymbol[], addSpec: (s: MapSpec) => void): void {
    const btf = this.btf;
    const id = btf?.findByName('.kconfig', 'datasec');
    if (!btf || id === undefined) return;
    const ds = btf.type(id) as BtfDatasec;
    // Lay the externs out in order, naturally aligned (libbpf does the same).
    let off = 0;
    const vars = new Map<string, GlobalVariable>();
    for (const vs of ds.vars) {
      const v = btf.type(vs.type);
      if (v.kind !== 14) continue;
      const size = btf.sizeOf(v.type);
      const align = Math.max(1, Math.min(8, btf.alignOf(v.type)));
      off = Math.ceil(off / align) * align;
      vs.offset = off;
      vs.size = size;
      vars.set(v.name, lazyVariable(btf, v.name, off, size, v.type));
      off += size;
    }
    const size = Math.max(Math.ceil(off / 8) * 8, 8);
    ds.size = size;
    const gd = new GlobalData('.kconfig', EMPTY, size, true, vars);
    const cfg = kernelConfig();
    for (const v of vars.values()) {
      const sym = symbols.find((s) => s.name === v.name && s.shndx === SHN_UNDEF);
      const weak = sym?.bind === 2;
      let value: number | bigint | boolean | string | undefined = this.#options.kconfig?.[v.name];
      if (value === undefined) {
        if (v.name === 'LINUX_KERNEL_VERSION') value = kernelVersionCode();
        else if (v.name === 'LINUX_HAS_BPF_COOKIE' || v.name === 'LINUX_HAS_SYSCALL_WRAPPER') value = 1;
        else if (cfg.has(v.name)) value = cfg.get(v.name);
      }
      if (value === undefined) {
        if (!weak && v.name.startsWith('CONFIG_') && cfg.size > 0) throw new BpfObjectError(`extern '${v.name}' (.kconfig) is not set in the kernel config and is not __weak`);
        continue;
      }
      writeKconfig(gd, v, value);
    }
    this.#data.set('.kconfig', gd);
    addSpec({
      name: '.kconfig', type: 'array', keySize: 4, valueSize: size, maxEntries: 1, flags: MAP_FLAG.mmapable | MAP_FLAG.rdonly_prog,
      pinning: 0, numaNode: 0, mapExtra: 0, valueType: id, origin: 'data', sectionIndex: -2, offset: 0, defSize: size,
    });
  }

  /** Function symbols per executable section, sorted, with sizes. */
  #functions(symbols: ElfSymbol[]): Map<number, FuncUnit[]> {
    const out = new Map<number, FuncUnit[]>();
    for (const s of symbols) {
      if (s.type !== STT_FUNC || s.shndx === SHN_UNDEF || s.shndx >= this.elf.sections.length) continue;
      const sec = this.elf.sections[s.shndx]!;
      if (!(sec.flags & SHF_EXECINSTR)) continue;
      if (s.value % 8 !== 0 || s.value >= sec.size) throw new BpfObjectError(`function '${s.name}' at offset ${s.value} is outside or misaligned in section '${sec.name}' (${sec.size} bytes)`);
      const list = out.get(sec.index) ?? [];
      list.push({ section: sec, name: s.name, start: s.value / 8, len: s.size / 8, symbol: s });
      out.set(sec.index, list);
    }
    for (const list of out.values()) {
      list.sort((a, b) => a.start - b.start);
      for (let i = 0; i < list.length; i++) {
        const f = list[i]!;
        const end = i + 1 < list.length ? list[i + 1]!.start : f.section.size / 8;
        if (f.len === 0 || f.start + f.len > end) f.len = end - f.start;
        if (f.len <= 0) throw new BpfObjectError(`function '${f.name}' in '${f.section.name}' is empty`);
      }
    }
    return out;
  }

  /** Relocations per target section index, by byte offset. */
  #relocations(): Map<number, Map<number, { rel: ElfRelocation; sym: ElfSymbol }>> {
    const out = new Map<number, Map<number, { rel: ElfRelocation; sym: ElfSymbol }>>();
    for (const s of this.elf.sections) {
      if (s.type !== 9 && s.type !== 4) continue;
      if (s.info >= this.elf.sections.length) throw new BpfObjectError(`relocation section '${s.name}' targets section ${s.info}, which does not exist`);
      const target = this.elf.sections[s.info]!;
      if (!(target.flags & SHF_EXECINSTR)) continue;
      const rs = this.elf.relocationsOf(s);
      const syms = this.elf.symbolsOf(rs.symtab);
      const m = new Map<number, { rel: ElfRelocation; sym: ElfSymbol }>();
      for (const rel of rs.relocations) {
        if (rel.offset % 8 !== 0 || rel.offset + 8 > target.size) {
          throw new BpfObjectError(`bad relocation in '${s.name}': offset ${rel.offset} is not an instruction of '${target.name}' (${target.size} bytes)`);
        }
        m.set(rel.offset, { rel, sym: syms[rel.symbolIndex]! });
      }
      out.set(target.index, m);
    }
    return out;
  }

  /** Static map-in-map / prog_array initialisers: `.rel.maps` entries pointing at other maps or programs. */
  #collectMapInit(mapsSec: ElfSection, specs: Record<string, MapSpec>): void {
    const relSec = this.elf.sections.find((s) => (s.type === 9 || s.type === 4) && s.info === mapsSec.index);
    if (!relSec || !this.btf) return;
    const rs = this.elf.relocationsOf(relSec);
    const syms = this.elf.symbolsOf(rs.symtab);
    const list = Object.values(specs).filter((s) => s.origin === 'btf');
    for (const rel of rs.relocations) {
      const outer = list.find((s) => rel.offset >= s.offset && rel.offset < s.offset + s.defSize);
      if (!outer) throw new BpfObjectError(`bad relocation in '.rel.maps' at offset ${rel.offset}: not inside any map definition`);
      const valuesOff = this.#valuesOffset(outer);
      if (valuesOff === undefined || rel.offset < outer.offset + valuesOff || (rel.offset - outer.offset - valuesOff) % 8 !== 0) {
        throw new BpfObjectError(`bad relocation in '.rel.maps' at offset ${rel.offset}: not a values[] slot of map '${outer.name}'`);
      }
      const slot = (rel.offset - outer.offset - valuesOff) / 8;
      const sym = syms[rel.symbolIndex]!;
      if (sym.shndx === mapsSec.index) {
        const inner = list.find((s) => s.offset === sym.value);
        if (!inner) throw new BpfObjectError(`bad relocation in '.rel.maps': symbol '${sym.name}' is not a map`);
        this.#mapInit.push({ outer, slot, target: { map: inner } });
      } else {
        this.#mapInit.push({ outer, slot, target: { program: sym.name } });
      }
    }
  }

  #valuesOffset(spec: MapSpec): number | undefined {
    const btf = this.btf!;
    const sym = this.elf.symbols().find((s) => s.name === spec.name && s.shndx === spec.sectionIndex);
    if (!sym) return undefined;
    const varId = btf.findByName(spec.name, 'var');
    if (varId === undefined) return undefined;
    const v = btf.type(varId);
    if (v.kind !== 14) return undefined;
    return btf.findMember(v.type, 'values')?.byteOffset;
  }

  /** Builds one program: copy its function, append called subprograms, record fixups and BTF.ext records. */
  #link(main: FuncUnit, funcs: Map<number, FuncUnit[]>, relocs: Map<number, Map<number, { rel: ElfRelocation; sym: ElfSymbol }>>, text: ElfSection | undefined): LinkedProgram {
    const placed = new Map<FuncUnit, number>([[main, 0]]);
    const order: FuncUnit[] = [main];
    let total = main.len;
    const fixups: MapFixup[] = [];
    const chunks: Uint8Array[] = [];
    const funcAt = (sec: ElfSection, idx: number): FuncUnit | undefined => (funcs.get(sec.index) ?? []).find((f) => idx >= f.start && idx < f.start + f.len);
    for (let u = 0; u < order.length; u++) {
      const fn = order[u]!;
      const base = placed.get(fn)!;
      const insns = fn.section.data.slice(fn.start * 8, (fn.start + fn.len) * 8);
      if (insns.length !== fn.len * 8) throw new BpfObjectError(`function '${fn.name}' overruns section '${fn.section.name}'`);
      const v = new DataView(insns.buffer, insns.byteOffset, insns.byteLength);
      const rels = relocs.get(fn.section.index);
      for (let i = 0; i < fn.len; i++) {
        const at = i * 8;
        const code = insns[at]!;
        const src = insns[at + 1]! >> 4;
        const imm = v.getInt32(at + 4, true);
        const r = rels?.get((fn.start + i) * 8);
        const where = `${fn.section.name}+${(fn.start + i) * 8} in '${fn.name}'`;
        const isCall = code === 0x85 && src === 1;
        const isFuncAddr = code === 0x18 && src === PSEUDO_FUNC;
        if (isCall || (isFuncAddr && !r) || (code === 0x18 && r && text && r.sym.shndx === text.index && r.sym.type !== 1)) {
          let tsec = fn.section;
          let tidx: number;
          if (r) {
            if (!text || r.sym.shndx !== text.index) throw new BpfObjectError(`bad relocation at ${where}: call to '${r.sym.name}', which is not a .text function${r.sym.shndx === SHN_UNDEF ? ' (extern functions/kfuncs are not supported)' : ''}`);
            tsec = text;
            tidx = code === 0x85 ? r.sym.value / 8 + imm + 1 : (r.sym.value + imm) / 8;
          } else {
            tidx = fn.start + i + imm + 1;
          }
          const target = funcAt(tsec, tidx);
          if (!target) throw new BpfObjectError(`bad ${code === 0x85 ? 'call' : 'function reference'} at ${where}: instruction ${tidx} of '${tsec.name}' is not inside any function`);
          if (!placed.has(target)) { placed.set(target, total); order.push(target); total += target.len; }
          const rel = placed.get(target)! + (tidx - target.start) - (base + i) - 1;
          v.setInt32(at + 4, rel, true);
          if (code === 0x18) { insns[at + 1] = (insns[at + 1]! & 0x0f) | (PSEUDO_FUNC << 4); i++; }
          continue;
        }
        if (code === 0x85 && src === 0 && r) {
          throw new BpfObjectError(`bad relocation at ${where}: helper call against symbol '${r.sym.name}'${r.sym.shndx === SHN_UNDEF ? ' (extern kfuncs are not supported)' : ''}`);
        }
        if (!r) {
          if (code === 0x18) i++;
          continue;
        }
        if (code !== 0x18) throw new BpfObjectError(`bad relocation at ${where}: relocation against '${r.sym.name}' on an instruction that is not ld_imm64 (opcode 0x${code.toString(16)})`);
        if (i + 1 >= fn.len) throw new BpfObjectError(`bad relocation at ${where}: ld_imm64 is truncated`);
        fixups.push(this.#mapFixup(r.sym, imm, base + i, where));
        i++;
      }
      chunks.push(insns);
    }
    const out = new Uint8Array(total * 8);
    order.forEach((fn, k) => out.set(chunks[k]!, placed.get(fn)! * 8));

    // .BTF.ext records, moved to the final instruction positions.
    let funcInfo: LinkedProgram['funcInfo'];
    let lineInfo: LinkedProgram['lineInfo'];
    const core: LinkedProgram['core'] = [];
    const ext = this.btfExt;
    if (ext) {
      funcInfo = [];
      lineInfo = [];
      for (const fn of order) {
        const base = placed.get(fn)!;
        const lo = fn.start * 8, hi = (fn.start + fn.len) * 8;
        const fi = ext.funcInfoFor(fn.section.name).find((r) => r.insnOff === lo);
        if (!fi) { funcInfo = undefined; } else funcInfo?.push({ insn: base, typeId: fi.typeId });
        for (const l of ext.lineInfoFor(fn.section.name)) {
          if (l.insnOff >= lo && l.insnOff < hi) lineInfo.push({ insn: base + (l.insnOff - lo) / 8, fileNameOff: l.fileNameOff, lineOff: l.lineOff, line: l.line, column: l.column, record: l });
        }
        for (const c of ext.coreRelosFor(fn.section.name)) {
          if (c.insnOff >= lo && c.insnOff < hi) core.push({ insn: base + (c.insnOff - lo) / 8, relo: c });
        }
      }
      if (!funcInfo || funcInfo.length === 0) { funcInfo = undefined; lineInfo = undefined; }
      else lineInfo.sort((a, b) => a.insn - b.insn);
    }
    return { insns: out, functions: order.map((f) => f.name), fixups, funcInfo, lineInfo, core };
  }

  #mapFixup(sym: ElfSymbol, imm: number, pos: number, where: string): MapFixup {
    if (sym.shndx === SHN_UNDEF) {
      const kc = this.#data.get('.kconfig');
      const v = kc?.variables.get(sym.name);
      if (v) return { pos, map: this.#specOf(-2, 0, where, sym), valueOffset: v.offset + imm };
      throw new BpfObjectError(`bad relocation at ${where}: extern '${sym.name}' is not supported (only .kconfig externs are)`);
    }
    const sec = this.elf.sections[sym.shndx];
    if (!sec) throw new BpfObjectError(`bad relocation at ${where}: symbol '${sym.name}' is in section ${sym.shndx}, which does not exist`);
    const specs = this.#mapsBySection.get(sec.index);
    if (!specs) throw new BpfObjectError(`bad relocation at ${where}: symbol '${sym.name}' is in section '${sec.name}', which is neither a map nor global data section`);
    const first = specs[0]!;
    if (first.origin === 'data') {
      const off = imm + sym.value;
      if (off < 0 || off >= Math.max(first.valueSize, 1)) throw new BpfObjectError(`bad relocation at ${where}: offset ${off} is outside '${sec.name}' (${first.valueSize} bytes)`);
      return { pos, map: first, valueOffset: off };
    }
    const off = sym.value + (sym.type === STT_SECTION ? imm : 0);
    return { pos, map: this.#specOf(sec.index, off, where, sym), valueOffset: -1 };
  }

  #specOf(sectionIndex: number, offset: number, where: string, sym: ElfSymbol): MapSpec {
    const spec = this.#mapsBySection.get(sectionIndex)?.find((s) => s.offset === offset);
    if (!spec) throw new BpfObjectError(`bad relocation at ${where}: no map at offset ${offset} (symbol '${sym.name}')`);
    return spec;
  }

  // ---- load --------------------------------------------------------------------------------------------

  /**
   * Creates maps, loads BTF and every program with autoload on. On failure everything created so far is closed
   * and the error (VerifierError with the C source line, BpfError, BtfLoadError, CoreReloError) is thrown.
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
    const btf = this.btf;
    if (btf) this.#btfFd = loadObjectBtf(btf, `BTF of ${this.name}`);
    const btfFd = this.#btfFd?.fd;

    // Maps.
    const created = new Map<MapSpec, BpfMap>();
    const maps: Record<string, BpfMap> = Object.create(null);
    for (const spec of Object.values(this.mapSpecs)) {
      const m = this.#createMap(spec, btfFd);
      created.set(spec, m);
      this.#mapList.push(m);
      maps[spec.name] = m;
    }
    this.#maps = maps;
    // Global data: initial contents, freeze .rodata, then map the memory for TypeScript.
    for (const [spec, m] of created) {
      if (spec.origin !== 'data') continue;
      const gd = this.#data.get(spec.name)!;
      m.update(0, gd.initialBytes());
      const ro = gd.readOnly;
      if (ro) m.freeze();
      gd.bind(m.mmap({ writable: !ro }), ro);
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
      if (!p.autoload) continue;
      const insns = p.instructions.slice();
      const v = new DataView(insns.buffer);
      for (const f of p.fixups) {
        const m = created.get(f.map)!;
        const at = f.pos * 8;
        insns[at + 1] = (insns[at + 1]! & 0x0f) | ((f.valueOffset < 0 ? PSEUDO_MAP_FD : PSEUDO_MAP_VALUE) << 4);
        v.setInt32(at + 4, m.fd, true);
        v.setInt32(at + 12, f.valueOffset < 0 ? 0 : f.valueOffset, true);
      }
      p.coreResults = [];
      if (p.coreRelos.length > 0) {
        if (!btf) throw new BpfObjectError(`program '${p.name}' has CO-RE relocations but the object has no BTF`);
        const tb = coreTarget();
        for (const c of p.coreRelos) {
          try {
            const res = resolveCoreRelo(btf, tb, c.relo);
            patchCoreInsn(insns, c.insn, res);
            p.coreResults.push(res);
          } catch (e) {
            if (e instanceof CoreReloError || e instanceof BtfError) e.message = `program '${p.name}': CO-RE relocation at instruction ${c.insn}: ${e.message}`;
            throw e;
          }
        }
      }
      p.setProgram(this.#loadProgram(p, insns, btfFd));
    }

    // Static map-in-map / prog_array slots.
    for (const init of this.#mapInit) {
      const outer = created.get(init.outer)!;
      let fd: number;
      if (init.target.map) fd = created.get(init.target.map)!.fd;
      else {
        const prog = this.programs[init.target.program!];
        if (!prog) throw new BpfObjectError(`map '${init.outer.name}' slot ${init.slot} refers to '${init.target.program}', which is not a program`);
        if (!prog.loaded) continue;
        fd = prog.fd;
      }
      outer.update(init.slot, fd);
    }
  }

  #createMap(spec: MapSpec, btfFd: number | undefined): BpfMap {
    if ((MAP_TYPE as Record<string, number>)[spec.type] === undefined) throw new BpfObjectError(`map '${spec.name}': unknown map type ${spec.type}`);
    const pinPath = spec.pinning === 1 ? join(this.#options.pinRoot ?? '/sys/fs/bpf', spec.name) : undefined;
    const codecs = this.#codecs(spec);
    if (pinPath && existsSync(pinPath)) {
      const m = BpfMap.fromPin(pinPath, codecs);
      const info = m.info();
      const want = this.#resolvedShape(spec);
      if (info.type !== spec.type || info.keySize !== want.keySize || info.valueSize !== want.valueSize || info.maxEntries !== want.maxEntries || (info.flags & ~MAP_FLAG.inner_map) !== (spec.flags & ~MAP_FLAG.inner_map)) {
        m.close();
        throw new BpfObjectError(`map '${spec.name}': the map pinned at ${pinPath} (${info.type}, key ${info.keySize}, value ${info.valueSize}, ${info.maxEntries} entries, flags 0x${info.flags.toString(16)}) does not match the object's definition`);
      }
      return m;
    }
    let inner: BpfMap | undefined;
    if (spec.inner) inner = this.#createMap({ ...spec.inner, name: spec.name.slice(0, 9) + '.inner', pinning: 0 }, btfFd);
    try {
      const shape = this.#resolvedShape(spec);
      const base = {
        type: spec.type, keySize: shape.keySize || undefined, valueSize: shape.valueSize || undefined, maxEntries: shape.maxEntries,
        flags: spec.flags, name: kernelMapName(this.name, spec), innerMap: inner, mapExtra: spec.mapExtra || undefined, numaNode: spec.numaNode || undefined,
        key: codecs?.key, value: codecs?.value,
      };
      if (base.key) delete (base as { keySize?: number }).keySize;
      if (base.value) delete (base as { valueSize?: number }).valueSize;
      const withBtf = btfFd !== undefined && !NO_BTF_MAP_TYPES.has(spec.type) && spec.valueType !== undefined && (spec.keyType !== undefined || spec.origin === 'data');
      let m: BpfMap;
      if (withBtf) {
        try {
          m = BpfMap.create({ ...base, btf: { fd: btfFd!, keyTypeId: spec.keyType ?? 0, valueTypeId: spec.valueType! } });
        } catch (e) {
          // libbpf retries without BTF when the kernel refuses the map's BTF description.
          if (!(e instanceof BpfError) || e.errno !== 22) throw e;
          m = BpfMap.create(base);
        }
      } else {
        m = BpfMap.create(base);
      }
      if (pinPath) {
        try { m.pin(pinPath); } catch (e) { m.close(); throw e; }
      }
      return m;
    } finally {
      inner?.close();
    }
  }

  #resolvedShape(spec: MapSpec): { keySize: number; valueSize: number; maxEntries: number } {
    let { keySize, valueSize, maxEntries } = spec;
    if (spec.type === 'perf_event_array' || spec.type === 'prog_array' || spec.type === 'array_of_maps' || spec.type === 'hash_of_maps' || spec.type === 'cgroup_array') {
      keySize ||= 4;
      valueSize ||= 4;
    }
    if (spec.type === 'perf_event_array' && maxEntries === 0) maxEntries = possibleCpus();
    return { keySize, valueSize, maxEntries };
  }

  #codecs(spec: MapSpec): { key?: Layout<any>; value?: Layout<any> } | undefined {
    const btf = this.btf;
    if (!btf || spec.origin === 'data') return undefined;
    const out: { key?: Layout<any>; value?: Layout<any> } = {};
    const tryLayout = (id: number | undefined, size: number): Layout<any> | undefined => {
      if (id === undefined) return undefined;
      try {
        const l = btfLayout(btf, id, { u64: 'bigint' });
        return l.size === size ? l : undefined;
      } catch { return undefined; }
    };
    if (!NO_BTF_MAP_TYPES.has(spec.type)) {
      out.key = tryLayout(spec.keyType, spec.keySize);
      out.value = tryLayout(spec.valueType, spec.valueSize);
    }
    return out.key || out.value ? out : undefined;
  }

  #loadProgram(p: ObjectProgram, insns: Uint8Array, btfFd: number | undefined): Program {
    const info = p.info;
    let attachBtfId: number | undefined;
    const tg = info.target;
    if (tg.kind === 'tracing' && tg.tracing !== 'iter' && tg.tracing !== 'freplace') attachBtfId = tracingTargetBtfId(tg.tracing as TracingKind, tg.target);
    let flags = 0;
    if (info.sleepable) flags |= PROG_FLAG.sleepable;
    if (info.xdpFrags) flags |= PROG_FLAG.xdp_has_frags;
    const btfOpt = btfFd !== undefined && p.funcInfo ? {
      fd: btfFd,
      funcInfo: encodeFuncInfo(p.funcInfo), funcInfoRecSize: 8, funcInfoCount: p.funcInfo.length,
      lineInfo: p.lineInfo && p.lineInfo.length ? encodeLineInfo(p.lineInfo) : undefined, lineInfoRecSize: 16, lineInfoCount: p.lineInfo?.length ?? 0,
    } : undefined;
    try {
      return Program.load({
        type: info.programType, instructions: insns, license: this.license || 'GPL', name: p.name.slice(0, 15).replace(/[^A-Za-z0-9_.]/g, '_'),
        expectedAttachType: info.expectedAttachType, attachBtfId, flags, btf: btfOpt, logLevel: this.#options.logLevel,
      });
    } catch (e) {
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
    for (const l of this.#links.splice(0)) { try { l.close(); } catch { /* already gone */ } }
    for (const p of Object.values(this.programs)) {
      try { if (p.loaded) p.program.close(); } catch { /* closed */ }
      p.setProgram(undefined);
    }
    for (const m of this.#mapList.splice(0)) m.close();
    this.#maps = undefined;
    this.#btfFd?.close();
    this.#btfFd = undefined;
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

// ---- helpers -----------------------------------------------------------------------------------------

/** A variable whose layout is built on first use (layouts compile decoders: too slow to build for every open). */
function lazyVariable(btf: Btf, name: string, offset: number, size: number, type: number): GlobalVariable {
  let layout: Layout<any> | undefined;
  return {
    name, offset, size, type,
    get layout(): Layout<any> {
      if (!layout) {
        try { layout = btfLayout(btf, type); } catch { layout = t.bytes(size); }
        if (layout.size !== size) layout = t.bytes(size);
      }
      return layout;
    },
  };
}

function cstr(b: Uint8Array): string {
  const nul = b.indexOf(0);
  return Buffer.from(b.buffer, b.byteOffset, nul < 0 ? b.length : nul).toString('latin1');
}

const MAP_TYPE_NAMES = new Map<number, MapTypeName>(Object.entries(MAP_TYPE).map(([k, v]) => [v, k as MapTypeName]));

function mapTypeName(n: number | undefined, map: string): MapTypeName {
  if (n === undefined) throw new BpfObjectError(`map '${map}' has no type (add __uint(type, BPF_MAP_TYPE_...))`);
  const name = MAP_TYPE_NAMES.get(n);
  if (name) return name;
  throw new BpfObjectError(`map '${map}': unknown map type ${n}`);
}

function btfMapSpec(def: BtfMapDefinition, sectionIndex: number, offset: number, defSize: number): MapSpec {
  const inner = def.inner ? btfMapSpec({ ...def.inner, name: `${def.name}.inner` }, -1, -1, 0) : undefined;
  return {
    name: def.name, type: mapTypeName(def.type, def.name), keySize: def.keySize ?? 0, valueSize: def.valueSize ?? 0,
    maxEntries: def.maxEntries ?? 0, flags: def.mapFlags ?? 0, pinning: def.pinning ?? 0, numaNode: def.numaNode ?? 0,
    mapExtra: def.mapExtra ?? 0, keyType: def.keyType, valueType: def.valueType, inner, origin: 'btf', sectionIndex, offset, defSize,
  };
}

function legacyMapSpecs(sec: ElfSection, symbols: ElfSymbol[]): MapSpec[] {
  const syms = symbols.filter((s) => s.shndx === sec.index && s.type !== STT_SECTION && s.name).sort((a, b) => a.value - b.value);
  if (syms.length === 0) return [];
  const out: MapSpec[] = [];
  const v = new DataView(sec.data.buffer, sec.data.byteOffset, sec.data.byteLength);
  for (let i = 0; i < syms.length; i++) {
    const s = syms[i]!;
    const size = s.size || (i + 1 < syms.length ? syms[i + 1]!.value : sec.size) - s.value;
    if (size < 16 || s.value + size > sec.data.length) throw new BpfObjectError(`legacy map '${s.name}': definition [${s.value}, +${size}) is too small or outside the 'maps' section`);
    const u = (o: number): number => (o + 4 <= size ? v.getUint32(s.value + o, true) : 0);
    out.push({
      name: s.name, type: mapTypeName(u(0), s.name), keySize: u(4), valueSize: u(8), maxEntries: u(12), flags: u(16),
      pinning: size >= 28 ? u(24) : 0, numaNode: 0, mapExtra: 0, origin: 'legacy', sectionIndex: sec.index, offset: s.value, defSize: size,
    });
  }
  return out;
}

/** libbpf's internal map naming: `<object prefix><.section>` in 15 characters, other maps by their own name. */
function kernelMapName(object: string, spec: MapSpec): string {
  const clean = (s: string) => s.replace(/[^A-Za-z0-9_.]/g, '_');
  if (spec.origin !== 'data') return clean(spec.name).slice(0, 15);
  const sfx = Math.min(15, Math.max(7, spec.name.length));
  const pfx = Math.min(15 - sfx, object.length);
  return clean(object.slice(0, pfx) + spec.name.slice(0, sfx)).slice(0, 15);
}

function encodeFuncInfo(recs: { insn: number; typeId: number }[]): Uint8Array {
  const out = new Uint8Array(recs.length * 8);
  const v = new DataView(out.buffer);
  recs.forEach((r, i) => { v.setUint32(i * 8, r.insn, true); v.setUint32(i * 8 + 4, r.typeId, true); });
  return out;
}

function encodeLineInfo(recs: LinkedLine[]): Uint8Array {
  const out = new Uint8Array(recs.length * 16);
  const v = new DataView(out.buffer);
  recs.forEach((r, i) => {
    const o = i * 16;
    v.setUint32(o, r.insn, true); v.setUint32(o + 4, r.fileNameOff, true); v.setUint32(o + 8, r.lineOff, true);
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
  try { text = gunzipSync(readFile('/proc/config.gz')).toString('utf8'); } catch {
    try { text = readFile(`/boot/config-${release()}`, 'utf8'); } catch { /* none */ }
  }
  if (text) for (const line of text.split('\n')) {
    const m = /^(CONFIG_[A-Za-z0-9_]+)=(.*)$/.exec(line);
    if (m) kcfg.set(m[1]!, m[2]!);
  }
  return kcfg;
}

function writeKconfig(gd: GlobalData, v: GlobalVariable, value: number | bigint | boolean | string): void {
  let x: number | bigint | string = typeof value === 'boolean' ? (value ? 1 : 0) : value;
  if (typeof x === 'string') {
    // Kconfig: y/m/n tristates (libbpf's enum libbpf_tristate: n=0, y=1, m=2), numbers, quoted strings.
    if (x === 'y') x = 1; else if (x === 'm') x = 2; else if (x === 'n') x = 0;
    else if (/^-?(0x[0-9a-fA-F]+|\d+)$/.test(x)) x = BigInt(x);
    else if (/^".*"$/.test(x)) x = x.slice(1, -1);
  }
  const view = new DataView(gd.initialBytes().buffer, gd.initialBytes().byteOffset, gd.size);
  if (typeof x === 'string') {
    const b = Buffer.from(x, 'utf8').subarray(0, Math.max(0, v.size - 1));
    new Uint8Array(view.buffer, view.byteOffset + v.offset, v.size).set(b);
    return;
  }
  const n = BigInt(x);
  for (let i = 0; i < v.size && i < 8; i++) view.setUint8(v.offset + i, Number((BigInt.asUintN(64, n) >> BigInt(8 * i)) & 0xffn));
}
