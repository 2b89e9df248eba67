// BTF / .BTF.ext / BTF map definitions / BTF layouts, checked against bpftool on vmlinux and clang objects.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Elf, EM_BPF } from '../../src/pure/elf.js';
import { Btf, BtfError, BTF_KIND, btfKindName, BTF_VAR_GLOBAL_ALLOCATED, type BtfType } from '../../src/pure/btf.js';
import { BtfExt, CORE_RELO_KIND, encodeFuncInfo, encodeLineInfo, parseAccessString } from '../../src/pure/btf-ext.js';
import { parseBtfMaps } from '../../src/pure/btf-maps.js';
import { btfLayout, btfStructLayout, BtfStructLayout } from '../../src/pure/btf-layout.js';
import { t } from '../../src/pure/layout.js';
import { fixtureObject } from '../fixtures/objects.js';
import { scratchDir } from '../support/scratch.js';

const VMLINUX = '/sys/kernel/btf/vmlinux';
const vmlinuxBytes = readFileSync(VMLINUX);
const vmlinux = Btf.parse(vmlinuxBytes);
const bpftoolText = execFileSync('bpftool', ['btf', 'dump', 'file', VMLINUX], { maxBuffer: 512 << 20 }).toString();

function bpftoolId(kind: string, name: string): number {
  const m = new RegExp(`^\\[(\\d+)\\] ${kind} '${name}'`, 'm').exec(bpftoolText);
  assert.ok(m, `bpftool has ${kind} ${name}`);
  return Number(m![1]);
}

function loadObject(name: string): { elf: Elf; btf: Btf; ext: BtfExt; file: string } {
  const file = fixtureObject(name);
  const elf = Elf.parse(readFileSync(file), { machine: EM_BPF });
  const btf = Btf.parse(elf.section('.BTF')!.data);
  const ext = BtfExt.parse(elf.section('.BTF.ext')!.data, btf);
  return { elf, btf, ext, file };
}

