// `tsbpf gen types` without root: the generated module for test/fixtures/c/gen_types.bpf.c (every kind of type)
// has the expected shape, its layouts — evaluated from the generated text — have exactly the sizes, offsets and
// decodings of the run-time BTF layouts (btf-layout.ts), a wrong offset in the text is caught, and the whole
// module (wrapper included) compiles under `strict` with no `any`, while misuse of its types does not compile.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import ts from 'typescript';
import { ObjectSpec } from '../../src/pure/object-spec.js';
import { generateTypes, objectBaseName, wrapperClassName } from '../../src/pure/codegen-types.js';
import { btfLayout } from '../../src/pure/btf-layout.js';
import { Btf, BtfError } from '../../src/pure/btf.js';
import { t, type Layout } from '../../src/pure/layout.js';
import { FIXTURE_OBJ, fixtureObject } from '../fixtures/objects.js';
import { scratchDir } from '../support/scratch.js';

const SRC = resolve(dirname(fileURLToPath(import.meta.url)), '../../src');
const BYTES = readFileSync(fixtureObject('gen_types'));
const TYPES = ['ring_event', 'function', 'pid_type', 'anon_key_t', 'color'];
const spec = ObjectSpec.parse(BYTES, { name: 'gen_types' });
let seq = 0;

function gen(object: Parameters<typeof generateTypes>[1]['object'], importFrom?: string) {
  return generateTypes(spec, { name: 'gen_types', types: TYPES, object, importFrom });
}

/** Writes `source` to a fresh scratch file and imports it. */
async function importSource(source: string): Promise<Record<string, unknown>> {
  const file = join(scratchDir(), `gen-${process.pid}-${seq++}.ts`);
  writeFileSync(file, source);
  return (await import(pathToFileURL(file).href)) as Record<string, unknown>;
}

/** The run-time value with each byte btf-layout decodes as a number where the generated one has a boolean (bool: u8 at run time) turned into that boolean's truth. */
function normalize(x: unknown, like?: unknown): unknown {
  if (typeof like === 'boolean' && typeof x === 'number') return x !== 0;
  if (Array.isArray(x)) return x.map((v, i) => normalize(v, Array.isArray(like) ? like[i] : undefined));
  if (x instanceof Uint8Array) return x;
  if (x && typeof x === 'object')
    return Object.fromEntries(
      Object.entries(x).map(([k, v]) => [k, normalize(v, (like as Record<string, unknown> | undefined)?.[k])]),
    );
  return x;
}

/** Deterministic pseudo-random bytes (a fixed LCG), so every field has a non-trivial value. */
function noise(n: number, seed: number): Uint8Array {
  const out = new Uint8Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    out[i] = s >>> 24;
  }
  return out;
}

/** Differences between a generated layout and the run-time BTF layout of the same type: sizes, offsets, decodes. */
function differences(name: string, generated: Layout<unknown>, id: number): string[] {
  const runtime = btfLayout(spec.btf!, id);
  const out: string[] = [];
  if (generated.size !== runtime.size) out.push(`${name}: size ${generated.size} != ${runtime.size}`);
  const go = (generated as { offsets?: Record<string, number> }).offsets ?? {};
  const ro = (runtime as { offsets?: Record<string, number> }).offsets ?? {};
  assert.deepEqual(Object.keys(go), Object.keys(ro), `${name}: same members in the same order`);
  for (const k of Object.keys(ro)) if (go[k] !== ro[k]) out.push(`${name}.${k}: offset ${go[k]} != ${ro[k]}`);
  for (let seed = 1; seed <= 8; seed++) {
    const bytes = noise(runtime.size, seed * 7919);
    try {
      const mine = generated.fromBytes(bytes);
      assert.deepEqual(mine, normalize(runtime.fromBytes(bytes), mine));
    } catch {
      out.push(`${name}: decodes differently (seed ${seed})`);
      break;
    }
  }
  return out;
}

test('names: wrapper class and object base name from the file name', () => {
  assert.equal(objectBaseName('/x/y/minimal.bpf.o'), 'minimal');
  assert.equal(objectBaseName('prog.o'), 'prog');
  assert.equal(wrapperClassName('minimal'), 'MinimalObject');
  assert.equal(wrapperClassName('my-prog_v2'), 'MyProgV2Object');
  assert.equal(wrapperClassName('9lives'), 'Bpf9livesObject');
});

