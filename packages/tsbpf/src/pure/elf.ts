/**
 * ELF64 little-endian parser for the pure layer: header, sections, program headers, symbol tables and
 * relocation sections, over a Uint8Array. It never touches the filesystem: callers read the file and pass bytes.
 *
 * Used by the BPF object loader (clang `-target bpf` relocatable objects) and by uprobe attachment
 * (`symbolFileOffset` on executables and shared libraries).
 */
import { TsbpfError } from './errors.js';

/** Thrown for any malformed or unsupported ELF input. `code` says which check failed. */
export class ElfError extends TsbpfError {
  override readonly name = 'ElfError';
  constructor(
    message: string,
    /** Short machine-readable reason: 'truncated', 'magic', 'class', 'endian', 'machine', 'range', 'format', 'not-found'. */
    readonly code: ElfErrorCode = 'format',
  ) {
    super(message);
  }
}
export type ElfErrorCode = 'truncated' | 'magic' | 'class' | 'endian' | 'machine' | 'range' | 'format' | 'not-found';

// ---- constants (subset of elf.h) ----
export const ET_REL = 1;
export const ET_EXEC = 2;
export const ET_DYN = 3;
export const EM_X86_64 = 62;
export const EM_AARCH64 = 183;
export const EM_BPF = 247;

export const SHT_NULL = 0;
export const SHT_PROGBITS = 1;
export const SHT_SYMTAB = 2;
export const SHT_STRTAB = 3;
export const SHT_RELA = 4;
export const SHT_NOBITS = 8;
export const SHT_REL = 9;
export const SHT_DYNSYM = 11;
export const SHT_LLVM_ADDRSIG = 0x6fff4c03;

export const SHF_WRITE = 0x1;
export const SHF_ALLOC = 0x2;
export const SHF_EXECINSTR = 0x4;

export const SHN_UNDEF = 0;
export const SHN_LORESERVE = 0xff00;
export const SHN_ABS = 0xfff1;
export const SHN_COMMON = 0xfff2;
export const SHN_XINDEX = 0xffff;

export const STB_LOCAL = 0;
export const STB_GLOBAL = 1;
export const STB_WEAK = 2;
export const STT_NOTYPE = 0;
export const STT_OBJECT = 1;
export const STT_FUNC = 2;
export const STT_SECTION = 3;
export const STT_FILE = 4;
export const STT_GNU_IFUNC = 10;

export const PT_LOAD = 1;
export const PF_X = 1;
export const PF_W = 2;
export const PF_R = 4;

/** BPF relocation types (llvm's R_BPF_*). */
export const R_BPF_NONE = 0;
export const R_BPF_64_64 = 1;
export const R_BPF_64_ABS64 = 2;
export const R_BPF_64_ABS32 = 3;
export const R_BPF_64_NODYLD32 = 4;
export const R_BPF_64_32 = 10;

export interface ElfHeader {
  /** ET_REL, ET_EXEC, ET_DYN, ... */
  type: number;
  machine: number;
  version: number;
  osabi: number;
  entry: number;
  phoff: number;
  shoff: number;
  flags: number;
  phentsize: number;
  phnum: number;
  shentsize: number;
  shnum: number;
  shstrndx: number;
}

export interface ElfSection {
  index: number;
  name: string;
  type: number;
  flags: number;
  addr: number;
  /** File offset of the contents. */
  offset: number;
  /** Size in bytes (for SHT_NOBITS, the in-memory size: there are no file bytes). */
  size: number;
  link: number;
  info: number;
  addralign: number;
  entsize: number;
  /** Contents as a view into the input bytes (empty for SHT_NOBITS). No copy is made. */
  data: Uint8Array;
}

export interface ElfProgramHeader {
  type: number;
  flags: number;
  offset: number;
  vaddr: number;
  paddr: number;
  filesz: number;
  memsz: number;
  align: number;
}

