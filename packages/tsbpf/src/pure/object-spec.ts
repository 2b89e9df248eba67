/**
 * ObjectSpec: a clang-compiled, libbpf-style BPF object (`clang -O2 -g -target bpf -c x.bpf.c`) as plain data.
 *
 * `ObjectSpec.parse(bytes)` reads the ELF, BTF and `.BTF.ext`, collects map definitions (BTF `.maps`, the legacy
 * `maps` section), global data (`.data*`, `.rodata*`, `.bss*`) and externs (`.kconfig`, `.ksyms`, kfuncs), links
 * every program (subprograms appended, calls rebased) and records its relocations. CO-RE relocations resolve
 * against a target BTF you give (`options.targetBtf` or `spec.resolveCore(btf)`); otherwise the loader resolves
 * them against the running kernel's BTF. Nothing here touches the kernel, the filesystem or the addon: parsing
 * and linking run (and are tested) without root.
 *
 * A spec is a value: `copy()` it, edit map sizes, `.rodata` constants or program instructions, and load it any
 * number of times (`BpfObject.load(spec)` in the kernel layer).
 *
 * ```ts
 * const spec = ObjectSpec.parse(readFileSync('prog.bpf.o'));
 * spec.maps.events!.maxEntries = 1 << 20;
 * spec.rodata!.set('min_pid', 100);
 * using obj = BpfObject.load(spec);
 * ```
 */
import {
  Elf,
  EM_BPF,
  ET_REL,
  SHF_ALLOC,
  SHF_EXECINSTR,
  SHN_UNDEF,
  SHT_NOBITS,
  SHT_PROGBITS,
  STB_LOCAL,
  STT_SECTION,
  type ElfSection,
  type ElfSymbol,
} from './elf.js';
import { Btf, BTF_KIND, type BtfDatasec } from './btf.js';
import { BtfExt } from './btf-ext.js';
import { parseBtfMaps, type BtfMapDefinition } from './btf-maps.js';
import { patchCoreInsn, resolveCoreRelo, CoreReloError, type CoreReloResult } from './core-relo.js';
import { BtfError } from './btf.js';
import { parseSectionName, type SectionInfo } from './section-names.js';
import { hiddenSubprograms, markFuncsStatic } from './btf-linkage.js';
import { MAP_FLAG, MAP_TYPE, type MapTypeName } from './uapi.js';
import { copyMapSpec, type MapSpec } from './map-spec.js';
import { TsbpfError } from './errors.js';
import { BpfObjectError, GlobalData, lazyVariable, rawVariable, type GlobalVariable } from './global-data.js';
import {
  functionsOf,
  linkProgram,
  relocationsOf,
  type CoreRecord,
  type FuncInfoRecord,
  type InsnRelocation,
  type LineInfoRecord,
} from './linker.js';

export { BpfObjectError } from './global-data.js';
export type { InsnRelocation, FuncInfoRecord, LineInfoRecord, CoreRecord } from './linker.js';

/** One program of an object: linked instructions and everything the loader needs to load it. */
export interface ProgramSpec {
  /** Function name. */
  name: string;
  /** ELF section (`SEC("...")`). */
  section: string;
  /** Program type, expected attach type and attach target, from the section name. */
  info: SectionInfo;
  /** License (the object's `license` section; GPL when absent). */
  license: string;
  /**
   * Linked instructions (raw 8-byte insns; `decodeInsns` gives RawInsn[]): main function first, then subprograms;
   * map/extern relocations and CO-RE not applied (see `relocations`, `core`, `coreInstructions`).
   */
  instructions: Uint8Array;
  /** Functions linked in, in order (main first). */
  functions: string[];
  /** Function name → first instruction index in `instructions`. */
  offsets: Record<string, number>;
  /** ld_imm64 / kfunc relocations to apply at load. */
  relocations: InsnRelocation[];
  /** func_info (BTF.ext), at linked positions; undefined without BTF.ext. */
  funcInfo: FuncInfoRecord[] | undefined;
  /** line_info (BTF.ext), at linked positions. */
  lineInfo: LineInfoRecord[] | undefined;
  /** CO-RE relocations; `result` is set once resolved (`resolveCore`). */
  core: CoreRecord[];
  /** Load this program (false: skip it, like bpf_program__set_autoload). */
  autoload: boolean;
}