test('vmlinux: kinds, counts and lookups agree with bpftool', () => {
  const counts = new Map<string, number>();
  for (const m of bpftoolText.matchAll(/^\[\d+\] ([A-Z_0-9]+)/gm)) counts.set(m[1]!, (counts.get(m[1]!) ?? 0) + 1);
  const mine = new Map<string, number>();
  for (const ty of vmlinux)
    mine.set(btfKindName(ty.kind).toUpperCase(), (mine.get(btfKindName(ty.kind).toUpperCase()) ?? 0) + 1);
  assert.deepEqual(new Map([...mine].sort()), new Map([...counts].sort()));
  assert.equal(
    vmlinux.count - 1,
    [...counts.values()].reduce((a, b) => a + b),
  );

  const task = vmlinux.findByName('task_struct', 'struct')!;
  assert.equal(task, bpftoolId('STRUCT', 'task_struct'));
  const taskText = new RegExp(`^\\[${task}\\] STRUCT 'task_struct' size=(\\d+) vlen=\\d+\\n((?:\\t.*\\n)+)`, 'm').exec(
    bpftoolText,
  )!;
  assert.equal(vmlinux.sizeOf(task), Number(taskText[1]));
  for (const f of ['pid', 'tgid', 'comm', 'real_parent', 'mm']) {
    const bits = Number(new RegExp(`^\\t'${f}' type_id=\\d+ bits_offset=(\\d+)`, 'm').exec(taskText[2]!)![1]);
    assert.equal(vmlinux.memberOffset(task, f), bits / 8, f);
  }
  assert.equal(vmlinux.describe(vmlinux.findMember(task, 'pid')!.type), 'pid_t');
  assert.equal(vmlinux.sizeOf(vmlinux.findMember(task, 'comm')!.type), 16);
  assert.equal(vmlinux.type(vmlinux.resolve(vmlinux.findByName('pid_t', 'typedef')!)).name, 'int');

  const openat2 = vmlinux.findByName('do_sys_openat2', 'func')!;
  assert.equal(openat2, bpftoolId('FUNC', 'do_sys_openat2'));
  const proto = vmlinux.type(
    vmlinux.type(openat2).kind === BTF_KIND.func ? (vmlinux.type(openat2) as { type: number }).type : 0,
  );
  assert.equal(proto.kind, BTF_KIND.func_proto);
  assert.equal(vmlinux.findByName('bpf_prog', 'struct'), bpftoolId('STRUCT', 'bpf_prog'));
  assert.equal(vmlinux.findByName('bpf_prog', 'fwd'), undefined);
  assert.equal(vmlinux.findByName('no_such_type_xyz'), undefined);
  assert.throws(() => vmlinux.get('no_such_type_xyz', 'struct'), BtfError);
  assert.throws(() => vmlinux.findByName('x', 'bogus' as never), TypeError);

  const mapType = vmlinux.get('bpf_map_type', 'enum');
  assert.ok(mapType.kind === BTF_KIND.enum, 'mapType.kind === BTF_KIND.enum');
  assert.equal(mapType.values.find((v) => v.name === 'BPF_MAP_TYPE_RINGBUF')!.value, 27);
  const e64 = vmlinux.types.find((ty) => ty.kind === BTF_KIND.enum64)!;
  assert.ok(
    e64 && e64.kind === BTF_KIND.enum64 && typeof e64.values[0]!.value === 'bigint',
    "e64 && e64.kind === BTF_KIND.enum64 && typeof e64.values[0]!.value === 'bigint'",
  );
  // Anonymous members are searched like C does (task_struct has anonymous unions/structs).
  const anon = vmlinux.get('sk_buff', 'struct');
  assert.ok(vmlinux.findMember(anon.id, 'len'), "vmlinux.findMember(anon.id, 'len')");
  assert.equal(
    vmlinux.memberOffset(anon.id, 'len'),
    Number(/'len' type_id=\d+ bits_offset=(\d+)/.exec(bpftoolText.slice(bpftoolText.indexOf(`STRUCT 'sk_buff'`)))![1]) /
      8,
  );
  // Dotted paths through nested structs.
  const sig = vmlinux.memberOffset(task, 'thread_info.flags');
  assert.equal(
    sig,
    vmlinux.memberOffset(task, 'thread_info') + vmlinux.memberOffset(vmlinux.get('thread_info', 'struct').id, 'flags'),
  );
  assert.equal(vmlinux.alignOf(task), 8); // BTF carries no alignment attributes: max member alignment, as libbpf computes
  assert.equal(vmlinux.alignOf(vmlinux.findByName('u64', 'typedef')!), 8);
});

test('vmlinux: encode() round-trips byte for byte', () => {
  assert.deepEqual(Buffer.from(vmlinux.encode()), vmlinuxBytes);
});

/** bpftool's JSON for a BTF file, compared field by field with the parsed types. */
function compareWithBpftool(btf: Btf, file: string): void {
  const json = JSON.parse(
    execFileSync('bpftool', ['-j', 'btf', 'dump', 'file', file], { maxBuffer: 64 << 20 }).toString(),
  ).types as any[];
  assert.equal(json.length, btf.types.length);
  const nm = (s: string) => (s === '' ? '(anon)' : s);
  for (const j of json) {
    const ty: BtfType = btf.type(j.id);
    assert.equal(btfKindName(ty.kind).toUpperCase(), j.kind, `type ${j.id}`);
    assert.equal(nm(ty.name), j.name, `type ${j.id} name`);
    switch (ty.kind) {
      case 1:
        assert.deepEqual([ty.size, ty.bits, ty.bitOffset], [j.size, j.nr_bits, j.bits_offset]);
        break;
      case 2:
      case 8:
      case 9:
      case 10:
      case 11:
      case 18:
        assert.equal(ty.type, j.type_id);
        break;
      case 3:
        assert.deepEqual([ty.type, ty.indexType, ty.nelems], [j.type_id, j.index_type_id, j.nr_elems]);
        break;
      case 4:
      case 5:
        assert.equal(ty.size, j.size);
        assert.deepEqual(
          ty.members.map((m) => [nm(m.name), m.type, m.bitOffset, m.bitfieldSize || undefined]),
          j.members.map((m: any) => [m.name, m.type_id, m.bits_offset, m.bitfield_size]),
        );
        break;
      case 6:
        // bpftool sign-extends 32-bit values to 64 bits in JSON (losing precision): compare what survives.
        assert.deepEqual(
          ty.values.map((v) => [v.name, v.value >= 0x80000000 ? 'negative' : v.value]),
          j.values.map((v: any) => [v.name, v.val < 0 || v.val >= 2 ** 32 ? 'negative' : v.val]),
        );
        break;
      case 12:
        assert.equal(ty.type, j.type_id);
        break;
      case 13:
        assert.equal(ty.returnType, j.ret_type_id);
        assert.deepEqual(
          ty.params.map((p) => [nm(p.name), p.type]),
          j.params.map((p: any) => [p.name, p.type_id]),
        );
        break;
      case 14:
        assert.equal(ty.type, j.type_id);
        break;
      case 15:
        assert.equal(ty.size, j.size);
        assert.deepEqual(
          ty.vars.map((v) => [v.type, v.offset, v.size]),
          j.vars.map((v: any) => [v.type_id, v.offset, v.size]),
        );
        break;
    }
  }
}