export interface ElfSymbol {
  /** Index in its symbol table (relocations refer to it). */
  index: number;
  name: string;
  /** st_value: section offset in ET_REL, virtual address in ET_EXEC/ET_DYN. Lossy above 2^53 (absolute symbols only). */
  value: number;
  size: number;
  /** STB_* */
  bind: number;
  /** STT_* */
  type: number;
  /** STV_* (st_other & 3) */
  visibility: number;
  /** Section index (or SHN_UNDEF / SHN_ABS / SHN_COMMON). */
  shndx: number;
}

export interface ElfRelocation {
  /** Offset within the target section (ET_REL) or vaddr (ET_DYN). */
  offset: number;
  /** Index in the linked symbol table. */
  symbolIndex: number;
  /** R_* type (machine specific). */
  type: number;
  /** Explicit addend (RELA) or 0 for REL; implicit REL addends live in the target bytes. */
  addend: bigint;
}

export interface ElfRelocationSection {
  /** The SHT_REL/SHT_RELA section itself (e.g. `.reltp/sched/sched_process_exec`). */
  section: ElfSection;
  /** The section the relocations apply to (sh_info). */
  target: ElfSection;
  /** The symbol table they index (sh_link). */
  symtab: ElfSection;
  relocations: ElfRelocation[];
}

export interface ElfParseOptions {
  /** Require this e_machine (e.g. EM_BPF); ElfError('machine') otherwise. */
  machine?: number;
}

const decoder = new TextDecoder('utf-8', { fatal: false });

/** A parsed ELF64 LE file. Sections and program headers are parsed eagerly; symbols and relocations on demand. */
export class Elf {
  readonly bytes: Uint8Array;
  readonly header: ElfHeader;
  readonly sections: readonly ElfSection[];
  readonly programHeaders: readonly ElfProgramHeader[];
  readonly #view: DataView;
  readonly #byName = new Map<string, ElfSection>();
  readonly #symCache = new Map<number, ElfSymbol[]>();

  private constructor(bytes: Uint8Array, header: ElfHeader, view: DataView) {
    this.bytes = bytes;
    this.header = header;
    this.#view = view;
    this.programHeaders = this.#parseProgramHeaders();
    this.sections = this.#parseSections();
    for (const s of this.sections) if (s.name && !this.#byName.has(s.name)) this.#byName.set(s.name, s);
  }

  /** Parse ELF64 little-endian bytes. Throws ElfError on anything malformed. */
  static parse(bytes: Uint8Array, options: ElfParseOptions = {}): Elf {
    if (!(bytes instanceof Uint8Array)) throw new TypeError('tsbpf: Elf.parse: expected a Uint8Array');
    // A plain Uint8Array view (not a Buffer), so section.data.slice() copies as callers expect.
    bytes = new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    if (bytes.length < 16)
      throw new ElfError(`ELF truncated: ${bytes.length} bytes, need at least 64 for the header`, 'truncated');
    if (bytes[0] !== 0x7f || bytes[1] !== 0x45 || bytes[2] !== 0x4c || bytes[3] !== 0x46) {
      throw new ElfError('not an ELF file (bad magic)', 'magic');
    }
    if (bytes[4] !== 2) throw new ElfError(`unsupported ELF class ${bytes[4]} (only ELFCLASS64 is supported)`, 'class');
    if (bytes[5] !== 1)
      throw new ElfError(`unsupported ELF data encoding ${bytes[5]} (only little-endian is supported)`, 'endian');
    if (bytes.length < 64)
      throw new ElfError(`ELF truncated: ${bytes.length} bytes, need 64 for the header`, 'truncated');
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const header: ElfHeader = {
      type: view.getUint16(16, true),
      machine: view.getUint16(18, true),
      version: view.getUint32(20, true),
      osabi: bytes[7]!,
      entry: u64(view, 24, 'e_entry'),
      phoff: u64(view, 32, 'e_phoff'),
      shoff: u64(view, 40, 'e_shoff'),
      flags: view.getUint32(48, true),
      phentsize: view.getUint16(54, true),
      phnum: view.getUint16(56, true),
      shentsize: view.getUint16(58, true),
      shnum: view.getUint16(60, true),
      shstrndx: view.getUint16(62, true),
    };
    if (options.machine !== undefined && header.machine !== options.machine) {
      throw new ElfError(
        `wrong ELF machine ${header.machine} (${machineName(header.machine)}), expected ${options.machine} (${machineName(options.machine)})`,
        'machine',
      );
    }
    return new Elf(bytes, header, view);
  }

  #parseProgramHeaders(): ElfProgramHeader[] {
    const h = this.header;
    if (h.phnum === 0 || h.phoff === 0) return [];
    if (h.phentsize < 56) throw new ElfError(`bad e_phentsize ${h.phentsize}`, 'format');
    checkRange(this.bytes, h.phoff, h.phnum * h.phentsize, 'program header table');
    const out: ElfProgramHeader[] = [];
    for (let i = 0; i < h.phnum; i++) {
      const o = h.phoff + i * h.phentsize;
      const v = this.#view;
      out.push({
        type: v.getUint32(o, true),
        flags: v.getUint32(o + 4, true),
        offset: u64(v, o + 8, 'p_offset'),
        vaddr: u64(v, o + 16, 'p_vaddr'),
        paddr: u64(v, o + 24, 'p_paddr'),
        filesz: u64(v, o + 32, 'p_filesz'),
        memsz: u64(v, o + 40, 'p_memsz'),
        align: u64(v, o + 48, 'p_align'),
      });
    }
    return out;
  }