/**
 * An extern variable or function the object uses, resolved at load:
 * - `kconfig`: `extern T CONFIG_X __kconfig;` (and LINUX_KERNEL_VERSION, ...), a slot of the `.kconfig` map at
 *   `offset` (`size` bytes);
 * - `ksym`: `extern T sym __ksym;` (typed or `void` kernel variable);
 * - `kfunc`: an extern function called by a program.
 */
export interface ExternSpec {
  name: string;
  kind: 'kconfig' | 'ksym' | 'kfunc';
  /** `__weak`: missing is not an error (the value stays 0). */
  weak: boolean;
  /** BTF id of the VAR / FUNC in the object's BTF (0 without BTF). */
  typeId: number;
  /** kconfig: offset and size in the `.kconfig` map. */
  offset: number;
  size: number;
}

/** A variable of a global data section (name unique across the object). */
export interface VariableSpec {
  name: string;
  /** Section (and map) name: `.rodata`, `.bss`, `.data.custom`, `.kconfig`. */
  section: string;
  offset: number;
  size: number;
  /** BTF type id (object BTF); 0 without BTF. */
  typeId: number;
}

/** Options for ObjectSpec.parse. */
export interface ObjectSpecParseOptions {
  /** Object name (prefix of global data map names); default 'obj'. Also labels parse errors. */
  name?: string;
  /** Resolve CO-RE now against this BTF (raw bytes or parsed); default: left for the loader. */
  targetBtf?: Btf | Uint8Array;
}

const DATA_SECTION = /^\.(data|rodata|bss)(\..*)?$/;
const KCONFIG = '.kconfig';
const KSYMS = '.ksyms';
const STV_HIDDEN = 2;
const STB_WEAK = 2;
const SHT_REL = 9;
const SHT_RELA = 4;
const LEGACY_MAP_DEF_MIN = 16;
const LEGACY_PINNING_END = 28;
const KCONFIG_ALIGN_MAX = 8;

/** Metadata shared by copies of a spec (immutable after parse). */
interface SharedMeta {
  /** Variables per data section, for GlobalData views. */
  sectionVars: Map<string, Map<string, GlobalVariable>>;
}

/** What an ObjectSpec is made of (ObjectSpec.parse and copy() build it). */
interface ObjectSpecInit {
  name: string;
  license: string;
  btf: Btf | undefined;
  btfExt: BtfExt | undefined;
  maps: Record<string, MapSpec>;
  programs: Record<string, ProgramSpec>;
  variables: Record<string, VariableSpec>;
  externs: Record<string, ExternSpec>;
  meta: SharedMeta;
}
// Set by ObjectSpec's static block: parse() builds specs outside the class body.
let newObjectSpec: (init: ObjectSpecInit) => ObjectSpec;

/** A parsed BPF object: maps, programs, variables and externs, as editable plain data. */
export class ObjectSpec {
  /** Object name (prefix of global data map names in the kernel). */
  name: string;
  /** The `license` section ('' when absent; loaders default to GPL). */
  license: string;
  /** Object BTF (DATASECs fixed up, `.kconfig` laid out). Shared by copies: treat as read-only. */
  readonly btf: Btf | undefined;
  /** Object `.BTF.ext`. Shared by copies. */
  readonly btfExt: BtfExt | undefined;
  /** Maps by name: `.maps` / legacy names and global data sections (`.rodata`, `.bss`, `.kconfig`, ...). */
  maps: Record<string, MapSpec>;
  /** Programs by function name. */
  programs: Record<string, ProgramSpec>;
  /**
   * Global variables by name (where each lives; informational). Their bytes live in the data map's `contents`:
   * read and edit them through `spec.data(section)` / `spec.rodata`.
   */
  variables: Record<string, VariableSpec>;
  /** Externs by name (kconfig, ksym, kfunc): resolved at load. */
  externs: Record<string, ExternSpec>;
  readonly #meta: SharedMeta;

