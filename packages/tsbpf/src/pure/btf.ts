/**
 * BTF (BPF Type Format) parser, lookups and encoder for the pure layer.
 *
 * Parses raw BTF blobs: `/sys/kernel/btf/vmlinux`, module BTF (split on top of vmlinux) and the `.BTF` section of
 * clang-compiled objects. Types are plain objects indexed by id; lookups by name/kind, modifier/typedef
 * resolution, sizes, alignments and member (bitfield) offsets are provided for CO-RE, fentry target ids and
 * typed map values. `encode()` writes the (possibly fixed-up) BTF back for BPF_BTF_LOAD.
 */
import { TsbpfError } from './errors.js';

/** Thrown for corrupt or unsupported BTF, and for failed lookups that the caller asked to be strict. */
export class BtfError extends TsbpfError {
  override readonly name = 'BtfError';
  readonly code = 'ERR_BTF';
}

/** BTF_KIND_* numbers. */
export const BTF_KIND = {
  unkn: 0,
  int: 1,
  ptr: 2,
  array: 3,
  struct: 4,
  union: 5,
  enum: 6,
  fwd: 7,
  typedef: 8,
  volatile: 9,
  const: 10,
  restrict: 11,
  func: 12,
  func_proto: 13,
  var: 14,
  datasec: 15,
  float: 16,
  decl_tag: 17,
  type_tag: 18,
  enum64: 19,
} as const;
export type BtfKindName = keyof typeof BTF_KIND;
const KIND_NAMES = Object.keys(BTF_KIND) as BtfKindName[];

/** Name of a BTF kind number ('struct', 'int', ...). */
export function btfKindName(kind: number): string {
  return KIND_NAMES[kind] ?? `kind(${kind})`;
}

export const BTF_MAGIC = 0xeb9f;
/** BTF_INT_* encoding bits. */
export const BTF_INT_SIGNED = 1;
export const BTF_INT_CHAR = 2;
export const BTF_INT_BOOL = 4;
/** Function linkage (vlen of BTF_KIND_FUNC). */
export const BTF_FUNC_STATIC = 0;
export const BTF_FUNC_GLOBAL = 1;
export const BTF_FUNC_EXTERN = 2;
/** Variable linkage (btf_var.linkage). */
export const BTF_VAR_STATIC = 0;
export const BTF_VAR_GLOBAL_ALLOCATED = 1;
export const BTF_VAR_GLOBAL_EXTERN = 2;

const MAX_RESOLVE_DEPTH = 32;
const MAX_VLEN = 0xffff;

export interface BtfTypeBase {
  /** Type id (global across base + split BTF). */
  id: number;
  /** Name ('' for anonymous). */
  name: string;
  /** Offset of the name in the string table (kept so `encode()` can round-trip). */
  nameOff: number;
  /** Raw kind_flag when it carries meaning beyond the kind-specific fields (e.g. TYPE_TAG/DECL_TAG attributes). */
  kindFlag?: boolean;
}
export interface BtfVoid extends BtfTypeBase {
  kind: 0;
}
export interface BtfInt extends BtfTypeBase {
  kind: 1;
  size: number;
  /** BTF_INT_SIGNED | BTF_INT_CHAR | BTF_INT_BOOL */
  encoding: number;
  /** Bit offset inside the storage (legacy bitfield encoding, almost always 0). */
  bitOffset: number;
  bits: number;
}
/** PTR, TYPEDEF, VOLATILE, CONST, RESTRICT, TYPE_TAG: a reference to another type. */
export interface BtfRef extends BtfTypeBase {
  kind: 2 | 8 | 9 | 10 | 11 | 18;
  type: number;
}
export interface BtfArray extends BtfTypeBase {
  kind: 3;
  type: number;
  indexType: number;
  nelems: number;
}
export interface BtfMember {
  name: string;
  nameOff: number;
  type: number;
  /** Offset from the start of the struct, in bits. */
  bitOffset: number;
  /** Bitfield width in bits, 0 when not a bitfield. */
  bitfieldSize: number;
}
export interface BtfComposite extends BtfTypeBase {
  kind: 4 | 5;
  size: number;
  /** kind_flag: member offsets carry bitfield sizes. */
  kindFlag: boolean;
  members: BtfMember[];
}
export interface BtfEnumValue {
  name: string;
  nameOff: number;
  value: number;
}
export interface BtfEnum extends BtfTypeBase {
  kind: 6;
  size: number;
  signed: boolean;
  values: BtfEnumValue[];
}
export interface BtfEnum64Value {
  name: string;
  nameOff: number;
  value: bigint;
}
export interface BtfEnum64 extends BtfTypeBase {
  kind: 19;
  size: number;
  signed: boolean;
  values: BtfEnum64Value[];
}
export interface BtfFwd extends BtfTypeBase {
  kind: 7;
  union: boolean;
}
export interface BtfFunc extends BtfTypeBase {
  kind: 12;
  type: number;
  linkage: number;
}
export interface BtfParam {
  name: string;
  nameOff: number;
  type: number;
}
export interface BtfFuncProto extends BtfTypeBase {
  kind: 13;
  returnType: number;
  params: BtfParam[];
}
export interface BtfVar extends BtfTypeBase {
  kind: 14;
  type: number;
  linkage: number;
}
export interface BtfVarSecinfo {
  type: number;
  offset: number;
  size: number;
}
export interface BtfDatasec extends BtfTypeBase {
  kind: 15;
  size: number;
  vars: BtfVarSecinfo[];
}
export interface BtfFloat extends BtfTypeBase {
  kind: 16;
  size: number;
}
export interface BtfDeclTag extends BtfTypeBase {
  kind: 17;
  type: number;
  componentIdx: number;
}

