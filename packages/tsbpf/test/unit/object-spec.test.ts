// ObjectSpec without root or addon: parse clang objects, check linking (subprogram placement, call and callback
// immediates), relocation records (maps, global data, .kconfig externs), map specs (map-in-map and prog_array
// slots, perf_event_array defaults), CO-RE against this machine's vmlinux BTF bytes, and copy/edit independence.
// Also checks that the pure modules never import the kernel layer, the filesystem or the addon.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ObjectSpec, coreInstructions, type ProgramSpec } from '../../src/pure/object-spec.js';
import { resolveMapShape, copyMapSpec, STORAGE_MAP_TYPES, type MapSpec } from '../../src/pure/map-spec.js';
import { Btf } from '../../src/pure/btf.js';
import { ElfError } from '../../src/pure/elf.js';
import { compileFixture } from '../fixtures/clang.js';

const SPEC_OBJ = readFileSync(compileFixture('obj_spec'));
const EXECSNOOP = readFileSync(compileFixture('obj_execsnoop'));
const EXTERNS = readFileSync(compileFixture('obj_spec_externs'));
const VMLINUX = '/sys/kernel/btf/vmlinux';
const OP_CALL = 0x85;
const OP_LD_IMM64 = 0x18;
const PSEUDO_CALL = 1;
const PSEUDO_FUNC = 4;
const XDP_PASS = 2;
const XDP_DROP = 1;

const insn = (p: ProgramSpec, i: number) => {
  const v = new DataView(p.instructions.buffer, p.instructions.byteOffset + i * 8, 8);
  return { code: v.getUint8(0), src: v.getUint8(1) >> 4, imm: v.getInt32(4, true) };
};

test('linking: subprograms appended once in first-use order, call and callback immediates point at them', () => {
  const spec = ObjectSpec.parse(SPEC_OBJ, { name: 'obj_spec' });
  assert.deepEqual(Object.keys(spec.programs).sort(), ['xdp_spec', 'xdp_tail']);
  const p = spec.program('xdp_spec');
  assert.equal(p.info.programType, 'xdp');
  assert.equal(p.license, 'GPL');
  // twice (called first), loop_cb (bpf_loop callback), then bump (called from twice).
  assert.deepEqual(p.functions, ['xdp_spec', 'twice', 'loop_cb', 'bump']);
  assert.equal(p.offsets.xdp_spec, 0);
  const starts = p.functions.map((f) => p.offsets[f]!);
  for (let i = 1; i < starts.length; i++) assert.ok(starts[i]! > starts[i - 1]!, 'functions laid out in order');
  const n = p.instructions.length / 8;
  const targets: Record<string, string[]> = {};
  const fnAt = (i: number) => [...p.functions].reverse().find((f) => p.offsets[f]! <= i)!;
  for (let i = 0; i < n; i++) {
    const x = insn(p, i);
    if (x.code === OP_CALL && x.src === PSEUDO_CALL) {
      const to = i + x.imm + 1;
      const name = p.functions.find((f) => p.offsets[f] === to);
      assert.ok(name, `call at ${i} lands on a function start (${to})`);
      (targets[fnAt(i)] ??= []).push(name!);
    }
    if (x.code === OP_LD_IMM64) {
      if (x.src === PSEUDO_FUNC) {
        const to = i + x.imm + 1;
        assert.equal(to, p.offsets.loop_cb, 'callback address points at loop_cb');
        (targets[fnAt(i)] ??= []).push(`&${p.functions.find((f) => p.offsets[f] === to)}`);
      }
      i++;
    }
  }
  assert.deepEqual(targets, { xdp_spec: ['twice', '&loop_cb'], twice: ['bump', 'bump'] });
  // func_info: one record per linked function, at its offset; line_info sorted and inside the program.
  assert.deepEqual(
    p.funcInfo!.map((r) => r.insn),
    starts,
  );
  assert.ok(
    p.lineInfo!.length > 5 && p.lineInfo!.every((l, i, a) => l.insn < n && (i === 0 || a[i - 1]!.insn <= l.insn)),
  );
  assert.deepEqual(spec.program('xdp_tail').functions, ['xdp_tail']);
  assert.throws(() => spec.program('nope'), /no program "nope".*xdp_spec/);
});