  static {
    newObjectSpec = (init) => new ObjectSpec(init);
  }

  /** Specs come from ObjectSpec.parse and copy(). */
  private constructor(init: ObjectSpecInit) {
    this.name = init.name;
    this.license = init.license;
    this.btf = init.btf;
    this.btfExt = init.btfExt;
    this.maps = init.maps;
    this.programs = init.programs;
    this.variables = init.variables;
    this.externs = init.externs;
    this.#meta = init.meta;
  }

  /**
   * Parses an object's bytes. Throws ElfError / BtfError / BpfObjectError / SectionNameError (or CoreReloError
   * with `targetBtf`) with a clear message for malformed input; any other failure is wrapped in BpfObjectError.
   */
  static parse(bytes: Uint8Array, options: ObjectSpecParseOptions = {}): ObjectSpec {
    if (!(bytes instanceof Uint8Array)) throw new TypeError('tsbpf: ObjectSpec.parse expects a Uint8Array');
    if (options === null || typeof options !== 'object')
      throw new TypeError('tsbpf: ObjectSpec.parse options must be an object');
    let spec: ObjectSpec;
    try {
      spec = parseObject(bytes, options.name ?? 'obj');
    } catch (e) {
      if (e instanceof TsbpfError) throw e;
      // Anything else (a DataView range error on a mangled table) is still a malformed object.
      throw new BpfObjectError(`malformed object: ${(e as Error)?.message ?? String(e)}`, { cause: e });
    }
    if (options.targetBtf !== undefined) spec.resolveCore(options.targetBtf);
    return spec;
  }

  /** A deep copy: maps (with contents), programs (instructions, records), variables, externs. BTF is shared. */
  copy(): ObjectSpec {
    const maps: Record<string, MapSpec> = Object.create(null);
    for (const [k, m] of Object.entries(this.maps)) maps[k] = copyMapSpec(m);
    const programs: Record<string, ProgramSpec> = Object.create(null);
    for (const [k, p] of Object.entries(this.programs)) programs[k] = copyProgramSpec(p);
    const variables: Record<string, VariableSpec> = Object.create(null);
    for (const [k, v] of Object.entries(this.variables)) variables[k] = { ...v };
    const externs: Record<string, ExternSpec> = Object.create(null);
    for (const [k, v] of Object.entries(this.externs)) externs[k] = { ...v };
    return new ObjectSpec({
      name: this.name,
      license: this.license,
      btf: this.btf,
      btfExt: this.btfExt,
      maps,
      programs,
      variables,
      externs,
      meta: this.#meta,
    });
  }

  /** A program by name; throws listing the names when absent. */
  program(name: string): ProgramSpec {
    const p = this.programs[name];
    if (!p)
      throw new RangeError(
        `tsbpf: no program "${name}" in ${this.name} (programs: ${Object.keys(this.programs).join(', ') || 'none'})`,
      );
    return p;
  }

  /**
   * Typed view of a global data section's initial contents (`.rodata`, `.data`, `.bss`, `.kconfig`,
   * `.data.x`); writes edit this spec. Undefined when the object has no such section.
   */
  data(section: string): GlobalData | undefined {
    const m = this.maps[section];
    if (m?.origin !== 'data') return undefined;
    const bytes = dataBytes(m);
    return new GlobalData(
      section,
      bytes,
      section.startsWith('.rodata') || section === KCONFIG,
      this.#meta.sectionVars.get(section) ?? new Map(),
    );
  }

  /** `.rodata` constants (edit before loading). */
  get rodata(): GlobalData | undefined {
    return this.data('.rodata');
  }
  /** `.data` initial values. */
  get dataSection(): GlobalData | undefined {
    return this.data('.data');
  }
  /** `.bss` initial values (zero unless edited). */
  get bss(): GlobalData | undefined {
    return this.data('.bss');
  }

