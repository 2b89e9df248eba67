// __ksym patching and kallsyms parsing (pure pieces of #15 item 1), hidden subprogram marking (item 2).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { KFUNC_POISON_BASE, parseKallsyms, patchKfuncCall, patchKsymLoad } from '../../src/pure/ksym-patch.js';
import { ObjectSpec } from '../../src/pure/object-spec.js';
import { BTF_FUNC_STATIC } from '../../src/pure/btf.js';
import { fixtureObject } from '../fixtures/objects.js';

const ld = () => {
  const b = new Uint8Array(16);
  b[0] = 0x18;
  b[1] = 0x01;
  return b;
};
const call = () => {
  const b = new Uint8Array(8);
  b[0] = 0x85;
  b[1] = 0x10;
  new DataView(b.buffer).setInt32(4, -1, true);
  return b;
};

test('typed ksym → BPF_PSEUDO_BTF_ID with the BTF object fd; untyped → address; kfunc call → BTF id and fd_array index', () => {
  const a = ld();
  patchKsymLoad(a, 0, { kind: 'btf', btfId: 10659, btfObjFd: 7, fdIndex: 1 }, 't');
  const v = new DataView(a.buffer);
  assert.equal(a[1], 0x31, 'dst r1, src BPF_PSEUDO_BTF_ID (3)');
  assert.equal(v.getInt32(4, true), 10659);
  assert.equal(v.getInt32(12, true), 7);
  const b = ld();
  patchKsymLoad(b, 0, { kind: 'addr', addr: 0xffffffff81000000n }, 't');
  assert.equal(b[1], 0x01);
  assert.equal(new DataView(b.buffer).getUint32(4, true), 0x81000000);
  assert.equal(new DataView(b.buffer).getUint32(12, true), 0xffffffff);
  const c = call();
  patchKfuncCall(c, 0, { kind: 'btf', btfId: 65334, btfObjFd: 9, fdIndex: 2 }, 0, 't');
  assert.equal(c[1], 0x20, 'src BPF_PSEUDO_KFUNC_CALL (2)');
  assert.equal(new DataView(c.buffer).getInt16(2, true), 2);
  assert.equal(new DataView(c.buffer).getInt32(4, true), 65334);
  const m = call();
  patchKfuncCall(m, 0, { kind: 'missing' }, 3, 't');
  assert.equal(m[1], 0);
  assert.equal(
    new DataView(m.buffer).getInt32(4, true),
    KFUNC_POISON_BASE + 3,
    'a poisoned helper call, pruned when unreachable',
  );
  assert.throws(() => patchKfuncCall(ld(), 0, { kind: 'missing' }, 0, 't'), /not a call/);
});

test('parseKallsyms: first definition wins, module symbols included, filter by name', () => {
  const text =
    'ffffffff81000000 T _stext\nffffffffc0001000 t foo\t[mod]\nffffffff81000010 T _stext\nffffffff81000020 D other\n';
  const all = parseKallsyms(text);
  assert.equal(all.get('_stext'), 0xffffffff81000000n);
  assert.equal(all.get('foo'), 0xffffffffc0001000n);
  assert.deepEqual([...parseKallsyms(text, new Set(['other']))], [['other', 0xffffffff81000020n]]);
});

test('clang object: kfuncs and ksyms recorded with weak flags; the __hidden subprogram is static in BTF', () => {
  const spec = ObjectSpec.parse(new Uint8Array(readFileSync(fixtureObject('obj_ksyms'))));
  const e = spec.externs;
  assert.equal(e.bpf_task_from_pid!.kind, 'kfunc');
  assert.equal(e.tsbpf_no_such_kfunc!.weak, true);
  assert.equal(e.runqueues!.kind, 'ksym');
  assert.equal(e._stext!.kind, 'ksym');
  const btf = spec.btf!;
  assert.equal((btf.type(btf.findByName('hidden_double', 'func')!) as { linkage: number }).linkage, BTF_FUNC_STATIC);
  const kfuncCalls = spec.programs
    .ksyms_prog!.relocations.filter((r) => r.kind === 'kfunc')
    .map((r) => (r as { extern: string }).extern);
  assert.ok(kfuncCalls.includes('bpf_task_from_pid') && kfuncCalls.includes('tsbpf_no_such_kfunc'));
});