test('clang objects: .BTF matches bpftool btf dump, type for type', () => {
  for (const name of ['elfbtf_maps', 'elfbtf_legacy']) {
    const { btf, elf } = loadObject(name);
    const raw = join(scratchDir(), `${name}.btf`);
    writeFileSync(raw, elf.section('.BTF')!.data);
    compareWithBpftool(btf, raw);
    assert.deepEqual(btf.encode(), elf.section('.BTF')!.data.slice(), `${name}: encode round-trips`);
  }
  const { btf } = loadObject('elfbtf_legacy');
  const mixed = btf.get('mixed_t', 'typedef');
  const u = btf.resolved(mixed.id);
  assert.equal(u.kind, BTF_KIND.union);
  assert.equal(btf.sizeOf(mixed.id), 4);
  const color = btf.get('color', 'enum');
  assert.ok(color.kind === BTF_KIND.enum, 'color.kind === BTF_KIND.enum');
  // clang 14 leaves kind_flag 0 (unsigned) even for negative enumerators; the 32 bits are exact either way.
  assert.deepEqual(
    color.values.map((v) => v.value | 0),
    [-1, 5, 0x7fffffff],
  );
  const mixedVar = btf.get('mixed', 'var');
  assert.ok(mixedVar.kind === BTF_KIND.var, 'mixedVar.kind === BTF_KIND.var');
  assert.equal(btf.type(mixedVar.type).kind, BTF_KIND.volatile);
  assert.equal(btf.resolve(mixedVar.type), u.id);
});