  /**
   * Resolves every program's CO-RE relocations against `target` (the kernel's BTF, or any other), replacing
   * earlier results. Throws CoreReloError naming the program and instruction when a relocation cannot resolve.
   */
  resolveCore(target: Btf | Uint8Array): this {
    const tb = target instanceof Btf ? target : Btf.parse(target);
    for (const p of Object.values(this.programs)) resolveProgramCore(this, p, tb);
    return this;
  }
}

/** Resolves one program's CO-RE records against `target` (sets each record's `result`). */
export function resolveProgramCore(spec: ObjectSpec, p: ProgramSpec, target: Btf): void {
  if (p.core.length === 0) return;
  const btf = spec.btf;
  if (!btf) throw new BpfObjectError(`program '${p.name}' has CO-RE relocations but the object has no BTF`);
  for (const c of p.core) {
    try {
      c.result = resolveCoreRelo(btf, target, c.relo);
    } catch (e) {
      if (e instanceof CoreReloError || e instanceof BtfError)
        e.message = `program '${p.name}': CO-RE relocation at instruction ${c.insn}: ${e.message}`;
      throw e;
    }
  }
}

/**
 * The program's instructions with its resolved CO-RE results applied (a copy; map and extern relocations are
 * left for the loader). Throws when a CO-RE record is unresolved.
 */
export function coreInstructions(p: ProgramSpec): { instructions: Uint8Array; results: CoreReloResult[] } {
  const insns = p.instructions.slice();
  const results: CoreReloResult[] = [];
  for (const c of p.core) {
    if (!c.result)
      throw new BpfObjectError(
        `program '${p.name}': CO-RE relocation at instruction ${c.insn} is not resolved (call resolveCore first)`,
      );
    patchCoreInsn(insns, c.insn, c.result);
    results.push(c.result);
  }
  return { instructions: insns, results };
}

/** The bytes of a data map spec (its key-0 contents), created zeroed at the map's value size when missing. */
export function dataBytes(m: MapSpec): Uint8Array {
  const size = m.valueSize ?? 0;
  const e = m.contents?.find((x) => x.key === 0);
  if (e && e.value instanceof Uint8Array) return e.value;
  const value = new Uint8Array(size);
  (m.contents ??= []).push({ key: 0, value });
  return value;
}

function copyProgramSpec(p: ProgramSpec): ProgramSpec {
  return {
    ...p,
    instructions: p.instructions.slice(),
    functions: [...p.functions],
    offsets: { ...p.offsets },
    relocations: p.relocations.map((r) => ({ ...r })),
    funcInfo: p.funcInfo?.map((r) => ({ ...r })),
    lineInfo: p.lineInfo?.map((r) => ({ ...r })),
    core: p.core.map((c) => ({ ...c })),
  };
}

// ---- parsing -------------------------------------------------------------------------------------------

interface MapPlace {
  spec: MapSpec;
  sectionIndex: number;
  offset: number;
  defSize: number;
}

