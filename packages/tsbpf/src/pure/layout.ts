/**
 * C struct layouts and their codecs: the one definition of a key, value or event that both the BPF
 * side (offsets for the assembler) and the JS side (decode/encode) use.
 *
 * `t.struct({ pid: t.u32, uid: t.u32, timestamp: t.u64, comm: t.cstring(16) })` has size 32 and
 * `offsetOf('timestamp') === 8`, with C alignment and padding. Struct decoders are generated once
 * per layout, so decoding allocates only the result object.
 */

/** A C type with a size, alignment and a codec. */
export interface Layout<T> {
  readonly kind: string;
  readonly size: number;
  readonly align: number;
  /** Reads a value at `offset` (default 0). */
  decode(view: DataView, offset?: number): T;
  /** Writes `value` at `offset` (default 0). */
  encode(value: T, view: DataView, offset?: number): void;
  /** Decodes from the start of a byte array. */
  fromBytes(bytes: Uint8Array): T;
  /** Encodes into a fresh zeroed byte array of `size` bytes. */
  toBytes(value: T): Uint8Array;
  /** A C-like rendering: `u32`, `char[16]`, `struct { ... }`. */
  toString(): string;
}

/** The JS type a layout decodes to (from `decode` alone: `t.u64` encodes numbers too but decodes to bigint). */
export type Infer<L> = L extends { decode(view: DataView, offset?: number): infer T } ? T : never;

/** The fields of a struct layout: name → layout. */
export type StructFields = Record<string, Layout<any>>;
/** The decoded object of a struct of these fields. */
export type StructValue<F extends StructFields> = { [K in keyof F]: Infer<F[K]> };

/** A struct layout: fields, offsets and a generated decoder. */
export interface StructLayout<F extends StructFields> extends Layout<StructValue<F>> {
  readonly kind: 'struct';
  readonly fields: F;
  /** Byte offset of a field: `Event.offsetOf('comm')`. */
  offsetOf(field: keyof F & string): number;
  /** The offsets of all fields, in declaration order. */
  readonly offsets: Readonly<Record<keyof F & string, number>>;
}

