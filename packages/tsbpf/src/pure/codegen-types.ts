/**
 * `tsbpf gen types`: TypeScript bindings for a clang-compiled BPF object, from its BTF.
 *
 * For every struct, union and enum reachable from the maps' keys and values, the global variables (`.rodata`,
 * `.bss`, `.data`, `.data.x`, `.kconfig`) and the extra type names asked for (a ring buffer record), the module
 * gets a TypeScript type and a `t` layout (the layout library's combinators, so values decode exactly as at run
 * time), then a typed wrapper class over `BpfObject`:
 *
 * ```ts
 * const obj = await MinimalObject.open();   // minimal.bpf.o
 * obj.rodata.min_pid = 100;                  // typed .rodata, before load
 * obj.load();
 * obj.attach();
 * obj.bss.count;                             // typed .bss, read from the map's memory
 * obj.maps.counts.lookup(1);                 // HashMap<number, bigint>
 * obj.programs.handle_exec.info.target.name  // program with its attach kind ('tracepoint')
 * ```
 *
 * Type mapping: 8–32-bit integers, floats and enums → number; 64-bit integers and pointers → bigint; `bool` →
 * boolean; `char[N]` → string (up to the first NUL); other byte arrays → Uint8Array; `T[N][M]` → nested arrays;
 * structs/unions → interfaces; bitfields → number (bigint when their storage is 64-bit). Typedefs resolve to
 * what they name (a typedef named with `--type` becomes an alias). Anonymous struct/union members are flattened
 * into their parent, as C accesses them (`ev.a` for `union { int a; float b; };`); a named member of an
 * anonymous type gets the type `<parent>__<member>`. Enums become a const object of their values plus a union
 * type of them; fields of enum type decode to a plain number (C enums may hold any value). Names are kept as in
 * C; a type name that TypeScript reserves (or that the module imports) gets a trailing `_`.
 *
 * Offsets come from BTF: a layout is emitted with natural alignment when that reproduces BTF exactly, else with
 * explicit `{ offsets, size, align }`. Every layout is built here too and checked against BTF, and the module
 * checks its sizes when imported, so a wrong offset cannot go unnoticed. Pure: no filesystem, no addon.
 */
import {
  type Btf,
  BtfError,
  BTF_INT_BOOL,
  BTF_INT_CHAR,
  BTF_INT_SIGNED,
  type BtfComposite,
  type BtfEnum,
  type BtfEnum64,
} from './btf.js';
import { t, type Layout, type StructFields } from './layout.js';
import type { ObjectSpec } from './object-spec.js';
import type { MapSpec } from './map-spec.js';
import type { MapTypeName } from './uapi.js';

/** Options for {@link generateTypes}. */
export interface GenTypesOptions {
  /**
   * Base name of the object (`minimal` for `minimal.bpf.o`): names the wrapper class (`MinimalObject`) and the
   * object in the kernel (global data map names).
   */
  name: string;
  /** Extra struct/union/enum/typedef names to emit (`--type event`: the usual ring buffer record). */
  types?: readonly string[];
  /**
   * Where the wrapper finds the object's bytes: `{ embed: bytes }` embeds them (base64) in the module;
   * `{ path }` reads them at `open()` from that path relative to the module (`'./minimal.bpf.o'`);
   * `false` emits types and layouts only, no wrapper.
   */
  object: { embed: Uint8Array } | { path: string } | false;
  /** Module the generated code imports from (default `'tsbpf'`). */
  importFrom?: string;
  /** The object's file name, for comments (default `<name>.bpf.o`). */
  file?: string;
}

/** One emitted type, for tests and tools: its C description, TS name and the layout built from BTF. */
export interface GeneratedType {
  /** BTF type id (resolved). */
  id: number;
  /** Name in the module. */
  name: string;
  /** `struct`, `union`, `enum` or `typedef`. */
  kind: 'struct' | 'union' | 'enum' | 'typedef';
  /** The layout the module's code builds (structs/unions/typedefs), built here from the same description. */
  layout: Layout<unknown> | undefined;
}

/** The result of {@link generateTypes}. */
export interface GeneratedModule {
  /** TypeScript source text. */
  source: string;
  /** The wrapper class name (`MinimalObject`), or undefined with `object: false`. */
  className: string | undefined;
  /** The types emitted, in order. */
  types: GeneratedType[];
}

