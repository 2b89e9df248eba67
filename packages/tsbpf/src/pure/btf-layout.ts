/**
 * Layouts from BTF: turn a BTF type (a map's key/value struct, a ring buffer event) into a `Layout` of the layout
 * library, so values decode to plain JS objects without restating the C struct in TypeScript.
 *
 * Offsets come from BTF, not recomputed, so packed/aligned attributes, unions, anonymous members (flattened like C)
 * and bitfields are exact. Scalars reuse `t.*` layouts; `char[N]` becomes `t.cstring(N)`, other byte arrays
 * `t.bytes(N)`, 64-bit integers and pointers bigint (or numbers with `{ u64: 'number' }`).
 */
import {
  type Btf,
  BtfError,
  BTF_INT_BOOL,
  BTF_INT_CHAR,
  BTF_INT_SIGNED,
  type BtfComposite,
  type BtfType,
} from './btf.js';
import { BitfieldLayout, compileStructDecoder, t, type Layout, type StructLayout } from './layout.js';

export interface BtfLayoutOptions {
  /** How 64-bit integers and pointers decode: 'bigint' (exact, default) or 'number' (no BigInt, exact below 2^53). */
  u64?: 'bigint' | 'number';
}

/**
 * The layout of BTF type `id` (or the first type named `name`, struct/union/typedef preferred).
 * Throws BtfError for types that have no value layout (void, functions, forward declarations).
 */
export function btfLayout(btf: Btf, idOrName: number | string, options: BtfLayoutOptions = {}): Layout<any> {
  const id = typeof idOrName === 'number' ? idOrName : findNamed(btf, idOrName);
  return new Builder(btf, options).layout(id, 0);
}

/** Like {@link btfLayout} but requires a struct or union and returns it typed as a StructLayout. */
export function btfStructLayout(
  btf: Btf,
  idOrName: number | string,
  options: BtfLayoutOptions = {},
): StructLayout<Record<string, Layout<any>>> {
  const id = typeof idOrName === 'number' ? idOrName : findNamed(btf, idOrName);
  const ty = btf.resolved(id);
  if (ty.kind !== 4 && ty.kind !== 5) throw new BtfError(`${btf.describe(id)} is not a struct or union`);
  return new Builder(btf, options).layout(id, 0) as StructLayout<Record<string, Layout<any>>>;
}

function findNamed(btf: Btf, name: string): number {
  const id =
    btf.findByName(name, 'struct') ??
    btf.findByName(name, 'union') ??
    btf.findByName(name, 'typedef') ??
    btf.findByName(name);
  if (id === undefined) throw new BtfError(`BTF has no type named '${name}'`);
  return id;
}

const MAX_DEPTH = 32;
const MAX_FIELDS = 65536;

class Builder {
  readonly #cache = new Map<number, Layout<any>>();
  constructor(
    readonly btf: Btf,
    readonly opts: BtfLayoutOptions,
  ) {}

  layout(id: number, depth: number): Layout<any> {
    if (depth > MAX_DEPTH) throw new BtfError(`BTF type ${id}: nesting too deep for a layout`);
    const rid = this.btf.resolve(id);
    const hit = this.#cache.get(rid);
    if (hit) return hit;
    const ty = this.btf.type(rid);
    const l = this.#build(ty, depth);
    this.#cache.set(rid, l);
    return l;
  }

  #build(ty: BtfType, depth: number): Layout<any> {
    const big = this.opts.u64 !== 'number';
    switch (ty.kind) {
      case 1:
        return intLayout(ty.size, (ty.encoding & BTF_INT_SIGNED) !== 0, big);
      case 6:
        return intLayout(ty.size, ty.signed, big);
      case 19:
        return intLayout(ty.size, ty.signed, big);
      case 2:
        return big ? t.u64 : t.u64num;
      case 16:
        if (ty.size <= 0) throw new BtfError(`zero-sized float ${ty.id} has no layout`);
        return ty.size === 4 ? t.f32 : ty.size === 8 ? t.f64 : t.bytes(ty.size);
      case 3: {
        if (ty.nelems === 0) throw new BtfError(`zero-length array type ${ty.id} has no layout`);
        const elem = this.btf.resolved(ty.type);
        if (elem.kind === 1 && elem.size === 1 && !(elem.encoding & BTF_INT_BOOL)) {
          const isChar = (elem.encoding & BTF_INT_CHAR) !== 0 || elem.name === 'char';
          return isChar ? t.cstring(ty.nelems) : t.bytes(ty.nelems);
        }
        return t.array(this.layout(ty.type, depth + 1), ty.nelems);
      }
      case 4:
      case 5:
        return new BtfStructLayout(this.btf, ty, (id) => this.layout(id, depth + 1));
      default:
        throw new BtfError(
          `${this.btf.describe(ty.id)} (${ty.kind === 7 ? 'forward declaration' : 'no value'}) has no layout`,
        );
    }
  }
}