function viewOf(bytes: Uint8Array): DataView {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** The shared base of the built-in layouts. */
export abstract class BaseLayout<T> implements Layout<T> {
  abstract readonly kind: string;
  abstract readonly size: number;
  abstract readonly align: number;
  abstract decode(view: DataView, offset?: number): T;
  abstract encode(value: T, view: DataView, offset?: number): void;
  fromBytes(bytes: Uint8Array): T {
    if (bytes.byteLength < this.size)
      throw new RangeError(`tsbpf: ${this} needs ${this.size} bytes, got ${bytes.byteLength}`);
    return this.decode(viewOf(bytes), 0);
  }
  toBytes(value: T): Uint8Array {
    const out = new Uint8Array(this.size);
    this.encode(value, viewOf(out), 0);
    return out;
  }
}

/** The kinds of `NumberLayout`. */
export type NumberKind = 'u8' | 'u16' | 'u32' | 'i8' | 'i16' | 'i32' | 'f32' | 'f64';
const NUM: Record<NumberKind, { size: number; get: string; set: string; min: number; max: number; int: boolean }> = {
  u8: { size: 1, get: 'getUint8', set: 'setUint8', min: 0, max: 0xff, int: true },
  u16: { size: 2, get: 'getUint16', set: 'setUint16', min: 0, max: 0xffff, int: true },
  u32: { size: 4, get: 'getUint32', set: 'setUint32', min: 0, max: 0xffffffff, int: true },
  i8: { size: 1, get: 'getInt8', set: 'setInt8', min: -0x80, max: 0x7f, int: true },
  i16: { size: 2, get: 'getInt16', set: 'setInt16', min: -0x8000, max: 0x7fff, int: true },
  i32: { size: 4, get: 'getInt32', set: 'setInt32', min: -0x80000000, max: 0x7fffffff, int: true },
  f32: { size: 4, get: 'getFloat32', set: 'setFloat32', min: -Infinity, max: Infinity, int: false },
  f64: { size: 8, get: 'getFloat64', set: 'setFloat64', min: -Infinity, max: Infinity, int: false },
};

/** A number scalar (8–32-bit integers, floats). */
export class NumberLayout extends BaseLayout<number> {
  readonly size: number;
  readonly align: number;
  /** The DataView accessor names, used by generated struct codecs. */
  readonly getter: string;
  readonly setter: string;
  constructor(readonly kind: NumberKind) {
    super();
    const d = NUM[kind];
    this.size = d.size;
    this.align = d.size;
    this.getter = d.get;
    this.setter = d.set;
  }
  decode(view: DataView, offset = 0): number {
    return (view as any)[this.getter](offset, true);
  }
  encode(value: number, view: DataView, offset = 0): void {
    checkNumber(this.kind, value);
    (view as any)[this.setter](offset, value, true);
  }
  override toString(): string {
    return this.kind;
  }
}

function checkNumber(kind: NumberKind, value: unknown): void {
  const d = NUM[kind];
  if (typeof value !== 'number' || Number.isNaN(value))
    throw new TypeError(
      `tsbpf: ${kind} expects a number, got ${typeof value === 'bigint' ? `bigint ${value}n` : String(value)}`,
    );
  if (d.int && (!Number.isInteger(value) || value < d.min || value > d.max))
    throw new RangeError(`tsbpf: ${value} does not fit in ${kind} (${d.min}..${d.max})`);
}

/** A 64-bit integer decoded as bigint (exact); encode accepts bigint or a safe-integer number. */
export class BigIntLayout extends BaseLayout<bigint> {
  readonly size: number = 8;
  readonly align: number = 8;
  constructor(readonly kind: 'u64' | 'i64') {
    super();
  }
  decode(view: DataView, offset = 0): bigint {
    return this.kind === 'u64' ? view.getBigUint64(offset, true) : view.getBigInt64(offset, true);
  }
  encode(value: bigint | number, view: DataView, offset = 0): void {
    const v = toBig64(this.kind, value);
    if (this.kind === 'u64') view.setBigUint64(offset, v, true);
    else view.setBigInt64(offset, v, true);
  }
  override toString(): string {
    return this.kind;
  }
}

function toBig64(kind: 'u64' | 'i64', value: unknown): bigint {
  let v: bigint;
  if (typeof value === 'bigint') v = value;
  else if (typeof value === 'number' && Number.isSafeInteger(value)) v = BigInt(value);
  else throw new TypeError(`tsbpf: ${kind} expects a bigint or a safe integer, got ${String(value)}`);
  const ok = kind === 'u64' ? v >= 0n && v <= 0xffffffffffffffffn : v >= -(1n << 63n) && v < 1n << 63n;
  if (!ok) throw new RangeError(`tsbpf: ${v} does not fit in ${kind}`);
  return v;
}

/**
 * A 64-bit integer decoded as a JS number without BigInt (exact below 2^53): for counters and
 * timestamps on hot paths.
 */
export class U64NumberLayout extends BaseLayout<number> {
  readonly size: number = 8;
  readonly align: number = 8;
  readonly kind = 'u64num';
  decode(view: DataView, offset = 0): number {
    return view.getUint32(offset, true) + view.getUint32(offset + 4, true) * 4294967296;
  }
  encode(value: number, view: DataView, offset = 0): void {
    if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0)
      throw new RangeError(`tsbpf: u64num expects a non-negative safe integer, got ${String(value)}`);
    view.setUint32(offset, value % 4294967296, true);
    view.setUint32(offset + 4, Math.floor(value / 4294967296), true);
  }
  override toString(): string {
    return 'u64';
  }
}