function parseObject(bytes: Uint8Array, name: string): ObjectSpec {
  const elf = Elf.parse(bytes, { machine: EM_BPF });
  if (elf.header.type !== ET_REL)
    throw new BpfObjectError(`not a relocatable object (e_type ${elf.header.type}); compile with clang -target bpf -c`);
  const lic = elf.section('license');
  const license = lic ? cstr(lic.data) : '';
  const symbols = elf.symbols();

  // BTF and .BTF.ext.
  const btfSec = elf.section('.BTF');
  let btf: Btf | undefined;
  if (btfSec) {
    btf = Btf.parse(btfSec.data);
    btf.fixupDataSections(
      (n) => elf.section(n)?.size ?? (n === KCONFIG || n === KSYMS ? 0 : undefined),
      (sec, v) => {
        const s = elf.section(sec);
        const sym = s && symbols.find((x) => x.shndx === s.index && x.name === v);
        return sym ? { offset: sym.value, hidden: sym.visibility === STV_HIDDEN } : undefined;
      },
    );
    // Hidden global subprograms are static for the verifier, as libbpf (#15 item 2).
    const textSec = elf.section('.text');
    if (textSec) markFuncsStatic(btf, hiddenSubprograms(symbols, textSec.index));
  }
  const extSec = elf.section('.BTF.ext');
  const btfExt = btf && extSec ? BtfExt.parse(extSec.data, btf) : undefined;

  // Maps, with where each definition lives (relocations point there).
  const maps: Record<string, MapSpec> = Object.create(null);
  const places: MapPlace[] = [];
  const addMap = (p: MapPlace): void => {
    const n = p.spec.name!;
    if (maps[n]) throw new BpfObjectError(`duplicate map name '${n}'`);
    maps[n] = p.spec;
    places.push(p);
  };
  const mapsSec = elf.section('.maps');
  if (mapsSec) {
    if (!btf) throw new BpfObjectError('the object has a .maps section but no .BTF: compile with -g');
    for (const def of parseBtfMaps(btf)) {
      const sym = symbols.find((x) => x.shndx === mapsSec.index && x.name === def.name);
      addMap({
        spec: btfMapSpec(def),
        sectionIndex: mapsSec.index,
        offset: sym ? sym.value : def.offset,
        defSize: def.size,
      });
    }
    collectMapSlots(elf, btf, mapsSec, places);
  }
  const legacy = elf.section('maps');
  if (legacy) for (const p of legacyMapSpecs(legacy, symbols)) addMap(p);

  // Global data.
  const variables: Record<string, VariableSpec> = Object.create(null);
  const sectionVars = new Map<string, Map<string, GlobalVariable>>();
  for (const sec of elf.sections) {
    if (
      !DATA_SECTION.test(sec.name) ||
      !(sec.flags & SHF_ALLOC) ||
      (sec.type !== SHT_PROGBITS && sec.type !== SHT_NOBITS)
    )
      continue;
    if (sec.size === 0) continue;
    const readOnly = sec.name.startsWith('.rodata');
    const vars = sectionVariables(elf, btf, sec.name, sec.size);
    sectionVars.set(sec.name, vars);
    for (const v of vars.values())
      variables[v.name] ??= { name: v.name, section: sec.name, offset: v.offset, size: v.size, typeId: v.type };
    const initial = new Uint8Array(sec.size);
    if (sec.type !== SHT_NOBITS) initial.set(sec.data.subarray(0, sec.size));
    addMap({
      spec: {
        name: sec.name,
        type: 'array',
        keySize: 4,
        valueSize: sec.size,
        maxEntries: 1,
        flags: MAP_FLAG.mmapable | (readOnly ? MAP_FLAG.rdonly_prog : 0),
        pinning: 0,
        numaNode: 0,
        mapExtra: 0,
        valueTypeId: btf?.findByName(sec.name, 'datasec'),
        origin: 'data',
        contents: [{ key: 0, value: initial }],
      },
      sectionIndex: sec.index,
      offset: 0,
      defSize: sec.size,
    });
  }

  // Externs: .kconfig variables get a read-only data map (filled at load), .ksyms variables are recorded.
  const externs: Record<string, ExternSpec> = Object.create(null);
  const kconfig = layoutKconfig(btf, symbols, externs);
  if (kconfig) {
    sectionVars.set(KCONFIG, kconfig.vars);
    for (const v of kconfig.vars.values())
      variables[v.name] ??= { name: v.name, section: KCONFIG, offset: v.offset, size: v.size, typeId: v.type };
    addMap({
      spec: {
        name: KCONFIG,
        type: 'array',
        keySize: 4,
        valueSize: kconfig.size,
        maxEntries: 1,
        flags: MAP_FLAG.mmapable | MAP_FLAG.rdonly_prog,
        pinning: 0,
        numaNode: 0,
        mapExtra: 0,
        valueTypeId: kconfig.id,
        origin: 'data',
        contents: [{ key: 0, value: new Uint8Array(kconfig.size) }],
      },
      sectionIndex: -1,
      offset: 0,
      defSize: kconfig.size,
    });
  }
  recordKsyms(btf, symbols, externs);

  // Programs.
  const funcs = functionsOf(elf, symbols);
  const relocs = relocationsOf(elf);
  const programs: Record<string, ProgramSpec> = Object.create(null);
  const text = elf.section('.text');
  const resolve = symbolResolver(elf, places, externs);
  for (const sec of elf.sections) {
    if (!(sec.flags & SHF_EXECINSTR) || sec.size === 0 || sec.type !== SHT_PROGBITS) continue;
    if (text && sec.index === text.index) continue;
    let info: SectionInfo;
    try {
      info = parseSectionName(sec.name);
    } catch (e) {
      throw new BpfObjectError(`${(e as Error).message}`);
    }
    for (const fn of funcs.get(sec.index) ?? []) {
      if (fn.symbol.bind === STB_LOCAL)
        throw new BpfObjectError(
          `program '${fn.name}' in section '${sec.name}' is static: BPF programs must be global functions`,
        );
      if (programs[fn.name]) throw new BpfObjectError(`duplicate program name '${fn.name}'`);
      const linked = linkProgram(fn, funcs, relocs, text, btfExt, resolve);
      for (const r of linked.relocations) {
        if (r.kind === 'kfunc' && !externs[r.extern]) {
          const id = btf?.findByName(r.extern, 'func');
          const sym = symbols.find((s) => s.name === r.extern && s.shndx === SHN_UNDEF);
          externs[r.extern] = {
            name: r.extern,
            kind: 'kfunc',
            weak: sym?.bind === STB_WEAK,
            typeId: id ?? 0,
            offset: 0,
            size: 0,
          };
        }
      }
      programs[fn.name] = {
        name: fn.name,
        section: sec.name,
        info,
        license,
        instructions: linked.instructions,
        functions: linked.functions,
        offsets: linked.offsets,
        relocations: linked.relocations,
        funcInfo: linked.funcInfo,
        lineInfo: linked.lineInfo,
        core: linked.core,
        autoload: true,
      };
    }
  }
  return newObjectSpec({
    name,
    license,
    btf,
    btfExt,
    maps,
    programs,
    variables,
    externs,
    meta: { sectionVars },
  });
}