test('the module has a type and a layout for every reachable struct, union and enum, and a typed wrapper', () => {
  const { source, className, types } = gen({ path: './gen_types.bpf.o' });
  assert.equal(className, 'GenTypesObject');
  const names = types.map((x) => `${x.kind} ${x.name}`);
  for (const want of [
    'struct inner',
    'struct gen_event__point',
    'enum color',
    'union num',
    'struct flags',
    'struct packed_s',
    'struct aligned_s',
    'struct function_',
    'struct gen_event',
    'struct anon_key_t',
    'struct ring_event',
    'typedef pid_type',
  ])
    assert.ok(names.includes(want), `${want} in ${names.join(', ')}`);
  const has = (s: string) => assert.ok(source.includes(s), `generated source contains ${JSON.stringify(s)}`);
  // Scalars, strings, arrays, nested and anonymous members, bitfields, enums, typedefs.
  has('export interface gen_event {');
  has('  s64v: bigint;');
  has('  flag: boolean;');
  has('  comm: string;');
  has('  names: string[];');
  has('  matrix: number[][];');
  has('  raw: Uint8Array;');
  has('  point: gen_event__point;');
  has('  as_u32: number;\n  as_f32: number;');
  has('  col: number; // enum color');
  has('  ptr: bigint;');
  has('  matrix: t.array(t.array(t.u32, 3), 2), // offset 68');
  has('  delta: t.bitfield(5, { shift: 4, signed: true }), // offset 0');
  has('  big: t.bitfield64(40, { shift: 1 }), // offset 1');
  has('export const num = t.union({');
  has('export const color = {\n  RED: 1,\n  GREEN: 2,');
  has('export type color = (typeof color)[keyof typeof color];');
  has('export type pid_type = number;');
  has('export interface function_ {\n  new: number;\n  this: number;\n}');
  // Natural placement where it reproduces BTF, explicit where it does not.
  has('export const inner = t.struct({\n  a: t.u16,\n  b: t.u8,\n}) satisfies Layout<inner>;');
  has('  offsets: { a: 0, b: 1, c: 5 },\n  size: 7,\n  align: 1,');
  // Wrapper: maps as their classes, programs with attach kinds, typed global data.
  has('  readonly by_pid: HashMap<number, gen_event>;');
  has('  readonly nums: ArrayMap<num>;');
  has('  readonly hits: PerCpuArray<bigint>;');
  has('  readonly by_key: LruHash<anon_key_t, flags>;');
  has('  readonly q: Queue<inner>;');
  has('  readonly events: RingBufMap;');
  has('  readonly perf: PerfEventArray;');
  has('  readonly pc_hash: PerCpuHash<number, inner>;');
  has('  readonly stk: Stack<bigint>;');
  has('  readonly bloom: BloomFilter<number>;');
  has('  readonly lpm: LpmTrie<lpm_key, number>;');
  has('  readonly task_store: TaskStorage<inner>;');
  has('  readonly outer: HashOfMaps<number>;');
  has('  readonly devs: GenericMap<number, number>;');
  has('  readonly fill: GenTypesProgram<"xdp">;');
  has('  readonly count_exec: GenTypesProgram<"tracepoint">;');
  has('  set min_pid(value: number) { this.data.set("min_pid", t.u32, value); }');
  has('  get ro_inner(): inner {');
  has('  get counter(): bigint {');
  has('  get custom_name(): string {');
  has('  readonly data_custom: GenTypesDataCustom;');
  has('new URL("./gen_types.bpf.o", import.meta.url)');
  assert.match(source, /^import \{[^}]*\} from "tsbpf";$/m);
  assert.equal(source.match(/^import /gm)?.length, 1, 'one import, from tsbpf');
  assert.doesNotMatch(source, /\bany\b/, 'no any');
});

test('embedded objects: the module carries the bytes (base64) and imports nothing else', () => {
  const { source } = gen({ embed: BYTES });
  const b64 = [...source.matchAll(/^ {2}'([A-Za-z0-9+/=]+)',$/gm)].map((m) => m[1]).join('');
  assert.deepEqual(new Uint8Array(Buffer.from(b64, 'base64')), new Uint8Array(BYTES));
  assert.ok(!source.includes('import.meta'));
  assert.doesNotMatch(source.replace(/'[A-Za-z0-9+/=]*'/g, "''"), /\bany\b/);
});