/** `char[N]`: decodes up to the first NUL; encodes UTF-8, zero-padded, truncated to fit with a NUL. */
export class CStringLayout extends BaseLayout<string> {
  readonly kind = 'cstring';
  readonly align: number = 1;
  constructor(readonly size: number) {
    super();
  }
  decode(view: DataView, offset = 0): string {
    let s = '';
    const end = offset + this.size;
    for (let i = offset; i < end; i++) {
      const c = view.getUint8(i);
      if (c === 0) return s;
      if (c >= 0x80) return decodeUtf8(view, offset, end);
      s += String.fromCharCode(c);
    }
    return s;
  }
  encode(value: string, view: DataView, offset = 0): void {
    if (typeof value !== 'string')
      throw new TypeError(`tsbpf: char[${this.size}] expects a string, got ${typeof value}`);
    const bytes = utf8.encode(value);
    const n = Math.min(bytes.length, this.size - 1);
    for (let i = 0; i < this.size; i++) view.setUint8(offset + i, i < n ? bytes[i]! : 0);
  }
  override toString(): string {
    return `char[${this.size}]`;
  }
}

const utf8 = new TextEncoder();
const utf8d = new TextDecoder();
function decodeUtf8(view: DataView, start: number, end: number): string {
  const bytes = new Uint8Array(view.buffer, view.byteOffset + start, end - start);
  const nul = bytes.indexOf(0);
  return utf8d.decode(nul < 0 ? bytes : bytes.subarray(0, nul));
}

/** `u8[N]` as raw bytes (a copy). */
export class BytesLayout extends BaseLayout<Uint8Array> {
  readonly kind = 'bytes';
  readonly align: number = 1;
  constructor(readonly size: number) {
    super();
  }
  decode(view: DataView, offset = 0): Uint8Array {
    return new Uint8Array(view.buffer.slice(view.byteOffset + offset, view.byteOffset + offset + this.size));
  }
  encode(value: Uint8Array, view: DataView, offset = 0): void {
    if (!(value instanceof Uint8Array)) throw new TypeError(`tsbpf: u8[${this.size}] expects a Uint8Array`);
    if (value.length > this.size) throw new RangeError(`tsbpf: ${value.length} bytes do not fit in u8[${this.size}]`);
    new Uint8Array(view.buffer, view.byteOffset + offset, this.size).fill(0).set(value);
  }
  override toString(): string {
    return `u8[${this.size}]`;
  }
}

/** A fixed array `T[N]`, decoded to a JS array. */
export class ArrayLayout<T> extends BaseLayout<T[]> {
  readonly kind = 'array';
  readonly size: number;
  readonly align: number;
  constructor(
    readonly element: Layout<T>,
    readonly length: number,
  ) {
    super();
    this.size = element.size * length;
    this.align = element.align;
  }
  decode(view: DataView, offset = 0): T[] {
    const out = new Array<T>(this.length);
    for (let i = 0; i < this.length; i++) out[i] = this.element.decode(view, offset + i * this.element.size);
    return out;
  }
  encode(value: T[], view: DataView, offset = 0): void {
    if (!Array.isArray(value) && !ArrayBuffer.isView(value)) throw new TypeError(`tsbpf: ${this} expects an array`);
    if (value.length > this.length) throw new RangeError(`tsbpf: ${value.length} elements do not fit in ${this}`);
    for (let i = 0; i < this.length; i++) {
      if (i < value.length) this.element.encode(value[i]!, view, offset + i * this.element.size);
      else new Uint8Array(view.buffer, view.byteOffset + offset + i * this.element.size, this.element.size).fill(0);
    }
  }
  override toString(): string {
    return `${this.element}[${this.length}]`;
  }
}

/** Explicit padding bytes (decoded as undefined, encoded as zeros). */
export class PadLayout extends BaseLayout<undefined> {
  readonly kind = 'pad';
  readonly align: number = 1;
  constructor(readonly size: number) {
    super();
  }
  decode(): undefined {
    return undefined;
  }
  encode(_v: undefined, view: DataView, offset = 0): void {
    for (let i = 0; i < this.size; i++) view.setUint8(offset + i, 0);
  }
  override toString(): string {
    return `pad[${this.size}]`;
  }
}