/** Relocation of a data/map/extern symbol → record. */
function symbolResolver(elf: Elf, places: MapPlace[], externs: Record<string, ExternSpec>) {
  const bySection = new Map<number, MapPlace[]>();
  for (const p of places) {
    const l = bySection.get(p.sectionIndex) ?? [];
    l.push(p);
    bySection.set(p.sectionIndex, l);
  }
  return (sym: ElfSymbol, imm: number, insn: number, where: string): InsnRelocation => {
    if (sym.shndx === SHN_UNDEF) {
      const ext = externs[sym.name];
      // A kfunc as a value (`bpf_ksym_exists(kfunc)`) is an extern load too.
      if (ext) return { kind: 'extern', insn, extern: sym.name, offset: imm };
      throw new BpfObjectError(
        `bad relocation at ${where}: extern '${sym.name}' is neither a .kconfig nor a .ksyms variable`,
      );
    }
    const sec = elf.sections[sym.shndx];
    if (!sec)
      throw new BpfObjectError(
        `bad relocation at ${where}: symbol '${sym.name}' is in section ${sym.shndx}, which does not exist`,
      );
    const list = bySection.get(sec.index);
    if (!list)
      throw new BpfObjectError(
        `bad relocation at ${where}: symbol '${sym.name}' is in section '${sec.name}', which is neither a map nor global data section`,
      );
    const first = list[0]!;
    if (first.spec.origin === 'data') {
      const off = imm + sym.value;
      if (off < 0 || off >= Math.max(first.defSize, 1))
        throw new BpfObjectError(
          `bad relocation at ${where}: offset ${off} is outside '${sec.name}' (${first.defSize} bytes)`,
        );
      return { kind: 'data', insn, map: first.spec.name!, offset: off };
    }
    const off = sym.value + (sym.type === STT_SECTION ? imm : 0);
    const p = list.find((x) => x.offset === off);
    if (!p) throw new BpfObjectError(`bad relocation at ${where}: no map at offset ${off} (symbol '${sym.name}')`);
    return { kind: 'map', insn, map: p.spec.name! };
  };
}