test('.BTF.ext: func_info, line_info and CO-RE relocations', () => {
  const { btf, ext, elf } = loadObject('elfbtf_maps');
  const progSecs = ['.text', 'tp/sched/sched_process_exec', 'xdp', 'fentry/do_sys_openat2'];
  assert.deepEqual(ext.funcInfo.map((s) => s.section).sort(), [...progSecs].sort());
  const funcName = (sec: string) => ext.funcInfoFor(sec).map((f) => btf.type(f.typeId).name);
  assert.deepEqual(funcName('tp/sched/sched_process_exec'), ['handle_exec']);
  assert.deepEqual(funcName('.text'), ['bump']);
  assert.deepEqual(funcName('xdp'), ['xdp_pass']);
  for (const s of ext.funcInfo) for (const f of s.records) assert.equal(btf.type(f.typeId).kind, BTF_KIND.func);
  assert.equal(ext.funcInfoRecSize, 8);
  assert.equal(ext.lineInfoRecSize, 16);

  const lines = ext.lineInfoFor('tp/sched/sched_process_exec');
  assert.ok(lines.length > 5, 'lines.length > 5');
  const secSize = elf.section('tp/sched/sched_process_exec')!.size;
  for (const l of lines) {
    assert.match(l.fileName, /elfbtf_maps\.bpf\.c$/);
    assert.ok(l.insnOff < secSize, `insn ${l.insnOff}`);
  }
  const src = readFileSync(join(import.meta.dirname, '../fixtures/c/elfbtf_maps.bpf.c'), 'utf8').split('\n');
  // Line 0 marks compiler-generated code with no source line.
  for (const l of lines) if (l.line > 0) assert.equal(l.lineText.trim(), src[l.line - 1]!.trim(), `line ${l.line}`);
  assert.ok(
    lines.some((l) => /bpf_ringbuf_reserve/.test(l.lineText)),
    'lines.some((l) => /bpf_ringbuf_reserve/.test(l.lineText))',
  );

  // CO-RE: BPF_CORE_READ(task, tgid/pid) are field byte offsets on struct task_struct, access "0:<member index>".
  const relos = ext.coreRelosFor('tp/sched/sched_process_exec');
  const fieldNames = relos
    .filter((r) => r.kind === CORE_RELO_KIND.field_byte_offset)
    .map((r) => {
      const root = btf.resolved(r.typeId);
      assert.ok(root.kind === BTF_KIND.struct, 'root.kind === BTF_KIND.struct');
      assert.equal(r.access.length, 2);
      assert.equal(r.access[0], 0);
      return `${root.name}.${root.members[r.access[1]!]!.name}`;
    });
  assert.deepEqual(new Set(fieldNames), new Set(['task_struct.tgid', 'task_struct.pid', 'task_struct.comm']));
  for (const r of relos)
    assert.ok(r.insnOff % 8 === 0 && r.insnOff < secSize, 'r.insnOff % 8 === 0 && r.insnOff < secSize');
  const xdp = ext.coreRelosFor('xdp');
  // vmlinux.h marks structs preserve_access_index, so ctx->data/data_end are CO-RE field offsets too.
  assert.deepEqual(
    xdp.map((r) => `${CORE_RELO_KIND.field_exists === r.kind ? 'exists' : r.kind}:${btf.describe(r.typeId)}`).sort(),
    ['0:struct xdp_md', '0:struct xdp_md', 'exists:struct task_struct'],
  );
  const fentry = ext
    .coreRelosFor('fentry/do_sys_openat2')
    .map((r) => r.kind)
    .sort();
  assert.deepEqual(fentry, [CORE_RELO_KIND.type_exists, CORE_RELO_KIND.enumval_value].sort());
  const ev = ext.coreRelosFor('fentry/do_sys_openat2').find((r) => r.kind === CORE_RELO_KIND.enumval_value)!;
  const en = btf.type(ev.typeId);
  assert.ok(en.kind === BTF_KIND.enum, 'en.kind === BTF_KIND.enum');
  assert.equal(en.values[ev.access[0]!]!.name, 'BPF_MAP_TYPE_RINGBUF');

  // Kernel-format encoders: insn_off in instructions relative to the program start.
  const fi = encodeFuncInfo([{ insnOff: 16, typeId: 7 }], 8);
  assert.deepEqual([...new Uint32Array(fi.buffer)], [1, 7]);
  const li = encodeLineInfo([{ insnOff: 24, fileNameOff: 3, lineOff: 9, line: 42, column: 5 }]);
  assert.deepEqual([...new Uint32Array(li.buffer)], [3, 3, 9, (42 << 10) | 5]);
  assert.deepEqual(parseAccessString('0:12:3'), [0, 12, 3]);
  assert.throws(() => parseAccessString('0::1'), BtfError);
});

test('.maps: BTF-defined map definitions', () => {
  const { btf } = loadObject('elfbtf_maps');
  const maps = parseBtfMaps(btf);
  const by = Object.fromEntries(maps.map((m) => [m.name, m]));
  assert.deepEqual(Object.keys(by).sort(), ['by_pid', 'counts', 'events']);
  assert.deepEqual([by.events!.type, by.events!.maxEntries, by.events!.keySize], [27, 65536, undefined]);
  assert.deepEqual(
    [by.by_pid!.type, by.by_pid!.keySize, by.by_pid!.valueSize, by.by_pid!.maxEntries],
    [1, 4, 40, 1024],
  );
  assert.equal(btf.describe(by.by_pid!.valueType!), 'struct event');
  assert.equal(btf.describe(by.by_pid!.keyType!), 'u32');
  assert.deepEqual([by.counts!.type, by.counts!.valueSize, by.counts!.maxEntries], [6, 8, 4]);
  assert.deepEqual(parseBtfMaps(loadObject('elfbtf_legacy').btf), []);
});

