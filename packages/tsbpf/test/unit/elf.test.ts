// ELF parser checked against llvm-readelf / nm on clang-compiled BPF objects, libc and a small executable.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  Elf,
  ElfError,
  EM_BPF,
  EM_X86_64,
  ET_DYN,
  ET_EXEC,
  ET_REL,
  R_BPF_64_32,
  R_BPF_64_64,
  SHT_NOBITS,
  SHT_REL,
  STB_GLOBAL,
  STT_FUNC,
  findFunctionSymbol,
  symbolFileOffset,
} from '../../src/pure/elf.js';
import { fixtureObject } from '../fixtures/objects.js';
import { scratchDir } from '../support/scratch.js';

const LIBC = '/lib/x86_64-linux-gnu/libc.so.6';

function readelfJson(file: string, ...args: string[]): any {
  const out = execFileSync('llvm-readelf', ['--elf-output-style=JSON', ...args, file], {
    maxBuffer: 64 << 20,
  }).toString();
  return Object.values(JSON.parse(out)[0])[0];
}

/** GNU-style `llvm-readelf -r` (its JSON relocation output is broken in LLVM 14). */
function readelfRelocs(file: string): Map<string, { offset: number; type: string; symbol: string }[]> {
  const out = execFileSync('llvm-readelf', ['-r', file], { maxBuffer: 64 << 20 }).toString();
  const map = new Map<string, { offset: number; type: string; symbol: string }[]>();
  let cur: { offset: number; type: string; symbol: string }[] | undefined;
  for (const line of out.split('\n')) {
    const m = /^Relocation section '(.*)' at offset/.exec(line);
    if (m) {
      cur = [];
      map.set(m[1]!, cur);
      continue;
    }
    const r = /^([0-9a-f]{16})\s+[0-9a-f]{16}\s+(\S+)\s+[0-9a-f]{16}\s+(\S*)/.exec(line);
    if (r && cur) cur.push({ offset: parseInt(r[1]!, 16), type: r[2]!, symbol: r[3] ?? '' });
  }
  return map;
}

test('BPF object: header, sections and data match llvm-readelf', () => {
  const file = fixtureObject('elfbtf_maps');
  const bytes = readFileSync(file);
  const elf = Elf.parse(bytes, { machine: EM_BPF });
  assert.equal(elf.header.type, ET_REL);
  assert.equal(elf.header.machine, EM_BPF);
  const ref = readelfJson(file, '-S').Sections.map((s: any) => s.Section);
  assert.equal(elf.sections.length, ref.length);
  for (const r of ref) {
    const s = elf.sectionAt(r.Index);
    assert.equal(s.name, r.Name.Value);
    assert.equal(s.type, r.Type.RawValue);
    assert.equal(s.offset, r.Offset);
    assert.equal(s.size, r.Size);
    assert.equal(s.link, r.Link);
    assert.equal(s.info, r.Info);
    assert.equal(s.flags, r.Flags.RawFlags);
    assert.equal(s.addralign, r.AddressAlignment);
    assert.equal(s.entsize, r.EntrySize);
    if (s.type !== SHT_NOBITS) assert.deepEqual(Buffer.from(s.data), bytes.subarray(r.Offset, r.Offset + r.Size));
  }
  assert.equal(elf.section('.bss')!.data.length, 0, '.bss has no file bytes');
  assert.equal(elf.section('.bss')!.size, 8);
  assert.equal(elf.section('tp/sched/sched_process_exec')!.size % 8, 0);
  assert.equal(elf.section('.maps')!.size, 80);
  assert.equal(elf.section('nope'), undefined);
  assert.throws(() => elf.sectionAt(999), ElfError);
});

test('BPF object: symbols match llvm-readelf', () => {
  const file = fixtureObject('elfbtf_maps');
  const elf = Elf.parse(readFileSync(file));
  const ref = readelfJson(file, '--symbols').Symbols.map((s: any) => s.Symbol);
  const syms = elf.symbols();
  assert.equal(syms.length, ref.length);
  ref.forEach((r: any, i: number) => {
    const s = syms[i]!;
    // llvm-readelf prints the section's name for STT_SECTION symbols, whose own name is empty.
    assert.equal(s.name, r.Type.RawValue === 3 ? '' : r.Name.Value, `symbol ${i}`);
    if (r.Type.RawValue === 3) assert.equal(elf.sectionAt(s.shndx).name, r.Name.Value);
    assert.equal(s.value, r.Value);
    assert.equal(s.size, r.Size);
    assert.equal(s.bind, r.Binding.RawValue);
    assert.equal(s.type, r.Type.RawValue);
    assert.equal(s.shndx, r.Section.RawValue);
  });
  const prog = syms.find((s) => s.name === 'handle_exec')!;
  assert.equal(prog.type, STT_FUNC);
  assert.equal(prog.bind, STB_GLOBAL);
  assert.equal(elf.sectionAt(prog.shndx).name, 'tp/sched/sched_process_exec');
  const byPid = syms.find((s) => s.name === 'by_pid')!;
  assert.equal(elf.sectionAt(byPid.shndx).name, '.maps');
  assert.equal(byPid.value, 16);
  assert.deepEqual(elf.dynamicSymbols(), [], 'objects have no .dynsym');
});