function sectionVariables(elf: Elf, btf: Btf | undefined, section: string, size: number): Map<string, GlobalVariable> {
  const out = new Map<string, GlobalVariable>();
  const id = btf?.findByName(section, 'datasec');
  if (btf && id !== undefined) {
    const ds = btf.type(id) as BtfDatasec;
    for (const vs of ds.vars) {
      const v = btf.type(vs.type);
      if (v.kind !== BTF_KIND.var) continue;
      if (vs.offset + vs.size > size)
        throw new BpfObjectError(
          `variable '${v.name}' [${vs.offset}, +${vs.size}) is outside section ${section} (${size} bytes)`,
        );
      out.set(v.name, lazyVariable(btf, v.name, vs.offset, vs.size, v.type));
    }
    return out;
  }
  // No BTF: fall back to ELF symbols as raw bytes.
  const sec = elf.section(section);
  if (sec) {
    for (const s of elf.symbols()) {
      if (s.shndx !== sec.index || s.type === STT_SECTION || !s.name || s.size === 0) continue;
      if (s.value + s.size > size) continue;
      out.set(s.name, rawVariable(s.name, s.value, s.size));
    }
  }
  return out;
}

/** Lays the `.kconfig` externs out in order, naturally aligned (as libbpf does), and records them. */
function layoutKconfig(
  btf: Btf | undefined,
  symbols: ElfSymbol[],
  externs: Record<string, ExternSpec>,
): { id: number; size: number; vars: Map<string, GlobalVariable> } | undefined {
  const id = btf?.findByName(KCONFIG, 'datasec');
  if (!btf || id === undefined) return undefined;
  const ds = btf.type(id) as BtfDatasec;
  let off = 0;
  const vars = new Map<string, GlobalVariable>();
  for (const vs of ds.vars) {
    const v = btf.type(vs.type);
    if (v.kind !== BTF_KIND.var) continue;
    const size = btf.sizeOf(v.type);
    const align = Math.max(1, Math.min(KCONFIG_ALIGN_MAX, btf.alignOf(v.type)));
    off = Math.ceil(off / align) * align;
    vs.offset = off;
    vs.size = size;
    vars.set(v.name, lazyVariable(btf, v.name, off, size, v.type));
    const sym = symbols.find((s) => s.name === v.name && s.shndx === SHN_UNDEF);
    externs[v.name] = {
      name: v.name,
      kind: 'kconfig',
      weak: sym?.bind === STB_WEAK,
      typeId: vs.type,
      offset: off,
      size,
    };
    off += size;
  }
  const size = Math.max(Math.ceil(off / KCONFIG_ALIGN_MAX) * KCONFIG_ALIGN_MAX, KCONFIG_ALIGN_MAX);
  ds.size = size;
  return { id, size, vars };
}

/** `.ksyms` externs (`extern const T sym __ksym;`, and kfuncs declared there) → ExternSpec. */
function recordKsyms(btf: Btf | undefined, symbols: ElfSymbol[], externs: Record<string, ExternSpec>): void {
  const id = btf?.findByName(KSYMS, 'datasec');
  if (!btf || id === undefined) return;
  const ds = btf.type(id) as BtfDatasec;
  for (const vs of ds.vars) {
    const v = btf.type(vs.type);
    if (v.kind !== BTF_KIND.var && v.kind !== BTF_KIND.func) continue;
    const sym = symbols.find((s) => s.name === v.name && s.shndx === SHN_UNDEF);
    externs[v.name] = {
      name: v.name,
      kind: v.kind === BTF_KIND.func ? 'kfunc' : 'ksym',
      weak: sym?.bind === STB_WEAK,
      typeId: vs.type,
      offset: 0,
      size: 0,
    };
  }
}