  #parseSections(): ElfSection[] {
    const h = this.header;
    const v = this.#view;
    if (h.shoff === 0) return [];
    if (h.shentsize < 64) throw new ElfError(`bad e_shentsize ${h.shentsize}`, 'format');
    checkRange(this.bytes, h.shoff, h.shentsize, 'section header table');
    let shnum = h.shnum;
    let shstrndx = h.shstrndx;
    // Extended numbering: counts that do not fit 16 bits live in section header 0.
    if (shnum === 0) shnum = u64(v, h.shoff + 32, 'sh_size[0]');
    if (shstrndx === SHN_XINDEX) shstrndx = v.getUint32(h.shoff + 40, true);
    if (shnum > 0x100000) throw new ElfError(`implausible section count ${shnum}`, 'format');
    checkRange(this.bytes, h.shoff, shnum * h.shentsize, 'section header table');
    const raw: Omit<ElfSection, 'name' | 'data'>[] = [];
    const nameOffs: number[] = [];
    for (let i = 0; i < shnum; i++) {
      const o = h.shoff + i * h.shentsize;
      nameOffs.push(v.getUint32(o, true));
      raw.push({
        index: i,
        type: v.getUint32(o + 4, true),
        flags: u64(v, o + 8, 'sh_flags'),
        addr: u64(v, o + 16, 'sh_addr'),
        offset: u64(v, o + 24, 'sh_offset'),
        size: u64(v, o + 32, 'sh_size'),
        link: v.getUint32(o + 40, true),
        info: v.getUint32(o + 44, true),
        addralign: u64(v, o + 48, 'sh_addralign'),
        entsize: u64(v, o + 56, 'sh_entsize'),
      });
    }
    const bytes = this.bytes;
    const empty = bytes.subarray(0, 0);
    const sections: ElfSection[] = new Array(raw.length);
    for (let i = 0; i < raw.length; i++) {
      const r = raw[i]!;
      let data = empty;
      if (r.type !== SHT_NOBITS && r.type !== SHT_NULL) {
        checkRange(bytes, r.offset, r.size, `section ${i} contents`);
        data = bytes.subarray(r.offset, r.offset + r.size);
      }
      sections[i] = {
        index: r.index,
        name: '',
        type: r.type,
        flags: r.flags,
        addr: r.addr,
        offset: r.offset,
        size: r.size,
        link: r.link,
        info: r.info,
        addralign: r.addralign,
        entsize: r.entsize,
        data,
      };
    }
    if (shnum > 0 && shstrndx !== SHN_UNDEF) {
      if (shstrndx >= shnum) throw new ElfError(`e_shstrndx ${shstrndx} out of range (${shnum} sections)`, 'range');
      const strtab = sections[shstrndx]!;
      if (strtab.type !== SHT_STRTAB) throw new ElfError(`e_shstrndx ${shstrndx} is not a string table`, 'format');
      for (const s of sections) s.name = readCString(strtab.data, nameOffs[s.index]!, 'section name');
    }
    return sections;
  }

  /** First section with this name, or undefined. */
  section(name: string): ElfSection | undefined {
    return this.#byName.get(name);
  }

  /** Section by index; ElfError('range') when out of range. */
  sectionAt(index: number): ElfSection {
    const s = this.sections[index];
    if (!s) throw new ElfError(`section index ${index} out of range (${this.sections.length} sections)`, 'range');
    return s;
  }

  /** The `.symtab` section (static symbols), if any. */
  get symtab(): ElfSection | undefined {
    return this.sections.find((s) => s.type === SHT_SYMTAB);
  }

  /** The `.dynsym` section (dynamic symbols), if any. */
  get dynsym(): ElfSection | undefined {
    return this.sections.find((s) => s.type === SHT_DYNSYM);
  }

  /** Symbols of `.symtab` (empty when stripped). Index 0 is the null symbol. */
  symbols(): ElfSymbol[] {
    const s = this.symtab;
    return s ? this.symbolsOf(s) : [];
  }

  /** Symbols of `.dynsym` (empty when absent). */
  dynamicSymbols(): ElfSymbol[] {
    const s = this.dynsym;
    return s ? this.symbolsOf(s) : [];
  }

  /** Parse the symbols of one SHT_SYMTAB/SHT_DYNSYM section (cached). */
  symbolsOf(symtab: ElfSection): ElfSymbol[] {
    const cached = this.#symCache.get(symtab.index);
    if (cached) return cached;
    if (symtab.type !== SHT_SYMTAB && symtab.type !== SHT_DYNSYM) {
      throw new ElfError(`section ${symtab.index} (${symtab.name}) is not a symbol table`, 'format');
    }
    const entsize = symtab.entsize || 24;
    if (entsize < 24) throw new ElfError(`symbol table ${symtab.name}: bad sh_entsize ${symtab.entsize}`, 'format');
    if (symtab.link >= this.sections.length)
      throw new ElfError(`symbol table ${symtab.name}: sh_link ${symtab.link} out of range`, 'range');
    const strtab = this.sections[symtab.link]!;
    if (strtab.type !== SHT_STRTAB)
      throw new ElfError(`symbol table ${symtab.name}: sh_link ${symtab.link} is not a string table`, 'format');
    const d = symtab.data;
    const v = new DataView(d.buffer, d.byteOffset, d.byteLength);
    const n = Math.floor(d.length / entsize);
    const out: ElfSymbol[] = new Array(n);
    for (let i = 0; i < n; i++) {
      const o = i * entsize;
      const info = d[o + 4]!;
      out[i] = {
        index: i,
        name: readCString(strtab.data, v.getUint32(o, true), 'symbol name'),
        bind: info >> 4,
        type: info & 0xf,
        visibility: d[o + 5]! & 3,
        shndx: v.getUint16(o + 6, true),
        value: u64Lossy(v, o + 8),
        size: u64Lossy(v, o + 16),
      };
    }
    this.#symCache.set(symtab.index, out);
    return out;
  }

  /** All SHT_REL/SHT_RELA sections, each with its target section and parsed records. */
  relocationSections(): ElfRelocationSection[] {
    const out: ElfRelocationSection[] = [];
    for (const s of this.sections) if (s.type === SHT_REL || s.type === SHT_RELA) out.push(this.relocationsOf(s));
    return out;
  }

  /** Parse one SHT_REL/SHT_RELA section. Symbol indexes are checked against the linked table. */
  relocationsOf(section: ElfSection): ElfRelocationSection {
    const rela = section.type === SHT_RELA;
    if (!rela && section.type !== SHT_REL)
      throw new ElfError(`section ${section.index} (${section.name}) is not a relocation section`, 'format');
    const min = rela ? 24 : 16;
    const entsize = section.entsize || min;
    if (entsize < min)
      throw new ElfError(`relocation section ${section.name}: bad sh_entsize ${section.entsize}`, 'format');
    if (section.info >= this.sections.length || section.info === 0) {
      throw new ElfError(`relocation section ${section.name}: target section ${section.info} out of range`, 'range');
    }
    if (section.link >= this.sections.length)
      throw new ElfError(`relocation section ${section.name}: sh_link ${section.link} out of range`, 'range');
    const symtab = this.sections[section.link]!;
    const nsyms = this.symbolsOf(symtab).length;
    const d = section.data;
    const v = new DataView(d.buffer, d.byteOffset, d.byteLength);
    const n = Math.floor(d.length / entsize);
    const relocations: ElfRelocation[] = new Array(n);
    for (let i = 0; i < n; i++) {
      const o = i * entsize;
      const symbolIndex = v.getUint32(o + 12, true);
      if (symbolIndex >= nsyms) {
        throw new ElfError(
          `relocation ${i} in ${section.name}: symbol index ${symbolIndex} out of range (${nsyms} symbols)`,
          'range',
        );
      }
      relocations[i] = {
        offset: u64(v, o, 'r_offset'),
        type: v.getUint32(o + 8, true),
        symbolIndex,
        addend: rela ? v.getBigInt64(o + 16, true) : 0n,
      };
    }
    return { section, target: this.sections[section.info]!, symtab, relocations };
  }
}