test('BPF object: relocations match llvm-readelf', () => {
  for (const name of ['elfbtf_maps', 'elfbtf_legacy']) {
    const file = fixtureObject(name);
    const elf = Elf.parse(readFileSync(file), { machine: EM_BPF });
    const ref = readelfRelocs(file);
    const mine = elf.relocationSections();
    assert.equal(mine.length, ref.size, name);
    for (const rs of mine) {
      assert.equal(rs.section.type, SHT_REL);
      const expect = ref.get(rs.section.name)!;
      assert.ok(expect, rs.section.name);
      const syms = elf.symbolsOf(rs.symtab);
      assert.deepEqual(
        rs.relocations.map((r) => ({
          offset: r.offset,
          type: r.type,
          symbol: syms[r.symbolIndex]!.name || elf.sectionAt(syms[r.symbolIndex]!.shndx).name,
        })),
        expect.map((e) => ({
          offset: e.offset,
          type: { R_BPF_64_64, R_BPF_64_32, R_BPF_64_ABS64: 2, R_BPF_64_ABS32: 3, R_BPF_64_NODYLD32: 4 }[e.type],
          symbol: e.symbol,
        })),
        rs.section.name,
      );
    }
  }
  // Program sections relocate map loads (ld_imm64, opcode 0x18) and calls (0x85) into .text.
  const elf = Elf.parse(readFileSync(fixtureObject('elfbtf_maps')));
  const rs = elf.relocationSections().find((r) => r.target.name === 'tp/sched/sched_process_exec')!;
  for (const r of rs.relocations) {
    const opcode = rs.target.data[r.offset];
    assert.equal(opcode, r.type === R_BPF_64_64 ? 0x18 : 0x85);
  }
});

test('legacy object: "maps" section, .bss, .rodata.str', () => {
  const elf = Elf.parse(readFileSync(fixtureObject('elfbtf_legacy')), { machine: EM_BPF });
  const maps = elf.section('maps')!;
  assert.equal(maps.size, 20);
  const v = new DataView(maps.data.buffer, maps.data.byteOffset, maps.data.byteLength);
  assert.deepEqual(
    [0, 4, 8, 12].map((o) => v.getUint32(o, true)),
    [2 /* ARRAY */, 4, 8, 2],
  );
  assert.ok(elf.section('tc') && elf.section('socket'), "elf.section('tc') && elf.section('socket')");
  assert.equal(elf.section('.bss')!.type, SHT_NOBITS);
});

test('symbolFileOffset: malloc in libc matches nm -D and the PT_LOAD arithmetic', () => {
  const bytes = readFileSync(LIBC);
  const elf = Elf.parse(bytes, { machine: EM_X86_64 });
  assert.equal(elf.header.type, ET_DYN);
  const nm = execFileSync('nm', ['-D', LIBC]).toString();
  for (const fn of ['malloc', 'free', 'strlen']) {
    const m = new RegExp(`^([0-9a-f]+) [Tti] ${fn}@@`, 'm').exec(nm);
    assert.ok(m, `nm has ${fn}`);
    const vaddr = parseInt(m![1]!, 16);
    const load = elf.programHeaders.find(
      (p) => p.type === 1 && p.flags & 1 && vaddr >= p.vaddr && vaddr < p.vaddr + p.memsz,
    )!;
    const expected = vaddr - load.vaddr + load.offset;
    const found = findFunctionSymbol(elf, fn);
    assert.equal(found.symbol.value, vaddr);
    assert.equal(found.table, '.dynsym');
    assert.equal(found.fileOffset, expected, fn);
    assert.equal(symbolFileOffset(elf, fn), expected);
  }
  // Program headers agree with llvm-readelf.
  const ph = readelfJson(LIBC, '-l').ProgramHeaders.map((p: any) => p.ProgramHeader);
  assert.deepEqual(
    elf.programHeaders.map((p) => [p.type, p.offset, p.vaddr, p.filesz, p.memsz, p.flags]),
    ph.map((p: any) => [p.Type.RawValue, p.Offset, p.VirtualAddress, p.FileSize, p.MemSize, p.Flags.RawFlags]),
  );
  assert.throws(
    () => symbolFileOffset(elf, 'no_such_function_xyz'),
    (e: unknown) => e instanceof ElfError && e.code === 'not-found',
  );
  assert.throws(() => symbolFileOffset(elf, ''), TypeError);
});