/** Static map-in-map / prog_array initialisers (`.rel.maps` entries pointing at maps or programs) → outer map contents. */
function collectMapSlots(elf: Elf, btf: Btf, mapsSec: ElfSection, places: MapPlace[]): void {
  const relSec = elf.sections.find((s) => (s.type === SHT_REL || s.type === SHT_RELA) && s.info === mapsSec.index);
  if (!relSec) return;
  const rs = elf.relocationsOf(relSec);
  const syms = elf.symbolsOf(rs.symtab);
  const list = places.filter((p) => p.sectionIndex === mapsSec.index);
  for (const rel of rs.relocations) {
    const outer = list.find((s) => rel.offset >= s.offset && rel.offset < s.offset + s.defSize);
    if (!outer)
      throw new BpfObjectError(`bad relocation in '.rel.maps' at offset ${rel.offset}: not inside any map definition`);
    const valuesOff = valuesOffset(btf, outer.spec.name!);
    if (
      valuesOff === undefined ||
      rel.offset < outer.offset + valuesOff ||
      (rel.offset - outer.offset - valuesOff) % 8 !== 0
    ) {
      throw new BpfObjectError(
        `bad relocation in '.rel.maps' at offset ${rel.offset}: not a values[] slot of map '${outer.spec.name}'`,
      );
    }
    const slot = (rel.offset - outer.offset - valuesOff) / 8;
    const sym = syms[rel.symbolIndex]!;
    let value: { map: string } | { program: string };
    if (sym.shndx === mapsSec.index) {
      const inner = list.find((s) => s.offset === sym.value);
      if (!inner) throw new BpfObjectError(`bad relocation in '.rel.maps': symbol '${sym.name}' is not a map`);
      value = { map: inner.spec.name! };
    } else {
      value = { program: sym.name };
    }
    (outer.spec.contents ??= []).push({ key: slot, value });
  }
}

function valuesOffset(btf: Btf, name: string): number | undefined {
  const varId = btf.findByName(name, 'var');
  if (varId === undefined) return undefined;
  const v = btf.type(varId);
  if (v.kind !== BTF_KIND.var) return undefined;
  return btf.findMember(v.type, 'values')?.byteOffset;
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

function btfMapSpec(def: BtfMapDefinition): MapSpec {
  const inner = def.inner ? btfMapSpec({ ...def.inner, name: `${def.name}.inner` }) : undefined;
  return {
    name: def.name,
    type: mapTypeName(def.type, def.name),
    keySize: def.keySize ?? 0,
    valueSize: def.valueSize ?? 0,
    maxEntries: def.maxEntries ?? 0,
    flags: def.mapFlags ?? 0,
    pinning: def.pinning ?? 0,
    numaNode: def.numaNode ?? 0,
    mapExtra: def.mapExtra ?? 0,
    keyTypeId: def.keyType,
    valueTypeId: def.valueType,
    innerMap: inner,
    origin: 'btf',
  };
}

function legacyMapSpecs(sec: ElfSection, symbols: ElfSymbol[]): MapPlace[] {
  const syms = symbols
    .filter((s) => s.shndx === sec.index && s.type !== STT_SECTION && s.name)
    .sort((a, b) => a.value - b.value);
  if (syms.length === 0) return [];
  const out: MapPlace[] = [];
  const v = new DataView(sec.data.buffer, sec.data.byteOffset, sec.data.byteLength);
  for (let i = 0; i < syms.length; i++) {
    const s = syms[i]!;
    const size = s.size || (i + 1 < syms.length ? syms[i + 1]!.value : sec.size) - s.value;
    if (size < LEGACY_MAP_DEF_MIN || s.value + size > sec.data.length)
      throw new BpfObjectError(
        `legacy map '${s.name}': definition [${s.value}, +${size}) is too small or outside the 'maps' section`,
      );
    const u = (o: number): number => (o + 4 <= size ? v.getUint32(s.value + o, true) : 0);
    out.push({
      spec: {
        name: s.name,
        type: mapTypeName(u(0), s.name),
        keySize: u(4),
        valueSize: u(8),
        maxEntries: u(12),
        flags: u(16),
        pinning: size >= LEGACY_PINNING_END ? u(24) : 0,
        numaNode: 0,
        mapExtra: 0,
        origin: 'legacy',
      },
      sectionIndex: sec.index,
      offset: s.value,
      defSize: size,
    });
  }
  return out;
}