test('relocations: map fds, global data offsets and .kconfig externs, each on an ld_imm64', () => {
  const spec = ObjectSpec.parse(SPEC_OBJ);
  const p = spec.program('xdp_spec');
  for (const r of p.relocations) assert.equal(insn(p, r.insn).code, OP_LD_IMM64, `${r.kind} at ${r.insn}`);
  const summary = p.relocations.map((r) => {
    if (r.kind === 'map') return `map ${r.map}`;
    if (r.kind === 'data') return `data ${r.map}+${r.offset}`;
    if (r.kind === 'extern') return `extern ${r.extern}+${r.offset}`;
    return `kfunc ${r.extern}`;
  });
  const v = spec.variables;
  const at = (name: string) => `data ${v[name]!.section}+${v[name]!.offset}`;
  assert.deepEqual(
    summary.sort(),
    [
      at('pid_offset'),
      'extern LINUX_KERNEL_VERSION+0',
      at('kernel_version'),
      'extern CONFIG_TSBPF_NOT_A_REAL_OPTION+0',
      at('missing_option'),
      'map outer',
      at('use_tail'),
      'map jumps',
      at('verdict'),
      // From the appended subprograms, at their linked positions.
      'map counts',
      at('loops'),
    ].sort(),
  );
  const counts = p.relocations.find((r) => r.kind === 'map' && r.map === 'counts')!;
  assert.ok(counts.insn >= p.offsets.bump!, "bump's map reference moved with bump");
  const loops = p.relocations.find((r) => r.kind === 'data' && r.offset === v.loops!.offset && r.map === '.bss')!;
  assert.ok(
    loops.insn >= p.offsets.loop_cb! && loops.insn < p.offsets.bump!,
    "loop_cb's .bss reference moved with loop_cb",
  );
  assert.equal(v.verdict!.section, '.rodata');
  assert.equal(v.pid_offset!.section, '.bss');
  assert.equal(v.missing_option!.section, '.data');
  // Externs: laid out in .kconfig (4-byte ints, naturally aligned), the __weak one marked.
  assert.deepEqual(
    Object.values(spec.externs).map((e) => [e.name, e.kind, e.weak, e.offset, e.size]),
    [
      ['LINUX_KERNEL_VERSION', 'kconfig', false, 0, 4],
      ['CONFIG_TSBPF_NOT_A_REAL_OPTION', 'kconfig', true, 4, 4],
    ],
  );
  const kc = spec.maps['.kconfig']!;
  assert.equal(kc.valueSize, 8);
  assert.equal(kc.origin, 'data');
  // Not resolved at parse: the bytes stay zero until a loader resolves them for a kernel.
  assert.deepEqual([...spec.data('.kconfig')!.bytes()], [0, 0, 0, 0, 0, 0, 0, 0]);
});

test('ksym variables and kfunc calls are recorded as externs with relocations (resolved by the loader)', () => {
  const spec = ObjectSpec.parse(EXTERNS);
  const ex = Object.values(spec.externs)
    .map((e) => `${e.kind} ${e.name}${e.weak ? ' weak' : ''}`)
    .sort();
  assert.deepEqual(ex, [
    'kfunc bpf_rcu_read_lock',
    'kfunc bpf_rcu_read_unlock',
    'ksym bpf_prog_active',
    'ksym runqueues',
    'ksym tsbpf_no_such_symbol weak',
  ]);
  for (const e of Object.values(spec.externs)) assert.equal(spec.btf!.type(e.typeId).name, e.name);
  const p = spec.program('on_switch');
  const rel = p.relocations
    .map((r) => (r.kind === 'extern' || r.kind === 'kfunc' ? `${r.kind} ${r.extern}` : r.kind))
    .sort();
  assert.deepEqual(rel, [
    'data',
    'extern bpf_prog_active',
    'extern runqueues',
    'extern tsbpf_no_such_symbol',
    'kfunc bpf_rcu_read_lock',
    'kfunc bpf_rcu_read_unlock',
  ]);
  for (const r of p.relocations) {
    const x = insn(p, r.insn);
    assert.equal(x.code, r.kind === 'kfunc' ? OP_CALL : OP_LD_IMM64);
  }
  assert.equal(spec.maps['.kconfig'], undefined);
});