/** `bool` (`_Bool`): one byte, decoded as `value !== 0`, encoded as 0/1. */
export class BoolLayout extends BaseLayout<boolean> {
  readonly kind = 'bool';
  readonly size: number = 1;
  readonly align: number = 1;
  decode(view: DataView, offset = 0): boolean {
    return view.getUint8(offset) !== 0;
  }
  encode(value: boolean, view: DataView, offset = 0): void {
    if (typeof value !== 'boolean') throw new TypeError(`tsbpf: bool expects a boolean, got ${typeof value}`);
    view.setUint8(offset, value ? 1 : 0);
  }
  override toString(): string {
    return 'bool';
  }
}

/**
 * A C bitfield member (`unsigned flags : 3`): `bits` bits starting `bitShift` bits into the bytes at the member's
 * byte offset (little-endian), spanning `size = ceil((bitShift + bits) / 8)` bytes. Decodes to a number, or a
 * bigint when built with `bigint` (64-bit storage). Encoding read-modify-writes, so bitfields sharing bytes
 * coexist. Only meaningful inside a struct with explicit `offsets` (the byte offset C gives the member).
 */
export class BitfieldLayout<T extends number | bigint = number | bigint> implements Layout<T> {
  readonly kind = 'bitfield';
  readonly align = 1;
  readonly size: number;
  constructor(
    /** Bit offset relative to the byte offset the struct stores for this field. */
    readonly bitShift: number,
    readonly bits: number,
    readonly signed: boolean,
    readonly bigint: boolean,
  ) {
    if (!Number.isInteger(bits) || bits < 1 || bits > 64)
      throw new RangeError(`tsbpf: a bitfield has 1..64 bits, got ${bits}`);
    if (!Number.isInteger(bitShift) || bitShift < 0 || bitShift > 7)
      throw new RangeError(`tsbpf: bitfield shift must be 0..7 (the byte offset holds the rest), got ${bitShift}`);
    this.size = Math.ceil((bitShift + bits) / 8);
  }
  decode(view: DataView, offset = 0): T {
    let x = 0n;
    for (let i = this.size - 1; i >= 0; i--) x = (x << 8n) | BigInt(view.getUint8(offset + i));
    x = (x >> BigInt(this.bitShift)) & ((1n << BigInt(this.bits)) - 1n);
    if (this.signed) x = BigInt.asIntN(this.bits, x);
    return (this.bigint ? x : Number(x)) as T;
  }
  encode(value: T, view: DataView, offset = 0): void {
    if (typeof value !== 'number' && typeof value !== 'bigint')
      throw new TypeError(`tsbpf: bitfield expects a number, got ${typeof value}`);
    if (typeof value === 'number' && !Number.isInteger(value))
      throw new RangeError(`tsbpf: bitfield expects an integer, got ${value}`);
    const v = BigInt(value);
    const lo = this.signed ? -(1n << BigInt(this.bits - 1)) : 0n;
    const hi = this.signed ? (1n << BigInt(this.bits - 1)) - 1n : (1n << BigInt(this.bits)) - 1n;
    if (v < lo || v > hi)
      throw new RangeError(
        `tsbpf: ${value} does not fit in a ${this.bits}-bit ${this.signed ? 'signed' : 'unsigned'} bitfield`,
      );
    let word = 0n;
    for (let i = this.size - 1; i >= 0; i--) word = (word << 8n) | BigInt(view.getUint8(offset + i));
    const mask = ((1n << BigInt(this.bits)) - 1n) << BigInt(this.bitShift);
    word = (word & ~mask) | ((BigInt.asUintN(this.bits, v) << BigInt(this.bitShift)) & mask);
    for (let i = 0; i < this.size; i++) {
      view.setUint8(offset + i, Number(word & 0xffn));
      word >>= 8n;
    }
  }
  fromBytes(bytes: Uint8Array): T {
    return this.decode(new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength));
  }
  toBytes(value: T): Uint8Array {
    const out = new Uint8Array(this.size);
    this.encode(value, new DataView(out.buffer));
    return out;
  }
  toString(): string {
    return `${this.signed ? 'int' : 'unsigned'} :${this.bits}`;
  }
}