test('layouts evaluated from the generated text match the run-time BTF layouts exactly', async () => {
  const { source, types } = gen(false, join(SRC, 'pure/layout.ts'));
  const mod = await importSource(source);
  let checked = 0;
  for (const ty of types) {
    if (ty.kind === 'enum') continue;
    const generated = mod[ty.name] as Layout<unknown>;
    assert.ok(generated && typeof generated.decode === 'function', `${ty.name} is exported as a layout`);
    assert.deepEqual(differences(ty.name, generated, ty.id), []);
    // And the layout the generator built in-process is the same.
    assert.equal(ty.layout?.size, generated.size);
    checked++;
  }
  assert.ok(checked >= 11, `checked ${checked} layouts`);
  // Enum values as in BTF.
  assert.deepEqual(mod.color, { RED: 1, GREEN: 2, NEGATIVE: 4294967293 });
  // Known values decode to what C wrote (bitfields, packed, anonymous members).
  const flags = mod.flags as Layout<Record<string, unknown>>;
  const v = { ro: 1, mode: 5, delta: -9, big: 0xabcdef1234n, hue: 2, tail: 0x77 };
  assert.deepEqual(flags.fromBytes(flags.toBytes(v)), v);
  assert.deepEqual([...flags.toBytes(v)], [0x7b, 0x69, 0x24, 0xde, 0x9b, 0x57, 0x05, 0x77]);
});

test('a wrong offset or size in the generated text is caught', async () => {
  const { source, types } = gen(false, join(SRC, 'pure/layout.ts'));
  const id = types.find((x) => x.name === 'packed_s')!.id;
  const wrongOffset = source.replace('offsets: { a: 0, b: 1, c: 5 }', 'offsets: { a: 0, b: 1, c: 4 }');
  assert.notEqual(wrongOffset, source);
  const m1 = await importSource(wrongOffset);
  assert.deepEqual(
    differences('packed_s', m1.packed_s as Layout<unknown>, id).filter((d) => d.includes('offset')),
    ['packed_s.c: offset 4 != 5'],
  );
  // A wrong size fails at import: the module checks its sizes against BTF's.
  const wrongSize = source.replace('  size: 7,\n  align: 1,', '  size: 8,\n  align: 1,');
  assert.notEqual(wrongSize, source);
  await assert.rejects(importSource(wrongSize), /packed_s is 8 bytes, the object says 7/);
});

test('--type: unknown names are refused with a hint; typedef aliases and enums by name', () => {
  assert.throws(
    () => generateTypes(spec, { name: 'gen_types', types: ['no_such_type'], object: false }),
    (e: unknown) =>
      e instanceof BtfError &&
      /no struct, union, enum or typedef named 'no_such_type'/.test(e.message) &&
      /__attribute__\(\(unused\)\)/.test(e.message),
  );
  const { source } = generateTypes(spec, { name: 'gen_types', types: ['pid_type'], object: false });
  assert.match(source, /export type pid_type = number;\nexport const pid_type: Layout<pid_type> = t\.u32;/);
  assert.equal(
    generateTypes(spec, { name: 'gen_types', object: false }).source.includes('ring_event'),
    false,
    'ring_event only with --type',
  );
});

test('objects without BTF are refused with the fix', () => {
  const bare = ObjectSpec.parse(BYTES, { name: 'x' });
  Object.defineProperty(bare, 'btf', { value: undefined });
  assert.throws(() => generateTypes(bare, { name: 'x', object: false }), /no \.BTF section; compile it with clang -g/);
});

test('layout library: explicit placement, unions, bool and bitfields', () => {
  const s = t.struct({ a: t.u8, b: t.u32 }, { offsets: { a: 0, b: 1 }, size: 6, align: 1 });
  assert.equal(s.size, 6);
  assert.equal(s.offsetOf('b'), 1);
  assert.deepEqual([...s.toBytes({ a: 1, b: 0x02030405 })], [1, 5, 4, 3, 2, 0]);
  assert.throws(() => t.struct({ a: t.u32 }, { offsets: { a: 4 }, size: 4 }), RangeError);
  assert.throws(() => t.struct({ a: t.u32 }, { offsets: {} as { a: number } }), TypeError);
  const u = t.union({ u: t.u32, f: t.f32, b: t.bytes(6) });
  assert.equal(u.size, 8);
  assert.deepEqual(u.fromBytes(new Uint8Array([0, 0, 0xc0, 0x3f, 0, 0, 0, 0])).f, 1.5);
  assert.equal(String(u), 'union { u32 u; f32 f; u8[6] b; }');
  assert.equal(t.bool.fromBytes(new Uint8Array([2])), true);
  assert.deepEqual([...t.bool.toBytes(true)], [1]);
  assert.throws(() => t.bool.toBytes(1 as unknown as boolean), TypeError);
  // Bitfields sharing a byte: each write keeps the other's bits.
  const bf = t.struct(
    { lo: t.bitfield(3), hi: t.bitfield(5, { shift: 3, signed: true }) },
    { offsets: { lo: 0, hi: 0 }, size: 1 },
  );
  const bytes = bf.toBytes({ lo: 6, hi: -2 });
  assert.deepEqual([...bytes], [0b11110110]);
  assert.deepEqual(bf.fromBytes(bytes), { lo: 6, hi: -2 });
  assert.throws(() => bf.toBytes({ lo: 8, hi: 0 }), /does not fit in a 3-bit unsigned bitfield/);
  assert.throws(() => t.bitfield(53), RangeError);
  assert.equal(t.bitfield64(60).fromBytes(new Uint8Array(8).fill(0xff)), (1n << 60n) - 1n);
});

