// CO-RE: relocations of clang's BPF_CORE_READ / bpf_core_* builtins against the kernel's BTF (a raw tracepoint reads
// task_struct fields of this process) and against a user-given BTF (offsets move, missing fields poison), plus the
// pure pieces: flavor names, instruction patching.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { BpfObject } from '../../src/kernel/object.js';
import { VerifierError } from '../../src/kernel/errors.js';
import { Elf } from '../../src/pure/elf.js';
import {
  CORE_POISON_IMM,
  CoreReloError,
  essentialName,
  patchCoreInsn,
  type CoreReloResult,
} from '../../src/pure/core-relo.js';
import { compileFixture, FIXTURE_OUT, FIXTURE_SRC } from '../fixtures/clang.js';

const CORE = compileFixture('obj_core');

/** The raw .BTF of the stand-in kernel (optionally without real_parent). */
function fakeKernelBtf(noParent: boolean): Uint8Array {
  const out = join(FIXTURE_OUT, `obj_fake_kernel${noParent ? '_noparent' : ''}.o`);
  execFileSync('clang', [
    '-O2',
    '-g',
    '-target',
    'bpf',
    ...(noParent ? ['-DNO_PARENT'] : []),
    '-c',
    join(FIXTURE_SRC, 'obj_fake_kernel.bpf.c'),
    '-o',
    out,
  ]);
  return Elf.parse(readFileSync(out)).section('.BTF')!.data.slice();
}

function results(obj: BpfObject): Map<string, CoreReloResult> {
  return new Map(obj.programs.on_sys_enter!.coreResults.map((r) => [r.description.replace(/ \(.*\)$/, ''), r]));
}

test('CO-RE against /sys/kernel/btf/vmlinux: task_struct fields of this process, existence, sizes, enums', () => {
  using obj = BpfObject.open(CORE);
  obj.rodata!.set('target_tgid', process.pid);
  obj.load();
  const r = results(obj);
  assert.equal(r.get('field_exists struct task_struct___mine.pid')!.newValue, 1);
  assert.equal(
    r.get('field_exists struct task_struct___mine.no_such_field_here')!.newValue,
    0,
    'missing field: exists = 0, not poison',
  );
  assert.equal(r.get('type_exists struct not_a_kernel_type___x')!.newValue, 0);
  assert.equal(r.get('enumval_value enum bpf_map_type::BPF_MAP_TYPE_RINGBUF')!.newValue, 27);
  assert.ok(![...r.values()].some((x) => x.poison));
  obj.attach();
  statSync('/'); // a syscall from this process
  const bss = obj.bss!;
  assert.ok(bss.get('hits') > 0n);
  assert.equal(bss.get('seen_tgid'), process.pid, 'tgid read through a ___flavor struct');
  assert.ok(existsSync(`/proc/${process.pid}/task/${bss.get('seen_pid')}`), 'pid is one of our threads');
  assert.equal(bss.get('seen_ppid'), process.ppid, 'real_parent->tgid (two CO-RE reads) is our parent');
  assert.equal(bss.get('comm_size'), 16);
  assert.equal(bss.get('has_pid'), 1);
  assert.equal(bss.get('has_bogus'), 0);
  assert.equal(bss.get('has_task_type'), 1);
  assert.equal(bss.get('has_fake_type'), 0);
  assert.equal(bss.get('ringbuf_type'), 27n);
  assert.ok(bss.get('task_size') > 1000);
});