const RESERVED = new Set([
  'break',
  'case',
  'catch',
  'class',
  'const',
  'continue',
  'debugger',
  'default',
  'delete',
  'do',
  'else',
  'enum',
  'export',
  'extends',
  'false',
  'finally',
  'for',
  'function',
  'if',
  'import',
  'in',
  'instanceof',
  'new',
  'null',
  'return',
  'super',
  'switch',
  'this',
  'throw',
  'true',
  'try',
  'typeof',
  'var',
  'void',
  'while',
  'with',
  'as',
  'implements',
  'interface',
  'let',
  'package',
  'private',
  'protected',
  'public',
  'static',
  'yield',
  'await',
  'any',
  'boolean',
  'number',
  'string',
  'symbol',
  'bigint',
  'object',
  'never',
  'unknown',
  'undefined',
  'type',
  'declare',
  'namespace',
  'module',
  'keyof',
  'infer',
  'is',
  'asserts',
  'readonly',
  'unique',
  'global',
  'of',
  'satisfies',
  'accessor',
  'constructor',
  'require',
  'arguments',
  'eval',
  // Globals the module itself uses.
  'Buffer',
  'URL',
  'Error',
  'Promise',
  'Symbol',
  'DataView',
  'Uint8Array',
  'Array',
  'Object',
  'String',
  'Number',
  'BigInt',
  'Boolean',
  'decodeURIComponent',
]);
const IDENT = /^[A-Za-z_$][A-Za-z0-9_$]*$/;
const MAX_DEPTH = 32;
const BASE64_LINE = 100;
const CHAR_BITS = 8;

/** The tsbpf names the module may import (reserved against C names). */
const IMPORTS = [
  't',
  'Layout',
  'BpfObject',
  'BpfObjectOptions',
  'GlobalData',
  'ObjectProgram',
  'AttachTarget',
  'SectionInfo',
  'Link',
  'HashMap',
  'LruHash',
  'ArrayMap',
  'PerCpuArray',
  'PerCpuHash',
  'LruPerCpuHash',
  'LpmTrie',
  'Queue',
  'Stack',
  'BloomFilter',
  'RingBufMap',
  'PerfEventArray',
  'ProgArray',
  'ArrayOfMaps',
  'HashOfMaps',
  'TaskStorage',
  'SkStorage',
  'InodeStorage',
  'CgrpStorage',
  'GenericMap',
] as const;
const TYPE_ONLY_IMPORTS = new Set([
  'Layout',
  'BpfObjectOptions',
  'GlobalData',
  'ObjectProgram',
  'AttachTarget',
  'SectionInfo',
  'Link',
]);

/** Map type → the typed class and which codecs its `from` takes. */
const MAP_CLASSES: Partial<Record<MapTypeName, { cls: string; codecs: 'kv' | 'v' | 'k' | 'none' }>> = {
  hash: { cls: 'HashMap', codecs: 'kv' },
  lru_hash: { cls: 'LruHash', codecs: 'kv' },
  array: { cls: 'ArrayMap', codecs: 'v' },
  percpu_array: { cls: 'PerCpuArray', codecs: 'v' },
  percpu_hash: { cls: 'PerCpuHash', codecs: 'kv' },
  lru_percpu_hash: { cls: 'LruPerCpuHash', codecs: 'kv' },
  lpm_trie: { cls: 'LpmTrie', codecs: 'kv' },
  queue: { cls: 'Queue', codecs: 'v' },
  stack: { cls: 'Stack', codecs: 'v' },
  bloom_filter: { cls: 'BloomFilter', codecs: 'v' },
  ringbuf: { cls: 'RingBufMap', codecs: 'none' },
  perf_event_array: { cls: 'PerfEventArray', codecs: 'none' },
  prog_array: { cls: 'ProgArray', codecs: 'none' },
  array_of_maps: { cls: 'ArrayOfMaps', codecs: 'none' },
  hash_of_maps: { cls: 'HashOfMaps', codecs: 'k' },
  task_storage: { cls: 'TaskStorage', codecs: 'v' },
  sk_storage: { cls: 'SkStorage', codecs: 'v' },
  inode_storage: { cls: 'InodeStorage', codecs: 'v' },
  cgrp_storage: { cls: 'CgrpStorage', codecs: 'v' },
};

/** A reference to a type: its TS type, the layout expression and the layout itself. */
interface Ref {
  ts: string;
  expr: string;
  layout: Layout<unknown>;
  /** For enum-typed values: the C enum, noted in a comment. */
  note?: string;
}

/** One flattened member of a struct/union. */
interface Member {
  name: string;
  byteOffset: number;
  ref: Ref;
}

/**
 * Generates the TypeScript module for an object spec (see the file comment). Throws BtfError when the object has
 * no BTF (compile with `-g`), a `--type` name is unknown, or a type cannot be represented.
 */
export function generateTypes(spec: ObjectSpec, options: GenTypesOptions): GeneratedModule {
  if (!options || typeof options.name !== 'string' || options.name === '')
    throw new TypeError('tsbpf: generateTypes needs options.name');
  const btf = spec.btf;
  if (!btf) throw new BtfError(`${options.name}: the object has no .BTF section; compile it with clang -g`);
  return new Generator(btf, spec, options).run();
}

/** `minimal` → `MinimalObject`, `my-prog_v2` → `MyProgV2Object`. */
export function wrapperClassName(name: string): string {
  const words = name.split(/[^A-Za-z0-9]+/).filter(Boolean);
  let base = words.map((w) => w[0]!.toUpperCase() + w.slice(1)).join('');
  if (base === '' || /^[0-9]/.test(base)) base = `Bpf${base}`;
  return `${base}Object`;
}

/** The object base name of a path: `out/minimal.bpf.o` → `minimal`. */
export function objectBaseName(path: string): string {
  const file = path.split(/[\\/]/).pop() ?? path;
  return file.replace(/(\.bpf)?\.o$/, '') || 'obj';
}