test('the generated module compiles under strict with no any, and misuse of its types does not', () => {
  // An ESM package directory (top-level await, NodeNext resolution as a consumer has it).
  const dir = join(scratchDir(), `esm-${process.pid}`);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'package.json'), '{ "type": "module" }');
  const mod = join(dir, `gen_types_strict_${process.pid}.ts`);
  writeFileSync(mod, gen({ embed: BYTES }).source);
  const use = join(dir, `gen_types_use_${process.pid}.ts`);
  const base = `./gen_types_strict_${process.pid}.js`;
  writeFileSync(
    use,
    `
import { GenTypesObject, color, type gen_event, type ring_event } from '${base}';
const obj = await GenTypesObject.open();
obj.rodata.min_pid = 41;
const c: number = obj.rodata.ro_color;
const n: bigint = obj.bss.counter;
const ev: gen_event | undefined = obj.maps.by_pid.lookup(1);
const cpus: bigint[] | undefined = obj.maps.hits.lookup(0);
const kind: 'tracepoint' = obj.programs.count_exec.info.target.kind;
const category: string = obj.programs.count_exec.info.target.category;
const first: color = color.GREEN;
const r: ring_event = { seq: 1n, tag: 'x', col: color.RED };
export { c, n, ev, cpus, kind, category, first, r };
// @ts-expect-error min_pid is a number
obj.rodata.min_pid = 'x';
// @ts-expect-error counter is a bigint
const wrong: number = obj.bss.counter;
// @ts-expect-error values are gen_event
obj.maps.by_pid.update(1, 2);
// @ts-expect-error a ring buffer has no lookup
obj.maps.events.lookup(0);
// @ts-expect-error the xdp program's target has no category
obj.programs.fill.info.target.category;
export { wrong };
`,
  );
  const options: ts.CompilerOptions = {
    strict: true,
    noEmit: true,
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    lib: ['lib.es2022.d.ts', 'lib.esnext.disposable.d.ts'],
    types: ['node'],
    skipLibCheck: true,
    noImplicitAny: true,
    baseUrl: dir,
    paths: { tsbpf: [join(SRC, 'index.ts')] },
  };
  const program = ts.createProgram({ rootNames: [mod, use], options });
  const diags = [mod, use]
    .flatMap((f) => ts.getPreEmitDiagnostics(program, program.getSourceFile(f)))
    .map(
      (d) =>
        `${d.file?.fileName}:${d.file && d.start !== undefined ? d.file.getLineAndCharacterOfPosition(d.start).line + 1 : ''} ${ts.flattenDiagnosticMessageText(d.messageText, ' ')}`,
    );
  assert.deepEqual(diags, []);
});

test('every fixture object: the module generates, its layouts match the run-time BTF layouts, and it compiles under strict', async () => {
  const objects = readdirSync(FIXTURE_OBJ)
    .filter((f) => f.endsWith('.bpf.o'))
    .sort();
  assert.ok(objects.length >= 10, `${objects.length} fixture objects`);
  const dir = join(scratchDir(), `esm-all-${process.pid}`);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'package.json'), '{ "type": "module" }');
  const files: string[] = [];
  let layouts = 0;
  for (const f of objects) {
    const bytes = readFileSync(join(FIXTURE_OBJ, f));
    const name = objectBaseName(f);
    const s = ObjectSpec.parse(bytes, { name });
    const typesOnly = generateTypes(s, { name, object: false, importFrom: join(SRC, 'pure/layout.ts') });
    const mod = await importSource(typesOnly.source);
    for (const ty of typesOnly.types) {
      if (ty.kind !== 'struct' && ty.kind !== 'union') continue;
      const generated = mod[ty.name] as Layout<unknown>;
      const runtime = btfLayout(s.btf!, ty.id);
      assert.equal(generated.size, runtime.size, `${f}: ${ty.name} size`);
      assert.deepEqual(
        (generated as { offsets?: object }).offsets,
        (runtime as { offsets?: object }).offsets,
        `${f}: ${ty.name} offsets`,
      );
      layouts++;
    }
    const file = join(dir, `${name}.ts`);
    writeFileSync(file, generateTypes(s, { name, object: { embed: bytes } }).source);
    files.push(file);
  }
  assert.ok(layouts >= 15, `${layouts} layouts compared`);
  const options: ts.CompilerOptions = {
    strict: true,
    noEmit: true,
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    lib: ['lib.es2022.d.ts', 'lib.esnext.disposable.d.ts'],
    types: ['node'],
    skipLibCheck: true,
    baseUrl: dir,
    paths: { tsbpf: [join(SRC, 'index.ts')] },
  };
  const program = ts.createProgram({ rootNames: files, options });
  const diags = files
    .flatMap((f) => ts.getPreEmitDiagnostics(program, program.getSourceFile(f)))
    .map((d) => `${d.file?.fileName}: ${ts.flattenDiagnosticMessageText(d.messageText, ' ')}`);
  assert.deepEqual(diags, []);
});