test('fixupDataSections + encode: DATASEC sizes and VAR offsets from the ELF, accepted by bpftool', () => {
  const { btf, elf } = loadObject('elfbtf_maps');
  const syms = elf.symbols();
  assert.equal(
    btf.get('.maps', 'datasec').kind === BTF_KIND.datasec && (btf.get('.maps', 'datasec') as { size: number }).size,
    0,
    'clang leaves 0',
  );
  btf.fixupDataSections(
    (name) => elf.section(name)?.size,
    (sec, name) => {
      const s = syms.find((x) => x.name === name && elf.sections[x.shndx]?.name === sec);
      return s && { offset: s.value, hidden: (s.visibility & 3) === 2 };
    },
  );
  const maps = btf.get('.maps', 'datasec');
  assert.ok(maps.kind === BTF_KIND.datasec, 'maps.kind === BTF_KIND.datasec');
  assert.equal(maps.size, 80);
  assert.deepEqual(
    maps.vars.map((v) => [btf.type(v.type).name, v.offset, v.size]),
    [
      ['events', 0, 16],
      ['by_pid', 16, 32],
      ['counts', 48, 32],
    ],
  );
  const hits = btf.get('hits', 'var');
  assert.ok(
    hits.kind === BTF_KIND.var && hits.linkage === BTF_VAR_GLOBAL_ALLOCATED,
    'hits.kind === BTF_KIND.var && hits.linkage === BTF_VAR_GLOBAL_ALLOCATED',
  );
  const added = btf.addString('tsbpf_added');
  assert.equal(btf.addString('tsbpf_added'), added);
  const out = btf.encode();
  const again = Btf.parse(out);
  assert.equal(again.str(added), 'tsbpf_added');
  const raw = join(scratchDir(), 'elfbtf_maps.fixed.btf');
  writeFileSync(raw, out);
  compareWithBpftool(again, raw);
  assert.deepEqual(
    parseBtfMaps(again).map((m) => m.offset),
    [0, 16, 48],
  );
});

test('btfLayout: map values decode to objects without restating the struct', () => {
  const { btf } = loadObject('elfbtf_maps');
  const ev = btfStructLayout(btf, 'event');
  assert.ok(ev instanceof BtfStructLayout, 'ev instanceof BtfStructLayout');
  assert.equal(ev.size, 40);
  assert.deepEqual(ev.offsets, { pid: 0, tgid: 4, ts: 8, comm: 16, flags: 32, kind: 32, delta: 34 });
  // Same offsets as the hand-written layout for the non-bitfield prefix.
  const hand = t.struct({ pid: t.u32, tgid: t.u32, ts: t.u64, comm: t.cstring(16) });
  for (const k of ['pid', 'tgid', 'ts', 'comm'] as const) assert.equal(ev.offsetOf(k), hand.offsetOf(k));
  const bytes = new Uint8Array(40);
  const dv = new DataView(bytes.buffer);
  dv.setUint32(0, 1234, true);
  dv.setUint32(4, 99, true);
  dv.setBigUint64(8, 123456789012345n, true);
  bytes.set(new TextEncoder().encode('bash'), 16);
  bytes[32] = 5 | (17 << 3); // flags:3 = 5, kind:5 = 17
  dv.setInt16(34, -2, true);
  const v = ev.fromBytes(bytes);
  assert.deepEqual(v, { pid: 1234, tgid: 99, ts: 123456789012345n, comm: 'bash', flags: 5, kind: 17, delta: -2 });
  assert.deepEqual(ev.toBytes(v), bytes, 'encode is the inverse of decode');
  assert.throws(() => ev.toBytes({ ...v, flags: 8 }), RangeError);
  const num = btfStructLayout(btf, 'event', { u64: 'number' });
  assert.equal(num.fromBytes(bytes).ts, 123456789012345);
  // The map's declared value type works the same way.
  const byPid = parseBtfMaps(btf).find((m) => m.name === 'by_pid')!;
  assert.deepEqual(btfLayout(btf, byPid.valueType!).fromBytes(bytes), v);
  assert.equal(btfLayout(btf, byPid.keyType!), t.u32);

  // Unions and typedefs (legacy fixture).
  const legacy = loadObject('elfbtf_legacy').btf;
  const mixed = btfLayout(legacy, 'mixed_t');
  const mb = new Uint8Array(4);
  new DataView(mb.buffer).setUint32(0, 0x00020001, true);
  assert.deepEqual({ ...mixed.fromBytes(mb), f: undefined }, { i: 0x00020001, f: undefined, parts: { lo: 1, hi: 2 } });

  // Kernel structs with anonymous unions, bitfields, nested structs and arrays build and decode.
  for (const name of ['task_struct', 'sk_buff', 'bpf_prog', 'bpf_map_info', 'xdp_md']) {
    const l = btfStructLayout(vmlinux, name);
    assert.equal(l.size, vmlinux.sizeOf(vmlinux.get(name, 'struct').id));
    const obj = l.fromBytes(new Uint8Array(l.size));
    assert.ok(typeof obj === 'object', "typeof obj === 'object'");
  }
  const task = btfStructLayout(vmlinux, 'task_struct');
  const tb = new Uint8Array(task.size);
  new DataView(tb.buffer).setInt32(task.offsetOf('pid'), 4242, true);
  tb.set(new TextEncoder().encode('node'), task.offsetOf('comm'));
  const tv = task.fromBytes(tb);
  assert.equal(tv.pid, 4242);
  assert.equal(tv.comm, 'node');
  assert.throws(() => btfLayout(vmlinux, vmlinux.findByName('do_sys_openat2', 'func')!), BtfError);
});