test('CO-RE against a user-given BTF: offsets, sizes and enum values follow the target', () => {
  using obj = BpfObject.open(CORE, { btf: fakeKernelBtf(false) });
  obj.load();
  const r = results(obj);
  const off = (k: string) => Number(r.get(k)!.newValue);
  assert.equal(off('field_byte_offset struct task_struct.pid'), 28);
  assert.equal(off('field_byte_offset struct task_struct___mine.tgid'), 24);
  assert.equal(off('field_byte_offset struct task_struct.real_parent'), 32);
  assert.equal(off('field_byte_size struct task_struct.comm'), 8);
  assert.equal(off('field_exists struct task_struct___mine.no_such_field_here'), 1, 'this target has the field');
  assert.equal(off('type_size struct task_struct'), 56);
  assert.equal(off('enumval_value enum bpf_map_type::BPF_MAP_TYPE_RINGBUF'), 99);
  // The local (vmlinux.h) values are what clang compiled in.
  assert.equal(r.get('enumval_value enum bpf_map_type::BPF_MAP_TYPE_RINGBUF')!.origValue, 27);
});

test('CO-RE: a field the target lacks poisons the instruction, and the verifier refuses it where it is reached', () => {
  const obj = BpfObject.open(CORE, { btf: fakeKernelBtf(true) });
  assert.throws(
    () => obj.load(),
    (e: unknown) => {
      assert.ok(e instanceof VerifierError);
      assert.match(e.log, /invalid func unknown#195896080|unknown func/);
      return true;
    },
  );
  const poisoned = obj.programs.on_sys_enter!.coreResults.filter((x) => x.poison).map((x) => x.description);
  assert.deepEqual(poisoned, ['field_byte_offset struct task_struct.real_parent (0:95)']);
  obj.close();
});

test('essentialName strips ___flavor suffixes like libbpf', () => {
  assert.equal(essentialName('task_struct___old'), 'task_struct');
  assert.equal(essentialName('task_struct___x___y'), 'task_struct___x');
  assert.equal(essentialName('task_struct'), 'task_struct');
  assert.equal(essentialName('a____b'), 'a____b');
  assert.equal(essentialName('___x'), '___x');
});

test('patchCoreInsn: ALU immediates, load offsets with size change, ld_imm64, poison, mismatches', () => {
  const base = { validate: true, poison: false, description: 't' } as const;
  // r1 = 1268 (alu64 mov imm)
  const alu = new Uint8Array([0xb7, 0x01, 0, 0, 0xf4, 0x04, 0, 0]);
  patchCoreInsn(alu, 0, { ...base, kind: 0, origValue: 1268, newValue: 28 });
  assert.equal(new DataView(alu.buffer).getInt32(4, true), 28);
  assert.throws(() => patchCoreInsn(alu, 0, { ...base, kind: 0, origValue: 1268, newValue: 1 }), CoreReloError);
  // r2 = *(u32 *)(r1 + 8) → *(u16 *)(r1 + 12)
  const ldx = new Uint8Array([0x61, 0x12, 8, 0, 0, 0, 0, 0]);
  patchCoreInsn(ldx, 0, { ...base, kind: 0, origValue: 8, newValue: 12, origSize: 4, newSize: 2 });
  assert.equal(ldx[0], 0x69);
  assert.equal(ldx[2], 12);
  // ld_imm64 r1 = 27 → 99
  const ld = new Uint8Array([0x18, 0x01, 0, 0, 27, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
  patchCoreInsn(ld, 0, { ...base, validate: false, kind: 11, origValue: 27, newValue: 99 });
  assert.equal(ld[4], 99);
  patchCoreInsn(ld, 0, { ...base, kind: 11, origValue: 0, newValue: 0, poison: true, validate: false });
  assert.equal(ld[0], 0x85);
  assert.equal(new DataView(ld.buffer).getInt32(4, true), CORE_POISON_IMM);
  assert.equal(ld[8], 0x85);
  assert.throws(
    () =>
      patchCoreInsn(new Uint8Array([0x95, 0, 0, 0, 0, 0, 0, 0]), 0, { ...base, kind: 0, origValue: 0, newValue: 1 }),
    /cannot carry/,
  );
  assert.throws(() => patchCoreInsn(alu, 3, { ...base, kind: 0, origValue: 0, newValue: 1 }), /out of range/);
});