// ---- malformed BTF: typed rejections (found by the codegen fuzz target, bench/fuzz.ts) ---------------------

/** Raw BTF from type records (u32 words) and a string table; names are offsets into `strings`. */
function rawBtf(types: number[], strings: string): Btf {
  const str = new TextEncoder().encode(strings);
  const out = new Uint8Array(24 + types.length * 4 + str.length);
  const v = new DataView(out.buffer);
  v.setUint16(0, 0xeb9f, true);
  v.setUint8(2, 1);
  v.setUint32(4, 24, true);
  v.setUint32(8, 0, true);
  v.setUint32(12, types.length * 4, true);
  v.setUint32(16, types.length * 4, true);
  v.setUint32(20, str.length, true);
  for (const [i, w] of types.entries()) v.setUint32(24 + i * 4, w >>> 0, true);
  out.set(str, 24 + types.length * 4);
  return Btf.parse(out);
}
const info = (kind: number, vlen: number, kindFlag = false) => ((kindFlag ? 1 << 31 : 0) | (kind << 24) | vlen) >>> 0;
/** Strings: 1 'int', 5 's', 7 'big', 11 'a', 13 'b', 15 'f'. */
const STRS = '\0int\0s\0big\0a\0b\0f\0';
const INT = [1, info(1, 0), 4, 32]; // id 1: int, 4 bytes
/** generateTypes over just this BTF, asking for struct 's' by name. */
function genS(btf: Btf) {
  const bare = { btf, maps: {}, programs: {}, data: () => undefined } as unknown as ObjectSpec;
  return generateTypes(bare, { name: 'x', types: ['s'], object: false });
}
const btfErrorAbout = (what: RegExp) => (e: unknown) => e instanceof BtfError && what.test(e.message);

test("malformed BTF: a member past the end of its struct is a BtfError, not the layout library's RangeError", () => {
  // struct s (4 bytes) { int a @0; int b @4; }
  const btf = rawBtf([...INT, 5, info(4, 2), 4, 11, 1, 0, 13, 1, 32], STRS);
  assert.throws(() => genS(btf), btfErrorAbout(/member 'b' \(4 bytes at offset 4\) overruns the 4-byte type/));
});

test('malformed BTF: a struct containing itself is a BtfError, not a crash on its missing layout', () => {
  // struct s (8 bytes) { struct s a @0; }: the member's layout would be the one being built
  const btf = rawBtf([...INT, 5, info(4, 1), 8, 11, 2, 0], STRS);
  assert.throws(() => genS(btf), btfErrorAbout(/has no layout \(it contains itself/));
});

test("malformed BTF: a zero-sized float member is a BtfError, not t.bytes(0)'s RangeError", () => {
  // float f (0 bytes); struct s (4 bytes) { f a @0; int b @0; }
  const btf = rawBtf([...INT, 15, info(16, 0), 0, 5, info(4, 2), 4, 11, 2, 0, 13, 1, 0], STRS);
  assert.throws(() => genS(btf), btfErrorAbout(/a 0-byte value has no layout/));
});

test("malformed BTF: a bitfield wider than any integer storage is a BtfError, not t.bitfield's RangeError", () => {
  // struct big (100 bytes) {}; struct s (128 bytes, kind_flag) { struct big a : bit offset 4; }
  const btf = rawBtf([...INT, 7, info(4, 0), 100, 5, info(4, 1, true), 128, 11, 2, 4], STRS);
  assert.throws(() => genS(btf), btfErrorAbout(/bitfield 'a' of 800 bits in 100-byte storage/));
});
