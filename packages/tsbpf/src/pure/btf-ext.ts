/**
 * `.BTF.ext` parser: per-ELF-section func_info, line_info and CO-RE relocation records emitted by clang, plus
 * encoders for the kernel's bpf_func_info / bpf_line_info arrays (BPF_PROG_LOAD wants instruction indexes, not the
 * byte offsets clang writes).
 */
import { type Btf, BtfError } from './btf.js';

/** CO-RE relocation kinds (enum bpf_core_relo_kind). */
export const CORE_RELO_KIND = {
  field_byte_offset: 0,
  field_byte_size: 1,
  field_exists: 2,
  field_signed: 3,
  field_lshift_u64: 4,
  field_rshift_u64: 5,
  type_id_local: 6,
  type_id_target: 7,
  type_exists: 8,
  type_size: 9,
  enumval_exists: 10,
  enumval_value: 11,
  type_matches: 12,
} as const;
export type CoreReloKindName = keyof typeof CORE_RELO_KIND;
const CORE_KIND_NAMES = Object.keys(CORE_RELO_KIND) as CoreReloKindName[];
/** Name of a CO-RE relocation kind. */
export function coreReloKindName(kind: number): string {
  return CORE_KIND_NAMES[kind] ?? `kind(${kind})`;
}

export interface BtfExtHeader {
  magic: number;
  version: number;
  flags: number;
  hdrLen: number;
  funcInfoOff: number;
  funcInfoLen: number;
  lineInfoOff: number;
  lineInfoLen: number;
  coreReloOff: number;
  coreReloLen: number;
}

export interface BtfFuncInfo {
  /** Byte offset of the function's first instruction within its ELF section. */
  insnOff: number;
  /** BTF_KIND_FUNC type id. */
  typeId: number;
}

export interface BtfLineInfo {
  /** Byte offset of the instruction within its ELF section. */
  insnOff: number;
  fileNameOff: number;
  lineOff: number;
  /** line_col >> 10 */
  line: number;
  /** line_col & 0x3ff */
  column: number;
  fileName: string;
  /** The source line text. */
  lineText: string;
}

export interface BtfCoreRelo {
  /** Byte offset of the instruction to patch within its ELF section. */
  insnOff: number;
  /** Local (object BTF) root type id. */
  typeId: number;
  accessStrOff: number;
  /** Raw access string, e.g. "0:1:2". */
  accessString: string;
  /** Parsed access indexes: first is the array index on the root pointer, then member/array indexes. */
  access: number[];
  /** CORE_RELO_KIND value. */
  kind: number;
}

/** Records for one ELF section (program section such as `tp/sched/sched_process_exec` or `.text`). */
export interface BtfExtSection<T> {
  /** ELF section name, resolved from the BTF string table. */
  section: string;
  records: T[];
}

/** Parsed `.BTF.ext`. String offsets resolve against the object's `.BTF`. */
export class BtfExt {
  private constructor(
    readonly header: BtfExtHeader,
    readonly funcInfoRecSize: number,
    readonly funcInfo: BtfExtSection<BtfFuncInfo>[],
    readonly lineInfoRecSize: number,
    readonly lineInfo: BtfExtSection<BtfLineInfo>[],
    readonly coreReloRecSize: number,
    readonly coreRelos: BtfExtSection<BtfCoreRelo>[],
  ) {}

  /** Parse a `.BTF.ext` section against its `.BTF`. BtfError on anything malformed. */
  static parse(bytes: Uint8Array, btf: Btf): BtfExt {
    if (!(bytes instanceof Uint8Array)) throw new TypeError('tsbpf: BtfExt.parse: expected a Uint8Array');
    if (bytes.length < 8) throw new BtfError(`.BTF.ext truncated: ${bytes.length} bytes`);
    const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const magic = v.getUint16(0, true);
    if (magic !== 0xeb9f) throw new BtfError(`bad .BTF.ext magic 0x${magic.toString(16)}`);
    if (bytes[2] !== 1) throw new BtfError(`unsupported .BTF.ext version ${bytes[2]}`);
    const hdrLen = v.getUint32(4, true);
    if (hdrLen < 24 || hdrLen > bytes.length)
      throw new BtfError(`bad .BTF.ext header length ${hdrLen} (section is ${bytes.length} bytes)`);
    const header: BtfExtHeader = {
      magic,
      version: bytes[2]!,
      flags: bytes[3]!,
      hdrLen,
      funcInfoOff: v.getUint32(8, true),
      funcInfoLen: v.getUint32(12, true),
      lineInfoOff: v.getUint32(16, true),
      lineInfoLen: v.getUint32(20, true),
      coreReloOff: hdrLen >= 32 ? v.getUint32(24, true) : 0,
      coreReloLen: hdrLen >= 32 ? v.getUint32(28, true) : 0,
    };
    const str = (off: number, what: string): string => {
      if (off >= btf.stringsLength) throw new BtfError(`.BTF.ext ${what}: string offset ${off} out of range`);
      return btf.str(off);
    };
    const insnOff = (off: number, what: string): number => {
      if (off % 8 !== 0) throw new BtfError(`.BTF.ext ${what}: instruction offset ${off} is not a multiple of 8`);
      return off;
    };
    const typeId = (id: number, what: string): number => {
      if (id >= btf.endId) throw new BtfError(`.BTF.ext ${what}: type id ${id} out of range`);
      return id;
    };
    const fi = parseInfo(v, hdrLen, header.funcInfoOff, header.funcInfoLen, 8, 'func_info', str, (o) => ({
      insnOff: insnOff(v.getUint32(o, true), 'func_info'),
      typeId: typeId(v.getUint32(o + 4, true), 'func_info'),
    }));
    const li = parseInfo(v, hdrLen, header.lineInfoOff, header.lineInfoLen, 16, 'line_info', str, (o) => {
      const fileNameOff = v.getUint32(o + 4, true);
      const lineOff = v.getUint32(o + 8, true);
      const lineCol = v.getUint32(o + 12, true);
      return {
        insnOff: insnOff(v.getUint32(o, true), 'line_info'),
        fileNameOff,
        lineOff,
        line: lineCol >>> 10,
        column: lineCol & 0x3ff,
        fileName: str(fileNameOff, 'line_info file name'),
        lineText: str(lineOff, 'line_info line'),
      };
    });
    const cr = parseInfo(v, hdrLen, header.coreReloOff, header.coreReloLen, 16, 'core_relo', str, (o) => {
      const accessStrOff = v.getUint32(o + 8, true);
      const accessString = str(accessStrOff, 'core_relo access string');
      const kind = v.getUint32(o + 12, true);
      if (kind >= CORE_KIND_NAMES.length) throw new BtfError(`.BTF.ext core_relo: unknown relocation kind ${kind}`);
      return {
        insnOff: insnOff(v.getUint32(o, true), 'core_relo'),
        typeId: typeId(v.getUint32(o + 4, true), 'core_relo'),
        accessStrOff,
        accessString,
        access: parseAccessString(accessString),
        kind,
      };
    });
    return new BtfExt(header, fi.recSize, fi.sections, li.recSize, li.sections, cr.recSize, cr.sections);
  }