export type BtfType =
  | BtfVoid
  | BtfInt
  | BtfRef
  | BtfArray
  | BtfComposite
  | BtfEnum
  | BtfEnum64
  | BtfFwd
  | BtfFunc
  | BtfFuncProto
  | BtfVar
  | BtfDatasec
  | BtfFloat
  | BtfDeclTag;

export interface BtfHeader {
  magic: number;
  version: number;
  flags: number;
  hdrLen: number;
  typeOff: number;
  typeLen: number;
  strOff: number;
  strLen: number;
}

/** A member found by {@link Btf.findMember}, with its absolute offset from the outer struct. */
export interface BtfMemberLocation {
  member: BtfMember;
  /** Bit offset from the start of the outermost struct. */
  bitOffset: number;
  /** Byte offset (floor of bitOffset / 8). */
  byteOffset: number;
  bitfieldSize: number;
  /** Member type id (unresolved). */
  type: number;
}

export interface BtfParseOptions {
  /** Base BTF for split BTF (kernel module BTF on top of vmlinux). */
  base?: Btf;
}

const VOID: BtfVoid = Object.freeze({ id: 0, kind: 0, name: 'void', nameOff: 0 }) as BtfVoid;
const decoder = new TextDecoder('utf-8', { fatal: false });

/** Parsed BTF: types by id, string table, lookups. */
export class Btf {
  readonly header: BtfHeader;
  /** Base BTF when this is split BTF. */
  readonly base: Btf | undefined;
  /** First type id defined here (1 for standalone BTF, base.endId for split BTF). */
  readonly startId: number;
  /** Own types; `types[i]` has id `startId + i`. */
  readonly types: BtfType[];
  /** Own string table bytes (a copy, so appended strings never alias the input). */
  #strings: Uint8Array;
  #strLen: number;
  readonly #strBase: number;
  readonly #strCache = new Map<number, string>();
  /** Whole own string table as a JS string when it is pure ASCII, null when not, undefined before first use. */
  #ascii: string | null | undefined;
  #nameIndex: Map<string, number[]> | undefined;
  readonly #added = new Map<string, number>();

  private constructor(header: BtfHeader, base: Btf | undefined, strings: Uint8Array) {
    this.header = header;
    this.base = base;
    this.startId = base ? base.endId : 1;
    this.#strBase = base ? base.stringsLength : 0;
    this.#strings = strings;
    this.#strLen = strings.length;
    this.types = [];
  }