/** Human name for common e_machine values. */
export function machineName(machine: number): string {
  switch (machine) {
    case EM_X86_64:
      return 'x86-64';
    case EM_AARCH64:
      return 'AArch64';
    case EM_BPF:
      return 'BPF';
    case 3:
      return 'i386';
    case 40:
      return 'ARM';
    case 243:
      return 'RISC-V';
    default:
      return 'unknown';
  }
}

/** Result of a function symbol lookup for uprobes. */
export interface ElfFunctionSymbol {
  symbol: ElfSymbol;
  /** '.symtab' or '.dynsym'. */
  table: string;
  /** File offset of the function's first instruction (what perf_event_open's uprobe offset expects). */
  fileOffset: number;
}

/**
 * Find a function symbol for a uprobe and translate its address to a file offset, like libbpf's
 * `elf_find_func_offset`: search `.symtab` then `.dynsym` for STT_FUNC/STT_GNU_IFUNC named `name` (also matching
 * versioned names `name@VER`/`name@@VER`, or exactly when `name` itself has a version), prefer a global over a
 * weak definition, reject ambiguous globals, then map the vaddr through the executable PT_LOAD segment containing
 * it (`vaddr - p_vaddr + p_offset`). For ET_REL files the section-relative value plus the section offset is used.
 */
