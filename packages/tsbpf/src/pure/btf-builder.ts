/**
 * A small writer for standalone BTF blobs built from scratch (ints, pointers, function prototypes and
 * functions), for programs that have no compiler-made BTF. `Btf` (btf.ts) parses and re-encodes existing
 * BTF; this builds new BTF that `Btf.parse` reads back and BPF_BTF_LOAD accepts.
 */
import {
  BTF_FUNC_GLOBAL,
  BTF_FUNC_STATIC,
  BTF_INT_BOOL,
  BTF_INT_CHAR,
  BTF_INT_SIGNED,
  BTF_KIND,
  BTF_MAGIC,
} from './btf.js';

/** A function parameter: name (may be '') and type id. */
export interface BtfBuilderParam {
  name: string;
  type: number;
}

const IDENT = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * Builds a BTF blob type by type. Each `add*` returns the new type's id (ids start at 1; 0 is void).
 *
 * ```ts
 * const b = new BtfBuilder();
 * const int = b.addInt('int', 4, { signed: true });
 * const proto = b.addFuncProto(int, [{ name: 'ctx', type: b.addPtr(0) }]);
 * b.addFunc('main', proto);
 * const bytes = b.encode();
 * ```
 */
export class BtfBuilder {
  readonly #words: number[] = [];
  readonly #strings: number[] = [0];
  readonly #stringOffsets = new Map<string, number>([['', 0]]);
  readonly #encoder = new TextEncoder();
  #count = 0;

  /** Number of types added (the last id). */
  get typeCount(): number {
    return this.#count;
  }

  /** Adds a string to the string table (deduplicated) and returns its offset. */
  addString(s: string): number {
    const known = this.#stringOffsets.get(s);
    if (known !== undefined) return known;
    const enc = this.#encoder.encode(s);
    if (enc.includes(0)) throw new TypeError('tsbpf: BTF strings cannot contain NUL');
    const off = this.#strings.length;
    for (const b of enc) this.#strings.push(b);
    this.#strings.push(0);
    this.#stringOffsets.set(s, off);
    return off;
  }

  #type(name: string, kind: number, vlen: number, sizeOrType: number, extra: number[] = []): number {
    if (!Number.isInteger(vlen) || vlen < 0 || vlen > 0xffff)
      throw new RangeError(`tsbpf: BTF vlen ${vlen} out of range`);
    this.#words.push(this.addString(name), ((kind << 24) | vlen) >>> 0, sizeOrType >>> 0, ...extra);
    return ++this.#count;
  }

  #checkRef(id: number, what: string): number {
    if (!Number.isInteger(id) || id < 0 || id > this.#count)
      throw new RangeError(`tsbpf: ${what}: type id ${id} is not defined (have 0..${this.#count})`);
    return id;
  }

  /** BTF_KIND_INT of `size` bytes (1, 2, 4, 8 or 16). */
  addInt(name: string, size: number, opts: { signed?: boolean; char?: boolean; bool?: boolean } = {}): number {
    if (![1, 2, 4, 8, 16].includes(size))
      throw new RangeError(`tsbpf: BTF int '${name}': size ${size} must be 1, 2, 4, 8 or 16`);
    if (!name) throw new TypeError('tsbpf: BTF int needs a name');
    const enc = (opts.signed ? BTF_INT_SIGNED : 0) | (opts.char ? BTF_INT_CHAR : 0) | (opts.bool ? BTF_INT_BOOL : 0);
    return this.#type(name, BTF_KIND.int, 0, size, [((enc << 24) | (size * 8)) >>> 0]);
  }

  /** BTF_KIND_PTR to `target` (0 for `void *`). */
  addPtr(target: number): number {
    return this.#type('', BTF_KIND.ptr, 0, this.#checkRef(target, 'addPtr'));
  }

  /** Anonymous BTF_KIND_ARRAY of `nelems` elements of type `elem`, indexed by integer type `index`. */
  addArray(elem: number, index: number, nelems: number): number {
    if (!Number.isInteger(nelems) || nelems < 0 || nelems > 0xffffffff)
      throw new RangeError(`tsbpf: BTF array: ${nelems} elements out of range`);
    return this.#type('', BTF_KIND.array, 0, 0, [
      this.#checkRef(elem, 'addArray element'),
      this.#checkRef(index, 'addArray index'),
      nelems,
    ]);
  }

  /** Anonymous BTF_KIND_FUNC_PROTO: `returnType (*)(params...)`; parameter names must be C identifiers or ''. */
  addFuncProto(returnType: number, params: readonly BtfBuilderParam[]): number {
    this.#checkRef(returnType, 'addFuncProto');
    const extra: number[] = [];
    for (const p of params) {
      if (p.name !== '' && !IDENT.test(p.name))
        throw new TypeError(`tsbpf: BTF parameter name '${p.name}' is not a C identifier`);
      extra.push(this.addString(p.name), this.#checkRef(p.type, 'addFuncProto parameter'));
    }
    return this.#type('', BTF_KIND.func_proto, params.length, returnType, extra);
  }

  /** BTF_KIND_FUNC named `name` (a C identifier) of prototype `proto`; linkage static unless given. */
  addFunc(name: string, proto: number, linkage: number = BTF_FUNC_STATIC): number {
    if (!IDENT.test(name)) throw new TypeError(`tsbpf: BTF function name '${name}' is not a C identifier`);
    if (linkage !== BTF_FUNC_STATIC && linkage !== BTF_FUNC_GLOBAL)
      throw new RangeError(`tsbpf: BTF function '${name}': linkage ${linkage} must be static (0) or global (1)`);
    return this.#type(name, BTF_KIND.func, linkage, this.#checkRef(proto, 'addFunc'));
  }

  /** The BTF blob: 24-byte header, type section, string table. */
  encode(): Uint8Array {
    const typeLen = this.#words.length * 4;
    const strLen = this.#strings.length;
    const out = new Uint8Array(24 + typeLen + strLen);
    const v = new DataView(out.buffer);
    v.setUint16(0, BTF_MAGIC, true);
    out[2] = 1; // version
    out[3] = 0; // flags
    v.setUint32(4, 24, true); // hdr_len
    v.setUint32(8, 0, true); // type_off
    v.setUint32(12, typeLen, true);
    v.setUint32(16, typeLen, true); // str_off
    v.setUint32(20, strLen, true);
    for (const [i, w] of this.#words.entries()) v.setUint32(24 + i * 4, w, true);
    out.set(this.#strings, 24 + typeLen);
    return out;
  }
}

/**
 * Turns an arbitrary label into a valid C identifier for BTF: invalid characters become `_`, a leading digit
 * gets a `_` prefix, and the result is capped at 120 characters (the kernel limits names to KSYM_NAME_LEN).
 */
export function sanitizeIdentifier(s: string): string {
  let out = s.replace(/[^A-Za-z0-9_]/g, '_');
  if (out === '' || /^[0-9]/.test(out)) out = `_${out}`;
  return out.slice(0, 120);
}