/**
 * Explicit placement for `t.struct` / `t.union` (as C compilers and BTF report it): byte offset of every field,
 * total size and alignment. Needed for bitfields, `__attribute__((packed, aligned(n)))` and flattened anonymous
 * members; without it fields are laid out with natural alignment.
 */
export interface StructPlacement<F extends StructFields> {
  /** Byte offset of each field (all of them). */
  offsets?: { readonly [K in keyof F]: number };
  /** Total size in bytes (default: the end of the last field, rounded up to the alignment). */
  size?: number;
  /** Alignment (default: the largest field alignment, 1 when packed). */
  align?: number;
}

const IDENT = /^[A-Za-z_$][A-Za-z0-9_$]*$/;

class StructLayoutImpl<F extends StructFields> extends BaseLayout<StructValue<F>> implements StructLayout<F> {
  readonly kind = 'struct';
  readonly size: number;
  readonly align: number;
  readonly offsets: Readonly<Record<keyof F & string, number>>;
  readonly decode: (view: DataView, offset?: number) => StructValue<F>;
  readonly #names: string[];

  constructor(
    readonly fields: F,
    packed: boolean,
    placement?: StructPlacement<F>,
    readonly union = false,
  ) {
    super();
    const names = Object.keys(fields);
    const what = union ? 'union' : 'struct';
    if (names.length === 0 && placement?.size === undefined)
      throw new TypeError(`tsbpf: a ${what} needs at least one field`);
    const given = placement?.offsets as Record<string, number> | undefined;
    let off = 0;
    let end = 0;
    let align = 1;
    const offsets: Record<string, number> = {};
    for (const n of names) {
      const f = fields[n];
      if (!f || typeof f.decode !== 'function') throw new TypeError(`tsbpf: field "${n}" is not a layout`);
      const a = packed ? 1 : f.align;
      if (given) {
        const o = given[n];
        if (!Number.isInteger(o) || o! < 0)
          throw new TypeError(`tsbpf: ${what} placement has no valid offset for field "${n}"`);
        off = o!;
      } else if (!union) off = alignUp(off, a);
      offsets[n] = off;
      end = Math.max(end, off + f.size);
      if (!union) off += f.size;
      align = Math.max(align, a);
    }
    if (placement?.align !== undefined) align = positiveInt(placement.align, `${what} alignment`);
    const size = placement?.size ?? alignUp(end, align);
    if (!Number.isInteger(size) || size < end)
      throw new RangeError(`tsbpf: ${what} size ${size} is smaller than its fields (${end} bytes)`);
    this.size = size;
    this.align = align;
    this.offsets = Object.freeze(offsets) as Record<keyof F & string, number>;
    this.#names = names;
    this.decode = compileDecoder(names, fields, offsets);
  }

  offsetOf(field: keyof F & string): number {
    const o = this.offsets[field];
    if (o === undefined)
      throw new RangeError(`tsbpf: struct has no field "${String(field)}" (fields: ${this.#names.join(', ')})`);
    return o;
  }

  encode(value: StructValue<F>, view: DataView, offset = 0): void {
    if (value === null || typeof value !== 'object')
      throw new TypeError(`tsbpf: struct expects an object, got ${value === null ? 'null' : typeof value}`);
    // Zero the whole struct first: padding and omitted fields must not leak stale bytes.
    for (let i = 0; i < this.size; i++) view.setUint8(offset + i, 0);
    for (const n of this.#names) {
      const v = (value as any)[n];
      if (v === undefined) continue;
      try {
        this.fields[n]!.encode(v, view, offset + this.offsets[n as keyof F & string]);
      } catch (e) {
        (e as Error).message = `field "${n}": ${(e as Error).message}`;
        throw e;
      }
    }
  }