test('map specs: sizes, BTF ids, map-in-map template and static slots, loader defaults', () => {
  const spec = ObjectSpec.parse(SPEC_OBJ);
  const m = spec.maps;
  assert.deepEqual(Object.keys(m).sort(), [
    '.bss',
    '.data',
    '.kconfig',
    '.rodata',
    'counts',
    'inner_a',
    'jumps',
    'outer',
    'perf',
  ]);
  assert.equal(m.counts!.type, 'array');
  assert.equal(m.counts!.maxEntries, 8);
  assert.equal(m.counts!.keySize, 4);
  assert.equal(m.counts!.valueSize, 8);
  assert.equal(spec.btf!.type(m.counts!.valueTypeId!).name, '__u64');
  assert.equal(m.outer!.type, 'array_of_maps');
  assert.equal(m.outer!.innerMap!.type, 'array');
  assert.equal(m.outer!.innerMap!.maxEntries, 1);
  assert.deepEqual(m.outer!.contents, [{ key: 1, value: { map: 'inner_a' } }]);
  assert.deepEqual(m.jumps!.contents, [{ key: 0, value: { program: 'xdp_tail' } }]);
  // perf_event_array without sizes: 0 in the spec, libbpf's defaults when resolved for a kernel.
  assert.equal(m.perf!.keySize, 0);
  assert.equal(m.perf!.maxEntries, 0);
  assert.deepEqual(resolveMapShape(m.perf!, { possibleCpus: 3 }), { keySize: 4, valueSize: 4, maxEntries: 3 });
  assert.deepEqual(resolveMapShape(m.outer!, { possibleCpus: 3 }), { keySize: 4, valueSize: 4, maxEntries: 2 });
  // Global data: one-entry arrays whose contents are the section bytes.
  assert.equal(m['.rodata']!.maxEntries, 1);
  assert.equal(spec.rodata!.get('verdict'), XDP_PASS);
  assert.equal(spec.dataSection!.get('missing_option'), 7n);
  assert.equal(spec.bss!.get('loops'), 0n);
});

test('resolveMapShape: ringbuf page-aligned power of two, storage maps keep 0 entries, layouts give sizes', () => {
  const rb: MapSpec = { type: 'ringbuf', maxEntries: 5000 };
  assert.equal(resolveMapShape(rb, { possibleCpus: 1 }).maxEntries, 8192);
  assert.equal(resolveMapShape({ type: 'ringbuf', maxEntries: 65536 }, { possibleCpus: 1 }).maxEntries, 65536);
  assert.equal(
    resolveMapShape({ type: 'ringbuf', maxEntries: 100 }, { possibleCpus: 1, pageSize: 16384 }).maxEntries,
    16384,
  );
  for (const type of STORAGE_MAP_TYPES) {
    assert.deepEqual(
      resolveMapShape({ type, keySize: 4, valueSize: 16, maxEntries: 0, flags: 1 }, { possibleCpus: 8 }),
      { keySize: 4, valueSize: 16, maxEntries: 0 },
    );
  }
  const withInner: MapSpec = {
    type: 'hash_of_maps',
    maxEntries: 4,
    innerMap: { type: 'array', maxEntries: 1, contents: [{ key: 0, value: new Uint8Array([1, 2]) }] },
  };
  const c = copyMapSpec(withInner);
  c.innerMap!.maxEntries = 9;
  (c.innerMap!.contents![0]!.value as Uint8Array)[0] = 99;
  assert.equal(withInner.innerMap!.maxEntries, 1);
  assert.deepEqual(withInner.innerMap!.contents![0]!.value, new Uint8Array([1, 2]));
});

test('CO-RE against the vmlinux BTF bytes: the field offset instruction gets the kernel offset', (t) => {
  let vmlinux: Uint8Array;
  try {
    vmlinux = readFileSync(VMLINUX);
  } catch {
    t.skip(`${VMLINUX} is not readable`);
    return;
  }
  const vm = Btf.parse(vmlinux);
  const want = vm.findMember(vm.findByName('task_struct', 'struct')!, 'pid')!.byteOffset;
  const spec = ObjectSpec.parse(SPEC_OBJ);
  const p = spec.program('xdp_spec');
  assert.equal(p.core.length, 1);
  assert.equal(p.core[0]!.result, undefined);
  assert.throws(() => coreInstructions(p), /not resolved/);
  spec.resolveCore(vmlinux);
  const { instructions, results } = coreInstructions(p);
  assert.equal(results.length, 1);
  assert.equal(results[0]!.poison, false);
  const at = p.core[0]!.insn;
  assert.equal(new DataView(instructions.buffer).getInt32(at * 8 + 4, true), want);
  // The spec's instructions stay unpatched; the same resolution happens through parse options.
  assert.deepEqual(p.instructions, ObjectSpec.parse(SPEC_OBJ).program('xdp_spec').instructions);
  const viaOption = ObjectSpec.parse(SPEC_OBJ, { targetBtf: vm });
  assert.deepEqual(coreInstructions(viaOption.program('xdp_spec')).instructions, instructions);
  // execsnoop: three CO-RE reads of task_struct, all resolved against the kernel.
  const ex = ObjectSpec.parse(EXECSNOOP, { targetBtf: vm }).program('handle_exec');
  assert.equal(ex.core.length, 3);
  assert.ok(ex.core.every((c) => c.result && !c.result.poison));
});