export function findFunctionSymbol(elf: Elf, name: string): ElfFunctionSymbol {
  if (typeof name !== 'string' || name === '') throw new TypeError('tsbpf: symbol name must be a non-empty string');
  const wantVersioned = name.includes('@');
  const tables = [elf.symtab, elf.dynsym].filter((s): s is ElfSection => s !== undefined);
  let found: { symbol: ElfSymbol; table: string } | undefined;
  for (const table of tables) {
    for (const sym of elf.symbolsOf(table)) {
      if (sym.type !== STT_FUNC && sym.type !== STT_GNU_IFUNC) continue;
      if (sym.shndx === SHN_UNDEF) continue;
      let match: boolean;
      if (wantVersioned) match = sym.name === name;
      else {
        match = sym.name === name || (sym.name.startsWith(name) && sym.name.charCodeAt(name.length) === 0x40) /* @ */;
      }
      if (!match) continue;
      if (sym.bind !== STB_GLOBAL && sym.bind !== STB_WEAK && sym.bind !== STB_LOCAL) continue;
      if (!found) {
        found = { symbol: sym, table: table.name };
        continue;
      }
      if (found.symbol.value === sym.value) continue; // aliases (e.g. default and versioned) agree
      const fb = found.symbol.bind,
        sb = sym.bind;
      if (fb === STB_GLOBAL && sb === STB_GLOBAL) {
        throw new ElfError(
          `symbol '${name}' is ambiguous: two global definitions at 0x${found.symbol.value.toString(16)} and 0x${sym.value.toString(16)}`,
          'format',
        );
      }
      if (sb === STB_GLOBAL && fb !== STB_GLOBAL) found = { symbol: sym, table: table.name };
    }
    if (found) break; // libbpf: .symtab wins when it has the symbol
  }
  if (!found) throw new ElfError(`function symbol '${name}' not found`, 'not-found');
  return { ...found, fileOffset: vaddrToFileOffset(elf, found.symbol) };
}