function intLayout(size: number, signed: boolean, big: boolean): Layout<any> {
  if (size <= 0) throw new BtfError('zero-sized integer has no layout');
  switch (size) {
    case 1:
      return signed ? t.i8 : t.u8;
    case 2:
      return signed ? t.i16 : t.u16;
    case 4:
      return signed ? t.i32 : t.u32;
    case 8:
      return signed ? t.i64 : big ? t.u64 : t.u64num;
    default:
      return t.bytes(size);
  }
}

/** Bitfield members (the layout library's; re-exported here where it used to live). */
export { BitfieldLayout };

const IDENT = /^[A-Za-z_$][A-Za-z0-9_$]*$/;

interface FlatField {
  name: string;
  byteOffset: number;
  layout: Layout<any>;
  bitfield?: BitfieldLayout;
}

/** A struct/union layout whose offsets come from BTF. Implements the layout library's StructLayout. */
export class BtfStructLayout implements StructLayout<Record<string, Layout<any>>> {
  readonly kind = 'struct' as const;
  readonly size: number;
  readonly align: number;
  readonly fields: Record<string, Layout<any>>;
  readonly offsets: Readonly<Record<string, number>>;
  /** The BTF type this layout was built from. */
  readonly btfType: BtfComposite;
  readonly decode: (view: DataView, offset?: number) => Record<string, any>;
  readonly #flat: FlatField[];
  readonly #cname: string;
  #budget = MAX_FIELDS;

  constructor(btf: Btf, ty: BtfComposite, layoutOf: (id: number) => Layout<any>) {
    this.btfType = ty;
    this.size = ty.size;
    this.#cname = btf.describe(ty.id);
    let align = 1;
    try {
      align = btf.alignOf(ty.id);
    } catch {
      /* keep 1 */
    }
    this.align = align;
    const flat: FlatField[] = [];
    this.#collect(btf, ty, 0, layoutOf, flat, 0);
    const seen = new Set<string>();
    for (const f of flat) {
      if (seen.has(f.name)) throw new BtfError(`${this.#cname}: duplicate member name '${f.name}' after flattening`);
      seen.add(f.name);
      if (f.byteOffset + f.layout.size > this.size)
        throw new BtfError(`${this.#cname}: member '${f.name}' overruns the ${this.size}-byte type`);
    }
    this.#flat = flat;
    const fields: Record<string, Layout<any>> = {};
    const offsets: Record<string, number> = {};
    for (const f of flat) {
      fields[f.name] = f.layout;
      offsets[f.name] = f.byteOffset;
    }
    this.fields = fields;
    this.offsets = Object.freeze(offsets);
    this.decode = compileDecoder(flat);
  }