test('symbolFileOffset: non-PIE executable where vaddr != file offset (.symtab)', () => {
  const src = join(scratchDir(), 'uprobe_target.c');
  const bin = join(scratchDir(), 'uprobe_target');
  writeFileSync(src, 'int target_fn(int x) { return x * 3; }\nint main(int c, char **v) { return target_fn(c); }\n');
  execFileSync('clang', ['-O1', '-no-pie', '-o', bin, src]);
  const elf = Elf.parse(readFileSync(bin));
  assert.equal(elf.header.type, ET_EXEC);
  const vaddr = parseInt(/^([0-9a-f]+) T target_fn$/m.exec(execFileSync('nm', [bin]).toString())![1]!, 16);
  const found = findFunctionSymbol(elf, 'target_fn');
  assert.equal(found.table, '.symtab');
  assert.notEqual(found.fileOffset, vaddr);
  const load = elf.programHeaders.find((p) => p.type === 1 && p.flags & 1)!;
  assert.equal(found.fileOffset, vaddr - load.vaddr + load.offset);
  // The bytes at that offset are the function's code as objdump shows it.
  const dis = execFileSync('llvm-objdump', [
    '-d',
    '--no-show-raw-insn',
    `--disassemble-symbols=target_fn`,
    bin,
  ]).toString();
  assert.match(dis, new RegExp(`${vaddr.toString(16)} <target_fn>`));
  const raw = execFileSync('llvm-objdump', ['-d', `--disassemble-symbols=target_fn`, bin]).toString();
  const firstBytes = /^\s+[0-9a-f]+:\s+((?:[0-9a-f]{2} )+)/m
    .exec(raw)![1]!
    .trim()
    .split(' ')
    .map((h) => parseInt(h, 16));
  assert.deepEqual([...elf.bytes.subarray(found.fileOffset, found.fileOffset + firstBytes.length)], firstBytes);
});

test('malformed ELF gives clear ElfErrors', () => {
  const good = readFileSync(fixtureObject('elfbtf_maps'));
  const code = (c: string) => (e: unknown) => e instanceof ElfError && e.code === c;
  assert.throws(() => Elf.parse(new Uint8Array(0)), code('truncated'));
  assert.throws(() => Elf.parse(good.subarray(0, 40)), code('truncated'));
  assert.throws(
    () =>
      Elf.parse(new TextEncoder().encode('#!/bin/sh\necho hello world, this is not elf at all......................')),
    code('magic'),
  );
  const c32 = Uint8Array.from(good);
  c32[4] = 1;
  assert.throws(() => Elf.parse(c32), code('class'));
  const be = Uint8Array.from(good);
  be[5] = 2;
  assert.throws(() => Elf.parse(be), code('endian'));
  assert.throws(
    () => Elf.parse(readFileSync(LIBC), { machine: EM_BPF }),
    (e: unknown) => e instanceof ElfError && e.code === 'machine' && /x86-64.*BPF/.test(e.message),
  );
  // Truncated file: the section header table is at the end.
  assert.throws(() => Elf.parse(good.subarray(0, good.length - 100)), ElfError);
  // A section pointing past the end.
  const elf = Elf.parse(good);
  const bad = Uint8Array.from(good);
  const dv = new DataView(bad.buffer);
  const sh = elf.header.shoff + elf.section('.maps')!.index * 64;
  dv.setBigUint64(sh + 24, BigInt(good.length + 10), true);
  assert.throws(
    () => Elf.parse(bad),
    (e: unknown) => e instanceof ElfError && /outside the file/.test(e.message),
  );
  // A relocation with an out-of-range symbol index.
  const rel = Uint8Array.from(good);
  const rs = elf.section('.relxdp')!;
  new DataView(rel.buffer).setUint32(rs.offset + 12, 9999, true);
  assert.throws(
    () => Elf.parse(rel).relocationSections(),
    (e: unknown) => e instanceof ElfError && e.code === 'range' && /symbol index 9999/.test(e.message),
  );
  assert.throws(() => Elf.parse('x' as unknown as Uint8Array), TypeError);
});