test('copy() is deep: edits to maps, constants, programs and externs of one copy never reach the other', () => {
  const spec = ObjectSpec.parse(SPEC_OBJ);
  const before = ObjectSpec.parse(SPEC_OBJ);
  const c = spec.copy();
  c.maps.counts!.maxEntries = 64;
  c.rodata!.set('verdict', XDP_DROP);
  c.bss!.set('loops', 5n);
  c.programs.xdp_spec!.instructions[0] = 0;
  c.programs.xdp_spec!.autoload = false;
  c.programs.xdp_spec!.relocations.pop();
  c.maps.outer!.contents!.push({ key: 0, value: { map: 'inner_a' } });
  c.maps.outer!.innerMap!.maxEntries = 3;
  c.externs.LINUX_KERNEL_VERSION!.weak = true;
  c.variables.verdict!.offset = 99;
  assert.equal(spec.maps.counts!.maxEntries, 8);
  assert.equal(spec.rodata!.get('verdict'), XDP_PASS);
  assert.equal(spec.bss!.get('loops'), 0n);
  assert.deepEqual(spec.programs.xdp_spec!.instructions, before.programs.xdp_spec!.instructions);
  assert.equal(spec.programs.xdp_spec!.autoload, true);
  assert.equal(spec.programs.xdp_spec!.relocations.length, before.programs.xdp_spec!.relocations.length);
  assert.equal(spec.maps.outer!.contents!.length, 1);
  assert.equal(spec.maps.outer!.innerMap!.maxEntries, 1);
  assert.equal(spec.externs.LINUX_KERNEL_VERSION!.weak, false);
  assert.equal(spec.variables.verdict!.offset, before.variables.verdict!.offset);
  // And the other way: the original's edits do not reach the copy.
  spec.rodata!.set('use_tail', 1);
  assert.equal(c.rodata!.get('use_tail'), 0);
  assert.equal(c.rodata!.get('verdict'), XDP_DROP);
  // Views of one spec share its bytes.
  assert.equal(spec.data('.rodata')!.get('use_tail'), 1);
});

test('malformed input fails with the parser errors, not crashes', () => {
  assert.throws(() => ObjectSpec.parse(SPEC_OBJ.subarray(0, 10)), ElfError);
  assert.throws(() => ObjectSpec.parse(readFileSync(process.execPath).subarray(0, 4096)), ElfError);
  assert.throws(() => ObjectSpec.parse('x' as unknown as Uint8Array), /expects a Uint8Array/);
});

test('the pure layer stays pure: object-spec and everything it imports avoid kernel/, fs, child_process and the addon', () => {
  const here = dirname(fileURLToPath(import.meta.url));
  const pure = resolve(here, '../../src/pure');
  const seen = new Set<string>();
  const bad: string[] = [];
  const visit = (file: string): void => {
    if (seen.has(file)) return;
    seen.add(file);
    const src = readFileSync(file, 'utf8');
    for (const m of src.matchAll(/^\s*(?:import|export)\b[^'"]*?from\s+['"]([^'"]+)['"]/gm)) {
      const spec = m[1]!;
      if (spec.startsWith('.')) {
        const target = resolve(dirname(file), spec.replace(/\.js$/, '.ts'));
        if (!target.startsWith(`${pure}/`)) bad.push(`${file} imports ${spec}`);
        else visit(target);
      } else if (/^(node:)?(fs|child_process|os|net|worker_threads)(\/|$)/.test(spec) || /native|\.node$/.test(spec)) {
        bad.push(`${file} imports ${spec}`);
      }
    }
  };
  for (const f of ['object-spec.ts', 'map-spec.ts', 'linker.ts', 'global-data.ts']) visit(join(pure, f));
  assert.ok(seen.size >= 8);
  assert.deepEqual(bad, []);
});