  /** Parse a raw BTF blob. Throws BtfError on corrupt input (bad header, out-of-range sections, types or ids). */
  static parse(bytes: Uint8Array, options: BtfParseOptions = {}): Btf {
    if (!(bytes instanceof Uint8Array)) throw new TypeError('tsbpf: Btf.parse: expected a Uint8Array');
    bytes = new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength); // Buffer#slice would not copy
    if (bytes.length < 24) throw new BtfError(`BTF truncated: ${bytes.length} bytes, header needs 24`);
    const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const magic = v.getUint16(0, true);
    if (magic !== BTF_MAGIC) {
      if (magic === 0x9feb) throw new BtfError('big-endian BTF is not supported');
      throw new BtfError(`bad BTF magic 0x${magic.toString(16)} (expected 0xeb9f)`);
    }
    const header: BtfHeader = {
      magic,
      version: bytes[2]!,
      flags: bytes[3]!,
      hdrLen: v.getUint32(4, true),
      typeOff: v.getUint32(8, true),
      typeLen: v.getUint32(12, true),
      strOff: v.getUint32(16, true),
      strLen: v.getUint32(20, true),
    };
    if (header.version !== 1) throw new BtfError(`unsupported BTF version ${header.version}`);
    if (header.hdrLen < 24 || header.hdrLen > bytes.length)
      throw new BtfError(`bad BTF header length ${header.hdrLen} (blob is ${bytes.length} bytes)`);
    // A longer header than we know must be zero-filled (kernel rule), so newer fields cannot change meaning.
    for (let i = 24; i < header.hdrLen; i++)
      if (bytes[i] !== 0) throw new BtfError('BTF header has unknown non-zero fields');
    const dataLen = bytes.length - header.hdrLen;
    if (header.typeOff > dataLen || header.typeLen > dataLen - header.typeOff)
      throw new BtfError(
        `BTF type section [${header.typeOff}, +${header.typeLen}) is outside the data (${dataLen} bytes)`,
      );
    if (header.strOff > dataLen || header.strLen > dataLen - header.strOff)
      throw new BtfError(
        `BTF string section [${header.strOff}, +${header.strLen}) is outside the data (${dataLen} bytes)`,
      );
    if (header.typeOff % 4 !== 0) throw new BtfError(`BTF type section offset ${header.typeOff} is not 4-byte aligned`);
    const strStart = header.hdrLen + header.strOff;
    const strings = bytes.slice(strStart, strStart + header.strLen);
    const base = options.base;
    if (!base) {
      if (strings.length === 0 || strings[0] !== 0)
        throw new BtfError('BTF string table must start with an empty string');
    }
    if (strings.length > 0 && strings[strings.length - 1] !== 0)
      throw new BtfError('BTF string table is not NUL-terminated');
    const btf = new Btf(header, base, strings);
    btf.#parseTypes(v, header.hdrLen + header.typeOff, header.typeLen);
    btf.#validate();
    return btf;
  }

  /** One past the last type id (so ids are `[1, endId)` including base types). */
  get endId(): number {
    return this.startId + this.types.length;
  }

  /** Total string-table length including the base's (split BTF string offsets continue the base's). */
  get stringsLength(): number {
    return this.#strBase + this.#strLen;
  }

  /** String at `off` (base strings for split BTF below the base length). */
  str(off: number): string {
    if (off < this.#strBase) return this.base!.str(off);
    const local = off - this.#strBase;
    if (local >= this.#strLen)
      throw new BtfError(`BTF string offset ${off} out of range (${this.stringsLength} bytes)`);
    // ASCII tables (the normal case) are decoded once; byte offsets are then char offsets and slices are cheap.
    if (this.#ascii === undefined) this.#ascii = asciiString(this.#strings, this.#strLen);
    if (this.#ascii !== null) return this.#ascii.slice(local, this.#ascii.indexOf('\0', local));
    const cached = this.#strCache.get(off);
    if (cached !== undefined) return cached;
    const tab = this.#strings;
    const end = tab.indexOf(0, local);
    let ascii = end - local < 128;
    if (ascii)
      for (let i = local; i < end; i++)
        if (tab[i]! >= 0x80) {
          ascii = false;
          break;
        }
    const s = ascii
      ? String.fromCharCode.apply(null, tab.subarray(local, end) as unknown as number[])
      : decoder.decode(tab.subarray(local, end));
    this.#strCache.set(off, s);
    return s;
  }

  /** Append a string to the own string table (reusing an identical appended one); returns its offset. */
  addString(s: string): number {
    if (s === '') return 0;
    const prev = this.#added.get(s);
    if (prev !== undefined) return prev;
    const enc = new TextEncoder().encode(s);
    if (enc.includes(0)) throw new TypeError('tsbpf: BTF strings cannot contain NUL');
    const need = this.#strLen + enc.length + 1;
    if (need > this.#strings.length) {
      const grown = new Uint8Array(Math.max(need, this.#strings.length * 2));
      grown.set(this.#strings.subarray(0, this.#strLen));
      this.#strings = grown;
    }
    const local = this.#strLen;
    this.#strings.set(enc, local);
    this.#strings[local + enc.length] = 0;
    this.#strLen = need;
    this.#ascii = undefined;
    this.#strCache.clear();
    const off = this.#strBase + local;
    this.#added.set(s, off);
    return off;
  }

  #parseTypes(v: DataView, start: number, len: number): void {
    const end = start + len;
    let o = start;
    let id = this.startId;
    const types = this.types;
    const need = (n: number, what: string): void => {
      if (o + n > end) throw new BtfError(`BTF type ${id} (${what}) truncated at byte ${o - start} of ${len}`);
    };
    while (o < end) {
      need(12, 'header');
      const nameOff = v.getUint32(o, true);
      const info = v.getUint32(o + 4, true);
      const sizeOrType = v.getUint32(o + 8, true);
      o += 12;
      const kind = (info >>> 24) & 0x1f;
      const vlen = info & 0xffff;
      const kindFlag = info >>> 31 === 1;
      const name = nameOff === 0 ? '' : this.#strChecked(nameOff, id);
      let t: BtfType;
      switch (kind) {
        case 1: {
          // INT
          need(4, 'int');
          const x = v.getUint32(o, true);
          o += 4;
          t = {
            id,
            kind,
            name,
            nameOff,
            size: sizeOrType,
            encoding: (x >>> 24) & 0xf,
            bitOffset: (x >>> 16) & 0xff,
            bits: x & 0xff,
          };
          break;
        }
        case 2:
        case 8:
        case 9:
        case 10:
        case 11:
        case 18:
          t = kindFlag
            ? { id, kind, name, nameOff, type: sizeOrType, kindFlag }
            : { id, kind, name, nameOff, type: sizeOrType };
          break;
        case 3: {
          // ARRAY
          need(12, 'array');
          t = {
            id,
            kind,
            name,
            nameOff,
            type: v.getUint32(o, true),
            indexType: v.getUint32(o + 4, true),
            nelems: v.getUint32(o + 8, true),
          };
          o += 12;
          break;
        }
        case 4:
        case 5: {
          // STRUCT, UNION
          need(12 * vlen, 'members');
          const members: BtfMember[] = new Array(vlen);
          for (let i = 0; i < vlen; i++, o += 12) {
            const mOff = v.getUint32(o, true);
            const off = v.getUint32(o + 8, true);
            members[i] = {
              name: mOff === 0 ? '' : this.#strChecked(mOff, id),
              nameOff: mOff,
              type: v.getUint32(o + 4, true),
              bitOffset: kindFlag ? off & 0xffffff : off,
              bitfieldSize: kindFlag ? off >>> 24 : 0,
            };
          }
          t = { id, kind, name, nameOff, size: sizeOrType, kindFlag, members };
          break;
        }
        case 6: {
          // ENUM
          need(8 * vlen, 'enum values');
          const values: BtfEnumValue[] = new Array(vlen);
          for (let i = 0; i < vlen; i++, o += 8) {
            const eOff = v.getUint32(o, true);
            values[i] = {
              name: this.#strChecked(eOff, id),
              nameOff: eOff,
              value: kindFlag ? v.getInt32(o + 4, true) : v.getUint32(o + 4, true),
            };
          }
          t = { id, kind, name, nameOff, size: sizeOrType, signed: kindFlag, values };
          break;
        }
        case 19: {
          // ENUM64
          need(12 * vlen, 'enum64 values');
          const values: BtfEnum64Value[] = new Array(vlen);
          for (let i = 0; i < vlen; i++, o += 12) {
            const eOff = v.getUint32(o, true);
            const raw = (BigInt(v.getUint32(o + 8, true)) << 32n) | BigInt(v.getUint32(o + 4, true));
            values[i] = {
              name: this.#strChecked(eOff, id),
              nameOff: eOff,
              value: kindFlag ? BigInt.asIntN(64, raw) : raw,
            };
          }
          t = { id, kind, name, nameOff, size: sizeOrType, signed: kindFlag, values };
          break;
        }
        case 7:
          t = { id, kind, name, nameOff, union: kindFlag };
          break;
        case 12:
          t = { id, kind, name, nameOff, type: sizeOrType, linkage: vlen };
          break;
        case 13: {
          // FUNC_PROTO
          need(8 * vlen, 'params');
          const params: BtfParam[] = new Array(vlen);
          for (let i = 0; i < vlen; i++, o += 8) {
            const pOff = v.getUint32(o, true);
            params[i] = {
              name: pOff === 0 ? '' : this.#strChecked(pOff, id),
              nameOff: pOff,
              type: v.getUint32(o + 4, true),
            };
          }
          t = { id, kind, name, nameOff, returnType: sizeOrType, params };
          break;
        }
        case 14: // VAR
          need(4, 'var');
          t = { id, kind, name, nameOff, type: sizeOrType, linkage: v.getUint32(o, true) };
          o += 4;
          break;
        case 15: {
          // DATASEC
          need(12 * vlen, 'datasec vars');
          const vars: BtfVarSecinfo[] = new Array(vlen);
          for (let i = 0; i < vlen; i++, o += 12) {
            vars[i] = { type: v.getUint32(o, true), offset: v.getUint32(o + 4, true), size: v.getUint32(o + 8, true) };
          }
          t = { id, kind, name, nameOff, size: sizeOrType, vars };
          break;
        }
        case 16:
          t = { id, kind, name, nameOff, size: sizeOrType };
          break;
        case 17: // DECL_TAG
          need(4, 'decl_tag');
          t = { id, kind, name, nameOff, type: sizeOrType, componentIdx: v.getInt32(o, true) };
          if (kindFlag) t.kindFlag = true;
          o += 4;
          break;
        default:
          throw new BtfError(`BTF type ${id}: unknown kind ${kind}`);
      }
      types.push(t);
      id++;
    }
  }

  #strChecked(off: number, id: number): string {
    if (off >= this.stringsLength)
      throw new BtfError(`BTF type ${id}: name offset ${off} out of range (${this.stringsLength} bytes)`);
    return this.str(off);
  }

  /** Structural checks the kernel would also make: referenced ids exist, sizes sane. */
  #validate(): void {
    const end = this.endId;
    const ref = (t: BtfType, x: number, what: string): void => {
      if (x >= end)
        throw new BtfError(
          `BTF type ${t.id} (${btfKindName(t.kind)} '${t.name}'): ${what} refers to type ${x}, beyond the last id ${end - 1}`,
        );
    };
    for (const t of this.types) {
      switch (t.kind) {
        case 1:
          if (t.bits > 128 || t.bitOffset + t.bits > t.size * 8)
            throw new BtfError(
              `BTF type ${t.id} (int '${t.name}'): ${t.bits} bits at ${t.bitOffset} do not fit ${t.size} bytes`,
            );
          break;
        case 2:
        case 8:
        case 9:
        case 10:
        case 11:
        case 18:
        case 12:
        case 14:
          ref(t, t.type, 'type');
          if (t.type === t.id) throw new BtfError(`BTF type ${t.id} refers to itself`);
          break;
        case 17:
          ref(t, t.type, 'type');
          break;
        case 3:
          ref(t, t.type, 'element type');
          ref(t, t.indexType, 'index type');
          break;
        case 4:
        case 5:
          for (const m of t.members) ref(t, m.type, `member '${m.name}'`);
          break;
        case 13:
          ref(t, t.returnType, 'return type');
          for (const p of t.params) ref(t, p.type, `param '${p.name}'`);
          break;
        case 15:
          for (const x of t.vars) ref(t, x.type, 'variable');
          break;
      }
    }
  }

  /** Type by id (0 is void). BtfError when out of range. */
  type(id: number): BtfType {
    if (id === 0) return VOID;
    if (id >= this.startId) {
      const t = this.types[id - this.startId];
      if (t) return t;
    } else if (this.base) return this.base.type(id);
    throw new BtfError(`BTF type id ${id} out of range [0, ${this.endId})`);
  }

  /** Number of type ids including void and base types (ids are `0 .. count-1`). */
  get count(): number {
    return this.endId;
  }

  #buildIndex(): Map<string, number[]> {
    const idx = new Map<string, number[]>();
    for (const t of this.types) {
      if (!t.name) continue;
      const list = idx.get(t.name);
      if (list) list.push(t.id);
      else idx.set(t.name, [t.id]);
    }
    return idx;
  }

  /** All type ids named `name` (optionally of one kind), base BTF first, ascending. */
  findAllByName(name: string, kind?: number | BtfKindName): number[] {
    const k = typeof kind === 'string' ? BTF_KIND[kind] : kind;
    if (typeof kind === 'string' && k === undefined) throw new TypeError(`tsbpf: unknown BTF kind '${kind}'`);
    const out = this.base ? this.base.findAllByName(name, k) : [];
    this.#nameIndex ??= this.#buildIndex();
    const ids = this.#nameIndex.get(name);
    if (ids) for (const id of ids) if (k === undefined || this.type(id).kind === k) out.push(id);
    return out;
  }

  /** First type id named `name` (of `kind` if given), or undefined. */
  findByName(name: string, kind?: number | BtfKindName): number | undefined {
    return this.findAllByName(name, kind)[0];
  }

  /** Like findByName but returns the type and throws BtfError when absent. */
  get(name: string, kind?: number | BtfKindName): BtfType {
    const id = this.findByName(name, kind);
    if (id === undefined)
      throw new BtfError(
        `BTF has no ${kind === undefined ? 'type' : btfKindName(typeof kind === 'string' ? BTF_KIND[kind] : kind)} named '${name}'`,
      );
    return this.type(id);
  }

  /** Follow CONST/VOLATILE/RESTRICT/TYPE_TAG. */
  skipModifiers(id: number): number {
    for (let d = 0; d < MAX_RESOLVE_DEPTH; d++) {
      const t = this.type(id);
      if (t.kind !== 9 && t.kind !== 10 && t.kind !== 11 && t.kind !== 18) return id;
      id = t.type;
    }
    throw new BtfError(`BTF modifier chain from type ${id} is too deep (loop?)`);
  }

  /** Follow modifiers and TYPEDEFs to the underlying type id. */
  resolve(id: number): number {
    for (let d = 0; d < MAX_RESOLVE_DEPTH; d++) {
      const t = this.type(id);
      if (t.kind !== 8 && t.kind !== 9 && t.kind !== 10 && t.kind !== 11 && t.kind !== 18) return id;
      id = t.type;
    }
    throw new BtfError(`BTF typedef/modifier chain from type ${id} is too deep (loop?)`);
  }

  /** The resolved type object (see `resolve`). */
  resolved(id: number): BtfType {
    return this.type(this.resolve(id));
  }

  /** Size in bytes of a type (pointers are 8 bytes: BPF is 64-bit). BtfError for sizeless kinds. */
  sizeOf(id: number): number {
    return this.#sizeOf(id, 0);
  }

  #sizeOf(id: number, depth: number): number {
    if (depth > MAX_RESOLVE_DEPTH) throw new BtfError(`BTF type ${id}: size nesting too deep (loop?)`);
    const t = this.type(id);
    switch (t.kind) {
      case 1:
      case 4:
      case 5:
      case 6:
      case 19:
      case 15:
      case 16:
        return t.size;
      case 2:
        return 8;
      case 8:
      case 9:
      case 10:
      case 11:
      case 18:
      case 14:
        return this.#sizeOf(t.type, depth + 1);
      case 3: {
        const n = t.nelems * this.#sizeOf(t.type, depth + 1);
        if (n > 0xffffffff) throw new BtfError(`BTF array ${id} is too large`);
        return n;
      }
      default:
        throw new BtfError(`BTF type ${id} (${btfKindName(t.kind)} '${t.name}') has no size`);
    }
  }

  /** Natural alignment in bytes (as libbpf's btf__align_of: packed structs align to 1). */
  alignOf(id: number): number {
    return this.#alignOf(id, 0);
  }

  /** Alignment memo: without it, nested structs with many members of struct type are exponential. */
  readonly #alignCache = new Map<number, number>();

  #alignOf(id: number, depth: number): number {
    if (depth > MAX_RESOLVE_DEPTH) throw new BtfError(`BTF type ${id}: alignment nesting too deep (loop?)`);
    const t = this.type(id);
    switch (t.kind) {
      case 1:
      case 6:
      case 19:
      case 16:
        return Math.max(1, Math.min(t.size, 8));
      case 2:
        return 8;
      case 8:
      case 9:
      case 10:
      case 11:
      case 18:
        return this.#alignOf(t.type, depth + 1);
      case 3:
        return this.#alignOf(t.type, depth + 1);
      case 4:
      case 5: {
        const cached = this.#alignCache.get(id);
        if (cached !== undefined) return cached;
        let max = 1;
        let packed = false;
        for (const m of t.members) {
          const a = this.#alignOf(m.type, depth + 1);
          if (m.bitfieldSize === 0 && m.bitOffset % (8 * a) !== 0) {
            packed = true;
            break;
          }
          max = Math.max(max, a);
        }
        const align = packed || t.size % max !== 0 ? 1 : max;
        this.#alignCache.set(id, align);
        return align;
      }
      default:
        throw new BtfError(`BTF type ${id} (${btfKindName(t.kind)} '${t.name}') has no alignment`);
    }
  }

  /**
   * Find a member by name, or by a dotted path (`'signal.pids'`), descending into anonymous struct/union members
   * as C does. Returns the absolute bit/byte offset from the start of the outer struct, or undefined.
   */
  findMember(structId: number, path: string): BtfMemberLocation | undefined {
    let cur = structId;
    let bitBase = 0;
    let loc: BtfMemberLocation | undefined;
    for (const part of path.split('.')) {
      const t = this.resolved(cur);
      if (t.kind !== 4 && t.kind !== 5) return undefined;
      const hit = this.#findMemberIn(t, part, 0, { left: 100_000 });
      if (!hit) return undefined;
      const bitOffset = bitBase + hit.bitOffset;
      loc = {
        member: hit.member,
        bitOffset,
        byteOffset: Math.floor(bitOffset / 8),
        bitfieldSize: hit.member.bitfieldSize,
        type: hit.member.type,
      };
      bitBase = bitOffset;
      cur = hit.member.type;
    }
    return loc;
  }

  #findMemberIn(
    t: BtfComposite,
    name: string,
    depth: number,
    budget: { left: number },
  ): { member: BtfMember; bitOffset: number } | undefined {
    if (depth > MAX_RESOLVE_DEPTH) throw new BtfError(`BTF type ${t.id}: anonymous member nesting too deep`);
    // Anonymous members can fan out at every level; bound the walk so corrupt BTF cannot hang a lookup.
    budget.left -= t.members.length;
    if (budget.left < 0) throw new BtfError(`BTF type ${t.id}: too many anonymous members to search`);
    for (const m of t.members) {
      if (m.name === name) return { member: m, bitOffset: m.bitOffset };
    }
    for (const m of t.members) {
      if (m.name !== '') continue;
      const inner = this.resolved(m.type);
      if (inner.kind !== 4 && inner.kind !== 5) continue;
      const hit = this.#findMemberIn(inner, name, depth + 1, budget);
      if (hit) return { member: hit.member, bitOffset: m.bitOffset + hit.bitOffset };
    }
    return undefined;
  }

  /** Byte offset of a member (dotted path allowed); BtfError when absent or a bitfield not on a byte boundary. */
  memberOffset(structId: number, path: string): number {
    const loc = this.findMember(structId, path);
    if (!loc) throw new BtfError(`type ${this.describe(structId)} has no member '${path}'`);
    if (loc.bitOffset % 8 !== 0)
      throw new BtfError(`member '${path}' of ${this.describe(structId)} is a bitfield at bit ${loc.bitOffset}`);
    return loc.byteOffset;
  }

  /** C-like description for messages: `struct task_struct`, `u32 *`, `int[16]`. */
  describe(id: number, depth = 0): string {
    if (depth > 8) return '...';
    const t = this.type(id);
    switch (t.kind) {
      case 0:
        return 'void';
      case 1:
      case 16:
        return t.name;
      case 2:
        return `${this.describe(t.type, depth + 1)} *`;
      case 3:
        return `${this.describe(t.type, depth + 1)}[${t.nelems}]`;
      case 4:
        return `struct ${t.name || '(anon)'}`;
      case 5:
        return `union ${t.name || '(anon)'}`;
      case 6:
      case 19:
        return `enum ${t.name || '(anon)'}`;
      case 7:
        return `${t.union ? 'union' : 'struct'} ${t.name} (fwd)`;
      case 8:
        return t.name;
      case 9:
        return `volatile ${this.describe(t.type, depth + 1)}`;
      case 10:
        return `const ${this.describe(t.type, depth + 1)}`;
      case 11:
        return `${this.describe(t.type, depth + 1)} restrict`;
      case 18:
        return `${this.describe(t.type, depth + 1)} __tag(${t.name})`;
      case 12:
        return `func ${t.name}`;
      case 13: {
        // Bounded: prototypes of prototypes with many parameters would otherwise fan out exponentially.
        if (depth > 1) return 'fn(...)';
        const shown = t.params.slice(0, 8).map((p) => this.describe(p.type, depth + 1));
        if (t.params.length > 8) shown.push('...');
        return `${this.describe(t.returnType, depth + 1)} (*)(${shown.join(', ')})`;
      }
      case 14:
        return `var ${t.name}`;
      case 15:
        return `section ${t.name}`;
      case 17:
        return `decl_tag ${t.name}`;
    }
  }

  /** Iterate own types (not the base's). */
  *[Symbol.iterator](): IterableIterator<BtfType> {
    yield* this.types;
  }

  /**
   * Set DATASEC sizes and variable offsets the way libbpf's `btf_fixup_datasec` does before BPF_BTF_LOAD:
   * clang leaves them 0 for sections whose final layout the linker decides. `sectionSize(name)` gives the ELF
   * section size, `variable(section, name)` its symbol value and whether it is hidden (hidden globals become
   * static). Variables are sorted by offset, as the kernel requires. `.kconfig`/`.ksyms` are left alone (they
   * describe externs that the loader resolves).
   */
  fixupDataSections(
    sectionSize: (name: string) => number | undefined,
    variable: (section: string, name: string) => { offset: number; hidden?: boolean } | undefined,
  ): void {
    for (const t of this.types) {
      if (t.kind !== 15) continue;
      if (t.name === '.kconfig' || t.name === '.ksyms') continue;
      if (t.size === 0) {
        const size = sectionSize(t.name);
        if (size === undefined) throw new BtfError(`DATASEC '${t.name}' has no matching ELF section`);
        t.size = size;
      }
      for (const vs of t.vars) {
        const vt = this.type(vs.type);
        if (vt.kind !== 14) continue;
        const sym = variable(t.name, vt.name);
        if (!sym) throw new BtfError(`variable '${vt.name}' of DATASEC '${t.name}' has no ELF symbol`);
        vs.offset = sym.offset;
        if (sym.hidden && vt.linkage === BTF_VAR_GLOBAL_ALLOCATED) vt.linkage = BTF_VAR_STATIC;
      }
      t.vars.sort((a, b) => a.offset - b.offset);
    }
  }

  /** Encode own types and strings back into a raw BTF blob (for BPF_BTF_LOAD after fix-ups). */
  encode(): Uint8Array {
    let typeLen = 0;
    for (const t of this.types) typeLen += encodedSize(t);
    const strLen = this.#strLen;
    const hdrLen = 24;
    const out = new Uint8Array(hdrLen + typeLen + strLen);
    const v = new DataView(out.buffer);
    v.setUint16(0, BTF_MAGIC, true);
    out[2] = 1;
    out[3] = 0;
    v.setUint32(4, hdrLen, true);
    v.setUint32(8, 0, true);
    v.setUint32(12, typeLen, true);
    v.setUint32(16, typeLen, true);
    v.setUint32(20, strLen, true);
    let o = hdrLen;
    const info = (kind: number, vlen: number, flag: boolean): number =>
      (((flag ? 1 : 0) << 31) | (kind << 24) | vlen) >>> 0;
    const hdr = (t: BtfType, vlen: number, flag: boolean, sizeOrType: number): void => {
      if (vlen > MAX_VLEN) throw new BtfError(`BTF type ${t.id}: too many entries (${vlen})`);
      v.setUint32(o, t.nameOff, true);
      v.setUint32(o + 4, info(t.kind, vlen, flag), true);
      v.setUint32(o + 8, sizeOrType >>> 0, true);
      o += 12;
    };
    for (const t of this.types) {
      switch (t.kind) {
        case 0:
          throw new BtfError('cannot encode void');
        case 1:
          hdr(t, 0, false, t.size);
          v.setUint32(o, (((t.encoding & 0xf) << 24) | ((t.bitOffset & 0xff) << 16) | (t.bits & 0xff)) >>> 0, true);
          o += 4;
          break;
        case 2:
        case 8:
        case 9:
        case 10:
        case 11:
        case 18:
          hdr(t, 0, t.kindFlag === true, t.type);
          break;
        case 3:
          hdr(t, 0, false, 0);
          v.setUint32(o, t.type, true);
          v.setUint32(o + 4, t.indexType, true);
          v.setUint32(o + 8, t.nelems, true);
          o += 12;
          break;
        case 4:
        case 5:
          hdr(t, t.members.length, t.kindFlag, t.size);
          for (const m of t.members) {
            v.setUint32(o, m.nameOff, true);
            v.setUint32(o + 4, m.type, true);
            v.setUint32(
              o + 8,
              t.kindFlag ? ((m.bitfieldSize << 24) | (m.bitOffset & 0xffffff)) >>> 0 : m.bitOffset,
              true,
            );
            o += 12;
          }
          break;
        case 6:
          hdr(t, t.values.length, t.signed, t.size);
          for (const e of t.values) {
            v.setUint32(o, e.nameOff, true);
            v.setUint32(o + 4, e.value >>> 0, true);
            o += 8;
          }
          break;
        case 19:
          hdr(t, t.values.length, t.signed, t.size);
          for (const e of t.values) {
            const u = BigInt.asUintN(64, e.value);
            v.setUint32(o, e.nameOff, true);
            v.setUint32(o + 4, Number(u & 0xffffffffn), true);
            v.setUint32(o + 8, Number(u >> 32n), true);
            o += 12;
          }
          break;
        case 7:
          hdr(t, 0, t.union, 0);
          break;
        case 12:
          hdr(t, t.linkage, false, t.type);
          break;
        case 13:
          hdr(t, t.params.length, false, t.returnType);
          for (const p of t.params) {
            v.setUint32(o, p.nameOff, true);
            v.setUint32(o + 4, p.type, true);
            o += 8;
          }
          break;
        case 14:
          hdr(t, 0, false, t.type);
          v.setUint32(o, t.linkage, true);
          o += 4;
          break;
        case 15:
          hdr(t, t.vars.length, false, t.size);
          for (const x of t.vars) {
            v.setUint32(o, x.type, true);
            v.setUint32(o + 4, x.offset, true);
            v.setUint32(o + 8, x.size, true);
            o += 12;
          }
          break;
        case 16:
          hdr(t, 0, false, t.size);
          break;
        case 17:
          hdr(t, 0, t.kindFlag === true, t.type);
          v.setInt32(o, t.componentIdx, true);
          o += 4;
          break;
      }
    }
    out.set(this.#strings.subarray(0, strLen), o);
    return out;
  }
}

function encodedSize(t: BtfType): number {
  switch (t.kind) {
    case 1:
    case 14:
    case 17:
      return 16;
    case 3:
      return 24;
    case 4:
    case 5:
      return 12 + 12 * t.members.length;
    case 6:
      return 12 + 8 * t.values.length;
    case 19:
      return 12 + 12 * t.values.length;
    case 13:
      return 12 + 8 * t.params.length;
    case 15:
      return 12 + 12 * t.vars.length;
    default:
      return 12;
  }
}

const latin1 = new TextDecoder('latin1');
function asciiString(tab: Uint8Array, len: number): string | null {
  for (let i = 0; i < len; i++) if (tab[i]! >= 0x80) return null;
  // Below 0x80 latin1 (windows-1252) is ASCII, and the native decoder is much faster than fromCharCode chunks.
  return latin1.decode(tab.subarray(0, len));
}