class Generator {
  readonly #btf: Btf;
  readonly #spec: ObjectSpec;
  readonly #opts: GenTypesOptions;
  /** Resolved BTF id → emitted name (struct/union/enum). */
  readonly #named = new Map<number, string>();
  /** Emitted names (types and values share them: an interface and its layout constant). */
  readonly #used = new Set<string>([...IMPORTS, 'dataOf', 'OBJECT_BASE64']);
  readonly #chunks: string[] = [];
  readonly #types: GeneratedType[] = [];
  readonly #layouts = new Map<number, Layout<unknown>>();
  readonly #sizes: { name: string; size: number }[] = [];
  readonly #imports = new Set<string>(['t', 'Layout']);
  #className: string | undefined;
  readonly #file: string;

  constructor(btf: Btf, spec: ObjectSpec, opts: GenTypesOptions) {
    this.#btf = btf;
    this.#spec = spec;
    this.#opts = opts;
    // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what it removes from a file name put into generated source.
    this.#file = (opts.file ?? `${opts.name}.bpf.o`).replace(/\*\//g, '*_/').replace(/[`$\\\x00-\x1f]/g, '_');
  }

  run(): GeneratedModule {
    const wrapper = this.#opts.object !== false;
    if (wrapper) {
      this.#className = this.#claim(wrapperClassName(this.#opts.name));
      // The wrapper's helper classes take these names: reserve them before any C type can.
      for (const suffix of ['Maps', 'Programs', 'Program'])
        this.#claim(this.#className.replace(/Object$/, '') + suffix);
    }
    // Reachable from maps.
    const maps = Object.entries(this.#spec.maps).filter(([, m]) => m.origin !== 'data');
    const mapRefs = new Map<string, { key?: Ref; value?: Ref }>();
    for (const [name, m] of maps)
      mapRefs.set(name, { key: this.#mapSide(m, 'key', name), value: this.#mapSide(m, 'value', name) });
    // Reachable from global variables.
    const sections = this.#sections();
    // Named on the command line.
    for (const n of this.#opts.types ?? []) this.#extraType(n);

    const out: string[] = [];
    out.push(`// Generated by \`tsbpf gen types\` from ${this.#file}: do not edit; regenerate when the C changes.`);
    out.push(`/* eslint-disable */`);
    if (wrapper)
      for (const n of [
        'BpfObject',
        'BpfObjectOptions',
        'GlobalData',
        'ObjectProgram',
        'AttachTarget',
        'SectionInfo',
        'Link',
      ])
        this.#imports.add(n);
    const body: string[] = [...this.#chunks];
    if (wrapper) body.push(this.#wrapper(maps, mapRefs, sections));
    body.push(this.#sizeCheck());
    const values = [...this.#imports].filter((n) => !TYPE_ONLY_IMPORTS.has(n)).sort();
    const types = [...this.#imports].filter((n) => TYPE_ONLY_IMPORTS.has(n)).sort();
    out.push(
      `import { ${[...values, ...types.map((n) => `type ${n}`)].join(', ')} } from ${JSON.stringify(this.#opts.importFrom ?? 'tsbpf')};`,
    );
    out.push('');
    return { source: `${out.join('\n')}\n${body.join('\n\n')}\n`, className: this.#className, types: this.#types };
  }

  // ---- names -------------------------------------------------------------------------------------------

  #claim(want: string): string {
    let n = IDENT.test(want) ? want : want.replace(/[^A-Za-z0-9_$]/g, '_').replace(/^([0-9])/, '_$1');
    while (RESERVED.has(n) || this.#used.has(n)) n += '_';
    this.#used.add(n);
    return n;
  }

  // ---- types -------------------------------------------------------------------------------------------

  /** The reference for any value type (`hint` names an anonymous struct/union/enum). */
  #ref(id: number, hint: string, depth = 0): Ref {
    if (depth > MAX_DEPTH) throw new BtfError(`BTF type ${id}: nesting too deep`);
    const btf = this.#btf;
    const rid = btf.resolve(id);
    const ty = btf.type(rid);
    switch (ty.kind) {
      case 1: {
        if (ty.size === 1 && ty.encoding & BTF_INT_BOOL) return { ts: 'boolean', expr: 't.bool', layout: t.bool };
        return intRef(ty.size, (ty.encoding & BTF_INT_SIGNED) !== 0);
      }
      case 2:
        return { ts: 'bigint', expr: 't.u64', layout: t.u64 };
      case 6:
      case 19: {
        const name = this.#enum(ty, typedefName(btf, id) ?? hint);
        return { ...intRef(ty.size, ty.signed), note: `enum ${name}` };
      }
      case 16:
        if (ty.size === 4) return { ts: 'number', expr: 't.f32', layout: t.f32 };
        if (ty.size === 8) return { ts: 'number', expr: 't.f64', layout: t.f64 };
        return bytesRef(ty.size);
      case 3: {
        if (ty.nelems === 0) throw new BtfError(`${btf.describe(rid)}: a zero-length array has no value`);
        const elem = btf.resolved(ty.type);
        if (elem.kind === 1 && elem.size === 1 && !(elem.encoding & BTF_INT_BOOL)) {
          const isChar = (elem.encoding & BTF_INT_CHAR) !== 0 || elem.name === 'char';
          if (isChar) return { ts: 'string', expr: `t.cstring(${ty.nelems})`, layout: t.cstring(ty.nelems) };
          return bytesRef(ty.nelems);
        }
        const e = this.#ref(ty.type, hint, depth + 1);
        return {
          ts: `${/[ |]/.test(e.ts) ? `(${e.ts})` : e.ts}[]`,
          expr: `t.array(${e.expr}, ${ty.nelems})`,
          layout: t.array(e.layout, ty.nelems),
          note: e.note,
        };
      }
      case 4:
      case 5: {
        const name = this.#composite(ty, typedefName(btf, id) ?? hint, depth);
        // No layout: the type contains itself (by value), or building it failed earlier.
        const layout = this.#layouts.get(rid);
        if (!layout)
          throw new BtfError(`${btf.describe(rid)}: has no layout (it contains itself, or could not be laid out)`);
        return { ts: name, expr: name, layout };
      }
      default:
        throw new BtfError(
          `${btf.describe(rid)} has no value layout (${ty.kind === 7 ? 'a forward declaration' : 'not a value type'})`,
        );
    }
  }

  #enum(ty: BtfEnum | BtfEnum64, hint: string): string {
    const have = this.#named.get(ty.id);
    if (have) return have;
    const name = this.#claim(ty.name || hint);
    this.#named.set(ty.id, name);
    const big = ty.kind === 19 && ty.size === 8;
    const vals = ty.values.map(
      (v) => `  ${IDENT.test(v.name) ? v.name : JSON.stringify(v.name)}: ${big ? `${v.value}n` : String(v.value)},`,
    );
    this.#chunks.push(
      [
        `/** enum ${ty.name || `(anonymous, ${hint})`}: its values; fields of this type decode to ${big ? 'a bigint' : 'a number'}. */`,
        `export const ${name} = {`,
        ...vals,
        `} as const;`,
        `/** The values of enum ${ty.name || hint}. */`,
        `export type ${name} = (typeof ${name})[keyof typeof ${name}];`,
      ].join('\n'),
    );
    this.#types.push({ id: ty.id, name, kind: 'enum', layout: undefined });
    return name;
  }

  #composite(ty: BtfComposite, hint: string, depth: number): string {
    const have = this.#named.get(ty.id);
    if (have) return have;
    const isUnion = ty.kind === 5;
    const name = this.#claim(ty.name || hint);
    this.#named.set(ty.id, name);
    const members: Member[] = [];
    this.#flatten(ty, 0, name, members, depth, 0);
    const seen = new Set<string>();
    for (const m of members) {
      if (seen.has(m.name))
        throw new BtfError(
          `${this.#btf.describe(ty.id)}: duplicate member name '${m.name}' after flattening anonymous members`,
        );
      seen.add(m.name);
    }
    const fields: StructFields = {};
    for (const m of members) fields[m.name] = m.ref.layout;
    const offsets: Record<string, number> = {};
    for (const m of members) offsets[m.name] = m.byteOffset;
    let align = 1;
    try {
      align = this.#btf.alignOf(ty.id);
    } catch {
      /* keep 1 */
    }

    // Natural placement when it reproduces BTF exactly (readable output), else explicit.
    let explicit = false;
    let layout!: Layout<unknown>;
    const union = members.length > 0 && members.every((m) => m.byteOffset === 0) && isUnion;
    // BTF that places a member past the type's end cannot be laid out: say so as malformed BTF, not as the
    // layout library's argument error.
    for (const m of members) {
      if (m.byteOffset + m.ref.layout.size > ty.size) {
        throw new BtfError(
          `${this.#btf.describe(ty.id)}: member '${m.name}' (${m.ref.layout.size} bytes at offset ${m.byteOffset}) overruns the ${ty.size}-byte type`,
        );
      }
    }
    try {
      const natural = union ? t.union(fields) : t.struct(fields);
      explicit =
        natural.size !== ty.size ||
        natural.align !== align ||
        members.some((m) => natural.offsets[m.name] !== m.byteOffset);
      layout = natural;
    } catch {
      explicit = true;
    }
    if (explicit) {
      try {
        layout = union
          ? t.union(fields, { size: ty.size, align })
          : t.struct(fields, { offsets, size: ty.size, align });
      } catch (e) {
        if (!((e instanceof RangeError || e instanceof TypeError) && e.message.startsWith('tsbpf: '))) throw e;
        throw new BtfError(
          `${this.#btf.describe(ty.id)}: cannot be laid out as BTF describes it: ${e.message.slice('tsbpf: '.length)}`,
          { cause: e },
        );
      }
    }
    this.#verify(ty, name, layout, members);
    this.#layouts.set(ty.id, layout);

    const ctor = union ? 't.union' : 't.struct';
    const kw = isUnion ? 'union' : 'struct';
    const iface = members.map((m) => `  ${prop(m.name)}: ${m.ref.ts};${m.ref.note ? ` // ${m.ref.note}` : ''}`);
    const lfields = members.map(
      (m) => `  ${prop(m.name)}: ${m.ref.expr},${explicit && !union ? ` // offset ${m.byteOffset}` : ''}`,
    );
    let placement = '';
    if (explicit) {
      placement = union
        ? `, { size: ${ty.size}, align: ${align} }`
        : `, {\n  offsets: { ${members.map((m) => `${prop(m.name)}: ${m.byteOffset}`).join(', ')} },\n  size: ${ty.size},\n  align: ${align},\n}`;
    }
    this.#chunks.push(
      [
        `/** ${kw} ${ty.name || `(anonymous, ${hint})`}: ${ty.size} bytes. */`,
        members.length ? `export interface ${name} {\n${iface.join('\n')}\n}` : `export interface ${name} {}`,
        `export const ${name} = ${ctor}({${lfields.length ? `\n${lfields.join('\n')}\n` : ''}}${placement}) satisfies Layout<${name}>;`,
      ].join('\n'),
    );
    this.#sizes.push({ name, size: ty.size });
    this.#types.push({ id: ty.id, name, kind: kw, layout });
    return name;
  }

  /** Members as C accesses them: anonymous struct/union members flattened, flexible arrays dropped. */
  #flatten(ty: BtfComposite, bitBase: number, owner: string, out: Member[], depth: number, nest: number): void {
    const btf = this.#btf;
    if (nest > MAX_DEPTH) throw new BtfError(`${btf.describe(ty.id)}: anonymous member nesting too deep`);
    for (const m of ty.members) {
      const bitOffset = bitBase + m.bitOffset;
      const mt = btf.resolved(m.type);
      if (m.name === '') {
        if (mt.kind === 4 || mt.kind === 5) this.#flatten(mt, bitOffset, owner, out, depth, nest + 1);
        continue;
      }
      if (mt.kind === 3 && mt.nelems === 0) continue;
      if (m.bitfieldSize > 0 || bitOffset % CHAR_BITS !== 0) {
        const storage = btf.sizeOf(m.type);
        const bits = m.bitfieldSize || storage * CHAR_BITS;
        if (![1, 2, 4, 8].includes(storage) || bits > storage * CHAR_BITS || (mt.kind === 16 && bits > 52)) {
          throw new BtfError(`${btf.describe(ty.id)}: bitfield '${m.name}' of ${bits} bits in ${storage}-byte storage`);
        }
        const signed =
          (mt.kind === 1 && (mt.encoding & BTF_INT_SIGNED) !== 0) || ((mt.kind === 6 || mt.kind === 19) && mt.signed);
        const shift = bitOffset % CHAR_BITS;
        const opts = `${shift ? `shift: ${shift}` : ''}${shift && signed ? ', ' : ''}${signed ? 'signed: true' : ''}`;
        const arg = opts ? `${bits}, { ${opts} }` : `${bits}`;
        const big = storage === 8 && mt.kind !== 16;
        const note = mt.kind === 6 || mt.kind === 19 ? `enum ${this.#enum(mt, `${owner}__${m.name}`)}` : undefined;
        const ref: Ref = big
          ? { ts: 'bigint', expr: `t.bitfield64(${arg})`, layout: t.bitfield64(bits, { shift, signed }), note }
          : { ts: 'number', expr: `t.bitfield(${arg})`, layout: t.bitfield(bits, { shift, signed }), note };
        out.push({ name: m.name, byteOffset: Math.floor(bitOffset / CHAR_BITS), ref });
        continue;
      }
      out.push({
        name: m.name,
        byteOffset: bitOffset / CHAR_BITS,
        ref: this.#ref(m.type, `${owner}__${m.name}`, depth + 1),
      });
    }
  }

  /** The built layout must have BTF's size and every member's offset (else the generator has a bug). */
  #verify(ty: BtfComposite, name: string, layout: Layout<unknown>, members: Member[]): void {
    const l = layout as Layout<unknown> & { offsets?: Record<string, number> };
    if (l.size !== ty.size) throw new BtfError(`gen types: ${name} is ${l.size} bytes, BTF says ${ty.size}`);
    for (const m of members) {
      if (l.offsets?.[m.name] !== m.byteOffset)
        throw new BtfError(`gen types: ${name}.${m.name} at ${l.offsets?.[m.name]}, BTF says ${m.byteOffset}`);
      if (m.byteOffset + m.ref.layout.size > ty.size)
        throw new BtfError(`gen types: ${name}.${m.name} overruns the ${ty.size}-byte type`);
    }
  }

  #extraType(n: string): void {
    const btf = this.#btf;
    const id =
      btf.findByName(n, 'struct') ??
      btf.findByName(n, 'union') ??
      btf.findByName(n, 'enum') ??
      btf.findByName(n, 'enum64') ??
      btf.findByName(n, 'typedef');
    if (id === undefined)
      throw new BtfError(
        `the object's BTF has no struct, union, enum or typedef named '${n}' (a type used only inside functions is not in BTF: mention it in a global, e.g. \`struct ${n} *unused_${n} __attribute__((unused));\`)`,
      );
    const ty = btf.type(id);
    if (ty.kind !== 8) {
      this.#ref(id, n);
      return;
    }
    const r = this.#ref(ty.type, n);
    // A typedef naming something else (`typedef struct foo foo_t`, `typedef __u32 pid_t`): an alias.
    if (r.ts === n) return;
    const name = this.#claim(n);
    this.#chunks.push(
      `/** typedef ${n}. */\nexport type ${name} = ${r.ts};\nexport const ${name}: Layout<${name}> = ${r.expr};`,
    );
    this.#types.push({ id, name, kind: 'typedef', layout: r.layout });
  }

  #mapSide(m: MapSpec, side: 'key' | 'value', mapName: string): Ref | undefined {
    const id = side === 'key' ? m.keyTypeId : m.valueTypeId;
    const size = (side === 'key' ? m.keySize : m.valueSize) ?? 0;
    if (id !== undefined && id !== 0) {
      try {
        const r = this.#ref(id, `${mapName}_${side}`);
        if (size === 0 || r.layout.size === size) return r;
      } catch (e) {
        // A type without a value layout: the map still gets its class, with raw bytes.
        if (!(e instanceof BtfError)) throw e;
      }
    }
    return size > 0 ? bytesRef(size) : undefined;
  }

  // ---- global data -------------------------------------------------------------------------------------

  #sections(): { section: string; prop: string; cls: string; readOnly: boolean; vars: { name: string; ref: Ref }[] }[] {
    const out = [];
    for (const [section, m] of Object.entries(this.#spec.maps)) {
      if (m.origin !== 'data') continue;
      const gd = this.#spec.data(section);
      if (!gd || gd.variables.size === 0) continue;
      const vars: { name: string; ref: Ref }[] = [];
      for (const v of gd.variables.values()) {
        let ref: Ref | undefined;
        if (v.type) {
          try {
            ref = this.#ref(v.type, v.name);
          } catch (e) {
            if (!(e instanceof BtfError)) throw e;
          }
        }
        if (!ref || ref.layout.size !== v.size) ref = rawRef(v.size);
        vars.push({ name: v.name, ref });
      }
      const prop = section.replace(/^\./, '').replace(/[^A-Za-z0-9_]/g, '_');
      out.push({ section, prop, cls: '', readOnly: section.startsWith('.rodata') || section === '.kconfig', vars });
    }
    if (this.#className)
      for (const s of out) s.cls = this.#claim(`${this.#className.replace(/Object$/, '')}${pascal(s.prop)}`);
    return out;
  }

  // ---- wrapper -----------------------------------------------------------------------------------------

  #wrapper(
    maps: [string, MapSpec][],
    refs: Map<string, { key?: Ref; value?: Ref }>,
    sections: { section: string; prop: string; cls: string; readOnly: boolean; vars: { name: string; ref: Ref }[] }[],
  ): string {
    const cls = this.#className!;
    const base = cls.replace(/Object$/, '');
    const obj = this.#opts.object as { embed: Uint8Array } | { path: string };
    const parts: string[] = [];

    // Programs.
    parts.push(
      [
        `/** A program of ${this.#file} whose section names a \`K\` attach target (\`info.target\` is narrowed). */`,
        `export type ${base}Program<K extends AttachTarget['kind']> = ObjectProgram & {`,
        `  readonly info: SectionInfo & { readonly target: Extract<AttachTarget, { kind: K }> };`,
        `};`,
      ].join('\n'),
    );
    const progs = Object.values(this.#spec.programs);
    parts.push(
      [
        `/** The programs of ${this.#file}, with their sections and attach kinds. */`,
        `export interface ${base}Programs {`,
        ...progs.map(
          (p) =>
            `  /** SEC("${p.section.replace(/\*\//g, '*\\/')}"): ${p.info.programType}, attaches as ${p.info.target.kind}. */\n  readonly ${prop(p.name)}: ${base}Program<${JSON.stringify(p.info.target.kind)}>;`,
        ),
        `}`,
      ].join('\n'),
    );

    // Maps.
    const mapLines: string[] = [];
    const mapInit: string[] = [];
    for (const [name, m] of maps) {
      const r = refs.get(name)!;
      const c = MAP_CLASSES[m.type];
      const k = r.key ?? bytesRef(4);
      const v = r.value;
      let type: string;
      let init: string;
      const at = `o.map(${JSON.stringify(name)})`;
      const generic = (): void => {
        this.#imports.add('GenericMap');
        const codecs = [r.key ? `key: ${r.key.expr}` : '', v ? `value: ${v.expr}` : ''].filter(Boolean).join(', ');
        type = `GenericMap<${r.key?.ts ?? 'unknown'}, ${v?.ts ?? 'unknown'}>`;
        init = `GenericMap.from<${r.key?.ts ?? 'unknown'}, ${v?.ts ?? 'unknown'}>(${at}${codecs ? `, { ${codecs} }` : ''})`;
      };
      if (!c) generic();
      else {
        this.#imports.add(c.cls);
        switch (c.codecs) {
          case 'kv':
            if (!v) {
              generic();
              break;
            }
            type = `${c.cls}<${k.ts}, ${v.ts}>`;
            init = `${c.cls}.from<${k.ts}, ${v.ts}>(${at}, { key: ${k.expr}, value: ${v.expr} })`;
            break;
          case 'v':
            if (!v) {
              generic();
              break;
            }
            type = `${c.cls}<${v.ts}>`;
            init = `${c.cls}.from<${v.ts}>(${at}, { value: ${v.expr} })`;
            break;
          case 'k':
            type = `${c.cls}<${k.ts}>`;
            init = `${c.cls}.from<${k.ts}>(${at}, { key: ${k.expr} })`;
            break;
          default:
            type = c.cls;
            init = `${c.cls}.from(${at})`;
        }
      }
      const size =
        m.type === 'ringbuf' || m.type === 'user_ringbuf' ? `${m.maxEntries} bytes` : `${m.maxEntries} entries`;
      mapLines.push(`  /** ${m.type}${m.maxEntries ? `, ${size}` : ''}. */\n  readonly ${prop(name)}: ${type!};`);
      mapInit.push(`      ${prop(name)}: ${init!},`);
    }
    parts.push(
      [
        `/** The maps of ${this.#file} as typed map classes (after load()). */`,
        `export interface ${base}Maps {`,
        ...mapLines,
        `}`,
      ].join('\n'),
    );

    // Global data sections.
    for (const s of sections) {
      const acc = s.vars.map((v) => {
        const get = `  get ${prop(v.name)}(): ${v.ref.ts} { return this.data.get(${JSON.stringify(v.name)}, ${v.ref.expr}); }`;
        const set = `  set ${prop(v.name)}(value: ${v.ref.ts}) { this.data.set(${JSON.stringify(v.name)}, ${v.ref.expr}, value); }`;
        return s.section === '.kconfig' ? get : `${get}\n${set}`;
      });
      const doc =
        s.section === '.kconfig'
          ? 'values resolved for the running kernel at load() (read only)'
          : s.readOnly
            ? 'set before load() (frozen at load)'
            : "read and write, also after load() (the map's memory)";
      parts.push(
        [
          `/** ${s.section} of ${this.#file}: ${doc}. */`,
          `export class ${s.cls} {`,
          `  private readonly data: GlobalData;`,
          `  constructor(data: GlobalData) { this.data = data; }`,
          ...acc,
          `}`,
        ].join('\n'),
      );
    }

    // The object bytes.
    let open: string;
    if ('embed' in obj) {
      this.#imports.add('BpfObject');
      const b64 = base64(obj.embed);
      const lines: string[] = [];
      for (let i = 0; i < b64.length; i += BASE64_LINE) lines.push(`  '${b64.slice(i, i + BASE64_LINE)}',`);
      parts.push(
        `/** ${this.#file} (${obj.embed.length} bytes), base64. */\nconst OBJECT_BASE64 = [\n${lines.join('\n')}\n].join('');`,
      );
      open = `BpfObject.open(Buffer.from(OBJECT_BASE64, 'base64'), { name: ${JSON.stringify(this.#opts.name)}, ...options })`;
    } else {
      const rel = obj.path.startsWith('.') || obj.path.startsWith('/') ? obj.path : `./${obj.path}`;
      open = `BpfObject.open(decodeURIComponent(new URL(${JSON.stringify(rel)}, import.meta.url).pathname), { name: ${JSON.stringify(this.#opts.name)}, ...options })`;
    }

    const sectionFields = sections.map((s) => `  /** ${s.section} variables. */\n  readonly ${s.prop}: ${s.cls};`);
    const sectionInit = sections.map(
      (s) => `    this.${s.prop} = new ${s.cls}(dataOf(object, ${JSON.stringify(s.section)}));`,
    );
    const progInit = progs.map(
      (p) =>
        `      ${prop(p.name)}: object.program(${JSON.stringify(p.name)}) as ${base}Program<${JSON.stringify(p.info.target.kind)}>,`,
    );
    const where =
      'embed' in obj ? 'embedded in this module' : `read from ${JSON.stringify(obj.path)} (relative to this module)`;
    parts.push(
      [
        `function dataOf(object: BpfObject, section: string): GlobalData {`,
        `  const data = object.data(section);`,
        `  if (!data) throw new Error(\`tsbpf: ${this.#file} has no \${section} section: regenerate this module\`);`,
        `  return data;`,
        `}`,
        ``,
        `/**`,
        ` * ${this.#file}, typed (the object is ${where}).`,
        ` *`,
        ` * \`\`\`ts`,
        ` * using obj = await ${cls}.open();`,
        ` * obj.load();`,
        ` * obj.attach();`,
        ` * \`\`\``,
        ` */`,
        `export class ${cls} {`,
        `  /** The underlying BpfObject (spec, programs, maps by name). */`,
        `  readonly object: BpfObject;`,
        `  /** Programs by name (set \`autoload\` before load(); \`attach()\` after). */`,
        `  readonly programs: ${base}Programs;`,
        ...sectionFields,
        `  private typedMaps: ${base}Maps | undefined;`,
        ``,
        `  private constructor(object: BpfObject) {`,
        `    this.object = object;`,
        `    this.programs = {`,
        ...progInit,
        `    };`,
        ...sectionInit,
        `  }`,
        ``,
        `  /** Parses the object (nothing touches the kernel until load()). */`,
        `  static async open(options: BpfObjectOptions = {}): Promise<${cls}> {`,
        `    return new ${cls}(${open});`,
        `  }`,
        ``,
        `  /** Creates the maps and loads the programs (after setting .rodata). */`,
        `  load(): this {`,
        `    this.object.load();`,
        `    return this;`,
        `  }`,
        ``,
        `  /** The maps, typed (after load()). */`,
        `  get maps(): ${base}Maps {`,
        `    const o = this.object;`,
        `    this.typedMaps ??= {`,
        ...mapInit,
        `    };`,
        `    return this.typedMaps;`,
        `  }`,
        ``,
        `  /** Attaches every program whose section names its target; the links close with the object. */`,
        `  attach(): Link[] {`,
        `    return this.object.attach();`,
        `  }`,
        ``,
        `  /** Detaches, unloads and closes everything. Safe twice. */`,
        `  close(): void {`,
        `    this.typedMaps = undefined;`,
        `    this.object.close();`,
        `  }`,
        ``,
        `  [Symbol.dispose](): void {`,
        `    this.close();`,
        `  }`,
        `}`,
      ].join('\n'),
    );
    return parts.join('\n\n');
  }

  #sizeCheck(): string {
    if (this.#sizes.length === 0) return '// (no structs or unions)';
    return [
      `// Sizes from the object's BTF: a mismatch means this module and the layout library disagree.`,
      `for (const [name, layout, size] of [`,
      ...this.#sizes.map((s) => `  [${JSON.stringify(s.name)}, ${s.name}, ${s.size}],`),
      `] as const) {`,
      `  if (layout.size !== size) throw new Error(\`tsbpf gen types: \${name} is \${layout.size} bytes, the object says \${size}: regenerate this module\`);`,
      `}`,
    ].join('\n');
  }
}

function intRef(size: number, signed: boolean): Ref {
  switch (size) {
    case 1:
      return signed ? { ts: 'number', expr: 't.i8', layout: t.i8 } : { ts: 'number', expr: 't.u8', layout: t.u8 };
    case 2:
      return signed ? { ts: 'number', expr: 't.i16', layout: t.i16 } : { ts: 'number', expr: 't.u16', layout: t.u16 };
    case 4:
      return signed ? { ts: 'number', expr: 't.i32', layout: t.i32 } : { ts: 'number', expr: 't.u32', layout: t.u32 };
    case 8:
      return signed ? { ts: 'bigint', expr: 't.i64', layout: t.i64 } : { ts: 'bigint', expr: 't.u64', layout: t.u64 };
    default:
      if (size <= 0) throw new BtfError('a zero-sized integer has no value');
      return bytesRef(size);
  }
}

function bytesRef(size: number): Ref {
  if (!Number.isSafeInteger(size) || size <= 0) throw new BtfError(`a ${size}-byte value has no layout`);
  return { ts: 'Uint8Array', expr: `t.bytes(${size})`, layout: t.bytes(size) };
}

/** A variable without usable BTF: an unsigned int of its size, or bytes (as the loader reads it). */
function rawRef(size: number): Ref {
  return size === 1 || size === 2 || size === 4 || size === 8 ? intRef(size, false) : bytesRef(size);
}

/** The first typedef name on the way from `id` to its underlying type (names anonymous structs). */
function typedefName(btf: Btf, id: number): string | undefined {
  for (let d = 0; d < MAX_DEPTH; d++) {
    const ty = btf.type(id);
    if (ty.kind === 8) return ty.name || undefined;
    if (ty.kind !== 9 && ty.kind !== 10 && ty.kind !== 11 && ty.kind !== 18) return undefined;
    id = ty.type;
  }
  return undefined;
}

function prop(name: string): string {
  return IDENT.test(name) ? name : JSON.stringify(name);
}

function pascal(s: string): string {
  return s
    .split(/[^A-Za-z0-9]+/)
    .filter(Boolean)
    .map((w) => w[0]!.toUpperCase() + w.slice(1))
    .join('');
}

const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
/** Base64 without Buffer (this module is pure). */
function base64(bytes: Uint8Array): string {
  let out = '';
  let i = 0;
  for (; i + 2 < bytes.length; i += 3) {
    const n = (bytes[i]! << 16) | (bytes[i + 1]! << 8) | bytes[i + 2]!;
    out += B64[n >> 18]! + B64[(n >> 12) & 63]! + B64[(n >> 6) & 63]! + B64[n & 63]!;
  }
  const rest = bytes.length - i;
  if (rest === 1) {
    const n = bytes[i]! << 16;
    out += `${B64[n >> 18]!}${B64[(n >> 12) & 63]!}==`;
  } else if (rest === 2) {
    const n = (bytes[i]! << 16) | (bytes[i + 1]! << 8);
    out += `${B64[n >> 18]!}${B64[(n >> 12) & 63]!}${B64[(n >> 6) & 63]!}=`;
  }
  return out;
}