  override toString(): string {
    return `${this.union ? 'union' : 'struct'} { ${this.#names.map((n) => `${this.fields[n]} ${n};`).join(' ')} }`;
  }
}

/** A struct decoder: the object a struct's bytes at `offset` decode to. */
type ObjectDecoder<T> = (view: DataView, offset?: number) => T;

/**
 * Compiles a generated struct decoder, `function decode(v, o) { return { <parts> }; }` with the
 * non-inline codecs as `c`. Where code generation from strings is disabled (node
 * --disallow-code-generation-from-strings, a CSP) new Function throws an EvalError, and the
 * decoder is `fieldwise` instead: the same fields, each through its own layout (slower, same values).
 * @internal
 */
export function compileStructDecoder<T>(
  parts: readonly string[],
  codecs: readonly Layout<any>[],
  fieldwise: readonly (readonly [name: string, layout: Layout<any>, offset: number])[],
): ObjectDecoder<T> {
  let make: (c: readonly Layout<any>[]) => ObjectDecoder<T>;
  try {
    // eslint-disable-next-line no-new-func
    make = new Function(
      'c',
      `return function decode(v, o) { if (o === undefined) o = 0; return { ${parts.join(', ')} }; }`,
    ) as typeof make;
  } catch (e) {
    if (!(e instanceof EvalError)) throw e;
    return (view, offset = 0) => {
      const out: Record<string, unknown> = {};
      for (const [name, layout, at] of fieldwise) out[name] = layout.decode(view, offset + at);
      return out as T;
    };
  }
  return make(codecs);
}

/** Generates `(v, o) => ({ pid: v.getUint32(o + 0, true), ... })` once per struct. */
function compileDecoder<F extends StructFields>(
  names: string[],
  fields: F,
  offsets: Record<string, number>,
): (view: DataView, offset?: number) => StructValue<F> {
  const codecs: Layout<any>[] = [];
  const parts: string[] = [];
  for (const n of names) {
    const f = fields[n]!;
    const key = IDENT.test(n) ? n : JSON.stringify(n);
    const at = `o + ${offsets[n]}`;
    if (f instanceof PadLayout) continue;
    if (f instanceof NumberLayout) parts.push(`${key}: v.${f.getter}(${at}, true)`);
    else if (f instanceof U64NumberLayout)
      parts.push(`${key}: v.getUint32(${at}, true) + v.getUint32(${at} + 4, true) * 4294967296`);
    else if (f instanceof BigIntLayout)
      parts.push(`${key}: v.${f.kind === 'u64' ? 'getBigUint64' : 'getBigInt64'}(${at}, true)`);
    else if (f instanceof BoolLayout) parts.push(`${key}: v.getUint8(${at}) !== 0`);
    else if (f instanceof BitfieldLayout && !f.bigint && f.size <= 4 && f.bits < 32) {
      // Bitfield in at most 4 bytes: assemble the little-endian bytes, shift and mask without BigInt.
      const bytes = Array.from({ length: f.size }, (_, i) => `v.getUint8(${at} + ${i}) * ${2 ** (8 * i)}`).join(' + ');
      const raw = `(Math.floor((${bytes}) / ${2 ** f.bitShift}) % ${2 ** f.bits})`;
      parts.push(f.signed ? `${key}: ((${raw}) << ${32 - f.bits}) >> ${32 - f.bits}` : `${key}: ${raw}`);
    } else {
      codecs.push(f);
      parts.push(`${key}: c[${codecs.length - 1}].decode(v, ${at})`);
    }
  }
  const fieldwise = names
    .filter((n) => !(fields[n] instanceof PadLayout))
    .map((n) => [n, fields[n]!, offsets[n]!] as const);
  return compileStructDecoder<StructValue<F>>(parts, codecs, fieldwise);
}

function alignUp(n: number, a: number): number {
  return Math.ceil(n / a) * a;
}