test('split BTF on top of vmlinux, and corrupt BTF errors', () => {
  // A tiny module-style BTF: one PTR to task_struct (a base id) and one named TYPEDEF of it.
  const strs = new TextEncoder().encode('\0my_task_ptr\0');
  const types = new Uint8Array(24);
  const tv = new DataView(types.buffer);
  const first = vmlinux.endId;
  tv.setUint32(0, 0, true);
  tv.setUint32(4, BTF_KIND.ptr << 24, true);
  tv.setUint32(8, vmlinux.findByName('task_struct', 'struct')!, true);
  tv.setUint32(12, vmlinux.stringsLength + 1, true);
  tv.setUint32(16, BTF_KIND.typedef << 24, true);
  tv.setUint32(20, first, true);
  const blob = new Uint8Array(24 + types.length + strs.length);
  const hv = new DataView(blob.buffer);
  hv.setUint16(0, 0xeb9f, true);
  blob[2] = 1;
  hv.setUint32(4, 24, true);
  hv.setUint32(8, 0, true);
  hv.setUint32(12, types.length, true);
  hv.setUint32(16, types.length, true);
  hv.setUint32(20, strs.length, true);
  blob.set(types, 24);
  blob.set(strs, 24 + types.length);
  const mod = Btf.parse(blob, { base: vmlinux });
  assert.equal(mod.startId, first);
  assert.equal(mod.findByName('my_task_ptr', 'typedef'), first + 1);
  assert.equal(mod.findByName('task_struct', 'struct'), vmlinux.findByName('task_struct', 'struct'));
  assert.equal(mod.describe(first + 1), 'my_task_ptr');
  assert.equal(mod.describe(mod.resolve(first + 1)), 'struct task_struct *');
  assert.deepEqual(mod.encode(), blob);
  assert.throws(() => Btf.parse(blob), BtfError, 'without its base the ids dangle');

  const good = loadObject('elfbtf_maps').elf.section('.BTF')!.data;
  const mutate = (f: (b: Uint8Array, v: DataView) => void) => {
    const b = Uint8Array.from(good);
    f(b, new DataView(b.buffer));
    return b;
  };
  assert.throws(() => Btf.parse(good.subarray(0, 10)), /truncated/);
  assert.throws(
    () =>
      Btf.parse(
        mutate((b) => {
          b[0] = 0;
        }),
      ),
    /magic/,
  );
  assert.throws(
    () =>
      Btf.parse(
        mutate((b) => {
          b[2] = 9;
        }),
      ),
    /version/,
  );
  assert.throws(() => Btf.parse(mutate((_, v) => v.setUint32(12, 0xffffff, true))), /outside/);
  assert.throws(() => Btf.parse(good.subarray(0, good.length - 50)), BtfError);
  assert.throws(() => Btf.parse(mutate((_, v) => v.setUint32(24 + 8, 0x7fffffff, true))), /beyond the last id/);
  assert.throws(() => Btf.parse(mutate((_, v) => v.setUint32(24 + 4, 0x1f000000, true))), /unknown kind/);
  assert.throws(() => vmlinux.type(vmlinux.endId), BtfError);
});