  #collect(
    btf: Btf,
    ty: BtfComposite,
    bitBase: number,
    layoutOf: (id: number) => Layout<any>,
    out: FlatField[],
    depth: number,
  ): void {
    if (depth > MAX_DEPTH) throw new BtfError(`${this.#cname}: anonymous member nesting too deep`);
    // Anonymous members flatten into the parent and can fan out; a real value has far fewer fields than this.
    this.#budget -= ty.members.length;
    if (this.#budget < 0) throw new BtfError(`${this.#cname}: more than ${MAX_FIELDS} members after flattening`);
    for (const m of ty.members) {
      const bitOffset = bitBase + m.bitOffset;
      const mt = btf.resolved(m.type);
      if (m.name === '') {
        // Anonymous struct/union: C exposes its members directly.
        if (mt.kind === 4 || mt.kind === 5) this.#collect(btf, mt, bitOffset, layoutOf, out, depth + 1);
        continue;
      }
      if (mt.kind === 3 && mt.nelems === 0) continue; // flexible array: no storage in the value
      if (m.bitfieldSize > 0 || bitOffset % 8 !== 0) {
        const bits = m.bitfieldSize || btf.sizeOf(m.type) * 8;
        // Malformed BTF can claim any width; a C bitfield fits its 1..64-bit base type.
        if (bits < 1 || bits > 64)
          throw new BtfError(`${this.#cname}.${m.name}: a bitfield of ${bits} bits (valid: 1..64)`);
        const signed =
          (mt.kind === 1 && (mt.encoding & BTF_INT_SIGNED) !== 0) || ((mt.kind === 6 || mt.kind === 19) && mt.signed);
        const wide = btf.sizeOf(m.type) === 8;
        const bf = new BitfieldLayout(
          bitOffset % 8,
          bits,
          signed,
          wide && (layoutOf(m.type) === t.u64 || layoutOf(m.type) === t.i64),
        );
        out.push({ name: m.name, byteOffset: Math.floor(bitOffset / 8), layout: bf, bitfield: bf });
        continue;
      }
      out.push({ name: m.name, byteOffset: bitOffset / 8, layout: layoutOf(m.type) });
    }
  }

  offsetOf(field: string): number {
    const o = this.offsets[field];
    if (o === undefined)
      throw new RangeError(
        `tsbpf: ${this.#cname} has no field "${field}" (fields: ${Object.keys(this.offsets).join(', ')})`,
      );
    return o;
  }

  encode(value: Record<string, any>, view: DataView, offset = 0): void {
    if (value === null || typeof value !== 'object')
      throw new TypeError(`tsbpf: ${this.#cname} expects an object, got ${value === null ? 'null' : typeof value}`);
    for (let i = 0; i < this.size; i++) view.setUint8(offset + i, 0);
    for (const f of this.#flat) {
      const v = value[f.name];
      if (v === undefined) continue;
      try {
        f.layout.encode(v, view, offset + f.byteOffset);
      } catch (e) {
        (e as Error).message = `field "${f.name}": ${(e as Error).message}`;
        throw e;
      }
    }
  }

  fromBytes(bytes: Uint8Array): Record<string, any> {
    if (bytes.byteLength < this.size)
      throw new RangeError(`tsbpf: ${this.#cname} needs ${this.size} bytes, got ${bytes.byteLength}`);
    return this.decode(new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength), 0);
  }

  toBytes(value: Record<string, any>): Uint8Array {
    const out = new Uint8Array(this.size);
    this.encode(value, new DataView(out.buffer), 0);
    return out;
  }

  toString(): string {
    return `${this.#cname} { ${this.#flat.map((f) => `${f.layout} ${f.name};`).join(' ')} }`;
  }
}

/** Generated decoder, as the layout library does: scalar reads inline, others through their codec. */
function compileDecoder(flat: FlatField[]): (view: DataView, offset?: number) => Record<string, any> {
  const codecs: Layout<any>[] = [];
  const parts: string[] = [];
  for (const f of flat) {
    const key = IDENT.test(f.name) ? f.name : JSON.stringify(f.name);
    const at = `o + ${f.byteOffset}`;
    const l = f.layout as any;
    if (typeof l.getter === 'string' && l.kind !== 'bitfield') parts.push(`${key}: v.${l.getter}(${at}, true)`);
    else if (f.bitfield && !f.bitfield.bigint && f.bitfield.size <= 4 && f.bitfield.bits < 32) {
      // Fast path: bitfield fits in 32 bits of storage; assemble little-endian bytes, shift and mask.
      const bf = f.bitfield;
      const bytes = Array.from({ length: bf.size }, (_, i) => `v.getUint8(${at} + ${i}) * ${2 ** (8 * i)}`).join(' + ');
      const raw = `(Math.floor((${bytes}) / ${2 ** bf.bitShift}) % ${2 ** bf.bits})`;
      parts.push(bf.signed ? `${key}: ((${raw}) << ${32 - bf.bits}) >> ${32 - bf.bits}` : `${key}: ${raw}`);
    } else if (l.kind === 'u64num')
      parts.push(`${key}: v.getUint32(${at}, true) + v.getUint32(${at} + 4, true) * 4294967296`);
    else if (l === t.u64) parts.push(`${key}: v.getBigUint64(${at}, true)`);
    else if (l === t.i64) parts.push(`${key}: v.getBigInt64(${at}, true)`);
    else {
      codecs.push(l);
      parts.push(`${key}: c[${codecs.length - 1}].decode(v, ${at})`);
    }
  }
  return compileStructDecoder<Record<string, any>>(
    parts,
    codecs,
    flat.map((f) => [f.name, f.layout, f.byteOffset] as const),
  );
}