function positiveInt(n: number, what: string): number {
  if (!Number.isInteger(n) || n <= 0) throw new RangeError(`tsbpf: ${what} must be a positive integer, got ${n}`);
  return n;
}

/** The layout library: scalars, strings, arrays and structs with C alignment. */
export const t = {
  u8: new NumberLayout('u8'),
  u16: new NumberLayout('u16'),
  u32: new NumberLayout('u32'),
  i8: new NumberLayout('i8'),
  i16: new NumberLayout('i16'),
  i32: new NumberLayout('i32'),
  f32: new NumberLayout('f32'),
  f64: new NumberLayout('f64'),
  /** 64-bit unsigned as bigint. */
  u64: new BigIntLayout('u64'),
  /** 64-bit signed as bigint. */
  i64: new BigIntLayout('i64'),
  /** 64-bit unsigned as a JS number (exact below 2^53), no BigInt: for hot paths. */
  u64num: new U64NumberLayout(),
  /** `char[n]` decoded as a string up to the first NUL. */
  cstring: (n: number) => new CStringLayout(positiveInt(n, 'cstring length')),
  /** `u8[n]` as a Uint8Array. */
  bytes: (n: number) => new BytesLayout(positiveInt(n, 'bytes length')),
  /** `T[n]` (elements typed by what they decode to: `t.array(t.u64, 4)` is bigint[]). */
  array: <L extends Layout<any>>(element: L, n: number): ArrayLayout<Infer<L>> =>
    new ArrayLayout(element as Layout<Infer<L>>, positiveInt(n, 'array length')),
  /** Explicit padding. */
  pad: (n: number) => new PadLayout(positiveInt(n, 'pad length')),
  /**
   * A C struct with natural alignment and tail padding, or placed exactly with `{ offsets, size, align }` (what
   * `tsbpf gen types` emits from BTF: bitfields, packed/aligned attributes, flattened anonymous members).
   */
  struct: <F extends StructFields>(fields: F, placement?: StructPlacement<F>): StructLayout<F> =>
    new StructLayoutImpl(fields, false, placement),
  /** A `__attribute__((packed))` struct. */
  packed: <F extends StructFields>(fields: F): StructLayout<F> => new StructLayoutImpl(fields, true),
  /**
   * A C union: every member at offset 0, size of the largest rounded up to the alignment (or `{ size, align }`).
   * Decoding reads every member; encoding writes the members given (give one).
   */
  union: <F extends StructFields>(fields: F, placement?: Omit<StructPlacement<F>, 'offsets'>): StructLayout<F> =>
    new StructLayoutImpl(fields, false, placement, true),
  /** `bool` / `_Bool` as a boolean. */
  bool: new BoolLayout(),
  /**
   * A bitfield member of `bits` bits (1..52), `shift` bits into its byte offset; place it with `t.struct(fields,
   * { offsets })`. `signed` sign-extends. For bitfields over 52 bits use `t.bitfield64`.
   */
  bitfield: (bits: number, options: { shift?: number; signed?: boolean } = {}): BitfieldLayout<number> => {
    if (bits > 52)
      throw new RangeError(`tsbpf: a ${bits}-bit bitfield does not fit a JS number exactly; use t.bitfield64`);
    return new BitfieldLayout<number>(options.shift ?? 0, bits, options.signed ?? false, false);
  },
  /** A bitfield member decoded as a bigint (64-bit storage). */
  bitfield64: (bits: number, options: { shift?: number; signed?: boolean } = {}): BitfieldLayout<bigint> =>
    new BitfieldLayout<bigint>(options.shift ?? 0, bits, options.signed ?? false, true),
};

/** True when `x` is a layout (as opposed to a byte size). */
export function isLayout(x: unknown): x is Layout<unknown> {
  return (
    typeof x === 'object' &&
    x !== null &&
    typeof (x as Layout<unknown>).decode === 'function' &&
    typeof (x as Layout<unknown>).size === 'number'
  );
}