  /** func_info records for one ELF section (empty when none). */
  funcInfoFor(section: string): BtfFuncInfo[] {
    return this.funcInfo.find((s) => s.section === section)?.records ?? [];
  }
  /** line_info records for one ELF section (empty when none). */
  lineInfoFor(section: string): BtfLineInfo[] {
    return this.lineInfo.find((s) => s.section === section)?.records ?? [];
  }
  /** CO-RE relocation records for one ELF section (empty when none). */
  coreRelosFor(section: string): BtfCoreRelo[] {
    return this.coreRelos.find((s) => s.section === section)?.records ?? [];
  }
}

/** Parse "0:1:2" into [0, 1, 2]; BtfError when malformed. */
export function parseAccessString(s: string): number[] {
  if (!/^\d+(:\d+)*$/.test(s) || s.length > 1024) throw new BtfError(`bad CO-RE access string '${s.slice(0, 64)}'`);
  return s.split(':').map(Number);
}

function parseInfo<T>(
  v: DataView,
  hdrLen: number,
  off: number,
  len: number,
  minRec: number,
  what: string,
  str: (off: number, what: string) => string,
  rec: (o: number) => T,
): { recSize: number; sections: BtfExtSection<T>[] } {
  if (len === 0) return { recSize: 0, sections: [] };
  const total = v.byteLength;
  const start = hdrLen + off;
  if (off > total - hdrLen || len > total - start)
    throw new BtfError(`.BTF.ext ${what} [${off}, +${len}) is outside the section`);
  if (len < 4) throw new BtfError(`.BTF.ext ${what} too short`);
  const end = start + len;
  const recSize = v.getUint32(start, true);
  if (recSize < minRec || recSize % 4 !== 0 || recSize > 1024)
    throw new BtfError(`.BTF.ext ${what}: bad record size ${recSize}`);
  const sections: BtfExtSection<T>[] = [];
  let o = start + 4;
  while (o < end) {
    if (end - o < 8) throw new BtfError(`.BTF.ext ${what}: truncated section header`);
    const secOff = v.getUint32(o, true);
    const n = v.getUint32(o + 4, true);
    o += 8;
    if (n === 0) throw new BtfError(`.BTF.ext ${what}: section with zero records`);
    if (n > (end - o) / recSize)
      throw new BtfError(`.BTF.ext ${what}: ${n} records of ${recSize} bytes overrun the section`);
    const section = str(secOff, `${what} section name`);
    const records: T[] = new Array(n);
    for (let i = 0; i < n; i++, o += recSize) records[i] = rec(o);
    sections.push({ section, records });
  }
  return { recSize, sections };
}

/**
 * Kernel `struct bpf_func_info` array (8 bytes each) for BPF_PROG_LOAD. `insnBase` is the byte offset of the
 * program start within its section (or where a subprogram was appended, negative allowed), subtracted before
 * dividing by 8. Pass the records in instruction order.
 */
export function encodeFuncInfo(records: readonly { insnOff: number; typeId: number }[], insnBase = 0): Uint8Array {
  const out = new Uint8Array(records.length * 8);
  const v = new DataView(out.buffer);
  records.forEach((r, i) => {
    v.setUint32(i * 8, (r.insnOff - insnBase) / 8, true);
    v.setUint32(i * 8 + 4, r.typeId, true);
  });
  return out;
}

/** Kernel `struct bpf_line_info` array (16 bytes each) for BPF_PROG_LOAD; see {@link encodeFuncInfo}. */
export function encodeLineInfo(
  records: readonly { insnOff: number; fileNameOff: number; lineOff: number; line: number; column: number }[],
  insnBase = 0,
): Uint8Array {
  const out = new Uint8Array(records.length * 16);
  const v = new DataView(out.buffer);
  records.forEach((r, i) => {
    const o = i * 16;
    v.setUint32(o, (r.insnOff - insnBase) / 8, true);
    v.setUint32(o + 4, r.fileNameOff, true);
    v.setUint32(o + 8, r.lineOff, true);
    v.setUint32(o + 12, ((r.line << 10) | (r.column & 0x3ff)) >>> 0, true);
  });
  return out;
}