/** File offset of function `name` for a uprobe (see {@link findFunctionSymbol}). */
export function symbolFileOffset(elf: Elf, name: string): number {
  return findFunctionSymbol(elf, name).fileOffset;
}

/** Translate a symbol's value to a file offset through PT_LOAD segments (or its section for ET_REL). */
export function vaddrToFileOffset(elf: Elf, sym: ElfSymbol): number {
  if (elf.header.type === ET_REL) {
    const sec = elf.sectionAt(sym.shndx);
    return sec.offset + sym.value;
  }
  const addr = sym.value;
  // Prefer an executable segment (libbpf's check), fall back to any PT_LOAD containing the address.
  let any: ElfProgramHeader | undefined;
  for (const ph of elf.programHeaders) {
    if (ph.type !== PT_LOAD) continue;
    if (addr < ph.vaddr || addr >= ph.vaddr + ph.memsz) continue;
    if (ph.flags & PF_X) return addr - ph.vaddr + ph.offset;
    any ??= ph;
  }
  if (any) return addr - any.vaddr + any.offset;
  throw new ElfError(`symbol '${sym.name}' at 0x${addr.toString(16)} is not inside any PT_LOAD segment`, 'range');
}

// ---- helpers ----

function u64(v: DataView, off: number, what: string): number {
  // Two 32-bit reads instead of getBigUint64: no BigInt allocation per field.
  const lo = v.getUint32(off, true);
  const hi = v.getUint32(off + 4, true);
  if (hi > 0x1fffff) throw new ElfError(`${what} 0x${v.getBigUint64(off, true).toString(16)} is too large`, 'range');
  return hi * 4294967296 + lo;
}

/** u64 that may legitimately exceed 2^53 (symbol values of absolute symbols): lossy above it, never throws. */
function u64Lossy(v: DataView, off: number): number {
  return v.getUint32(off + 4, true) * 4294967296 + v.getUint32(off, true);
}

function checkRange(bytes: Uint8Array, off: number, len: number, what: string): void {
  if (off > bytes.length || len > bytes.length - off) {
    throw new ElfError(
      `${what} [${off}, +${len}) is outside the file (${bytes.length} bytes)`,
      off > bytes.length ? 'range' : 'truncated',
    );
  }
}

/** NUL-terminated string at `off` inside `tab`; ElfError when out of range or unterminated. */
export function readCString(tab: Uint8Array, off: number, what = 'string'): string {
  if (off >= tab.length) {
    if (off === 0 && tab.length === 0) return '';
    throw new ElfError(`${what} offset ${off} out of range (string table is ${tab.length} bytes)`, 'range');
  }
  const end = tab.indexOf(0, off);
  if (end < 0) throw new ElfError(`${what} at offset ${off} is not NUL-terminated`, 'format');
  if (end === off) return '';
  // Pure-ASCII fast path: most names are.
  let ascii = true;
  for (let i = off; i < end; i++)
    if (tab[i]! >= 0x80) {
      ascii = false;
      break;
    }
  if (ascii && end - off < 64) return String.fromCharCode.apply(null, tab.subarray(off, end) as unknown as number[]);
  return decoder.decode(tab.subarray(off, end));
}
