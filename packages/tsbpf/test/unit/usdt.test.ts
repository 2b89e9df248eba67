/**
 * USDT, pure half: argument spec decoding (x86-64 and arm64 syntax), the byte layout of struct __bpf_usdt_spec
 * in both usdt.bpf.h generations (checked against what clang compiles from the header's own struct), and
 * .note.stapsdt parsing of a real gcc-built binary (semaphores in .probes → file offsets) and of libstdc++.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Elf } from '../../src/pure/elf.js';
import { scratchDir } from '../support/scratch.js';
import {
  encodeUsdtSpec,
  parseUsdtArgs,
  parseUsdtNotes,
  USDT_SPEC_LAYOUT_V1,
  USDT_SPEC_LAYOUT_V2,
  UsdtError,
  usdtRuntimeAddress,
  usdtSites,
  usdtSpecLayout,
} from '../../src/pure/usdt.js';

const here = dirname(fileURLToPath(import.meta.url));
const OUT = scratchDir(); // unit tests never write into the checkout

/** gcc-compiles test/fixtures/c/usdt_target.c (a user-space program with <sys/sdt.h> probes); returns its path. */
function compileUsdtTarget(): string {
  mkdirSync(OUT, { recursive: true });
  const bin = join(OUT, 'usdt_target');
  execFileSync('gcc', ['-O1', '-g', '-o', bin, join(here, '..', 'fixtures', 'c', 'usdt_target.c')]);
  return bin;
}

test('x86-64 argument specs: registers of every width, memory with offset, constants, SIB', () => {
  const a = parseUsdtArgs(
    '-1@%dil 2@%si -4@%edx 8@%rcx -4@-4(%rsp) -8@-16(%rsp) -4@$42 -4@%r8d 8@(%rax) 4@$-9 1@-96(%rbp,%rax,8) 2@(%rbx,%rcx)',
  );
  assert.equal(a.length, 12);
  assert.deepEqual(a[0], { kind: 'reg', size: 1, signed: true, value: 0n, register: 'dil', registerOffset: 112 });
  assert.deepEqual(a[1], { kind: 'reg', size: 2, signed: false, value: 0n, register: 'si', registerOffset: 104 });
  assert.equal(a[2]!.registerOffset, 96); // rdx
  assert.deepEqual(a[3], { kind: 'reg', size: 8, signed: false, value: 0n, register: 'rcx', registerOffset: 88 });
  assert.deepEqual(a[4], { kind: 'deref', size: 4, signed: true, value: -4n, register: 'rsp', registerOffset: 152 });
  assert.deepEqual(a[5], { kind: 'deref', size: 8, signed: true, value: -16n, register: 'rsp', registerOffset: 152 });
  assert.deepEqual(a[6], { kind: 'const', size: 4, signed: true, value: 42n });
  assert.equal(a[7]!.registerOffset, 72); // r8
  assert.deepEqual(a[8], { kind: 'deref', size: 8, signed: false, value: 0n, register: 'rax', registerOffset: 80 });
  assert.equal(a[9]!.value, -9n);
  assert.deepEqual(a[10], {
    kind: 'sib',
    size: 1,
    signed: false,
    value: -96n,
    register: 'rbp',
    registerOffset: 32,
    indexRegister: 'rax',
    indexRegisterOffset: 80,
    scale: 8,
  });
  assert.equal(a[11]!.scale, 1);
  assert.deepEqual(parseUsdtArgs(''), []);
  assert.deepEqual(parseUsdtArgs('  8@%rip '), [
    { kind: 'reg', size: 8, signed: false, value: 0n, register: 'rip', registerOffset: 128 },
  ]);
});

test('x86-64 argument specs libbpf refuses are refused with the argument named', () => {
  assert.throws(
    () => parseUsdtArgs('-8@mem_value(%rip)'),
    (e: unknown) => e instanceof UsdtError && /mem_value\(%rip\)/.test((e as Error).message),
  );
  assert.throws(() => parseUsdtArgs('3@%eax'), /size 3/);
  assert.throws(() => parseUsdtArgs('4@%xmm0'), /unknown x86-64 register "%xmm0"/);
  assert.throws(() => parseUsdtArgs('1@(%rbp,%rax,3)'), /scale 3/);
  assert.throws(() => parseUsdtArgs(Array(13).fill('4@$1').join(' ')), /more than 12/);
});

test('arm64 argument specs', () => {
  const a = parseUsdtArgs('-4@[sp, 96] 8@[x1] -8@x4 4@5 -4@[x29, -12]', 'arm64');
  assert.deepEqual(
    a.map((x) => [x.kind, x.registerOffset, x.value, x.size, x.signed]),
    [
      ['deref', 248, 96n, 4, true],
      ['deref', 8, 0n, 8, false],
      ['reg', 32, 0n, 8, true],
      ['const', undefined, 5n, 4, false],
      ['deref', 29 * 8, -12n, 4, true],
    ],
  );
  assert.throws(() => parseUsdtArgs('8@x31', 'arm64'), /unknown arm64 register/);
});

test('spec encoding: both usdt.bpf.h layouts, bit for bit', () => {
  const args = parseUsdtArgs('-4@-1204(%rbp) 2@%ax -4@$-9');
  const v1 = new DataView(encodeUsdtSpec(args, 0x1122334455667788n, USDT_SPEC_LAYOUT_V1).buffer);
  assert.equal(v1.byteLength, 208);
  assert.equal(v1.getBigInt64(0, true), -1204n);
  assert.equal(v1.getUint32(8, true), 2); // BPF_USDT_ARG_REG_DEREF (4-byte enum)
  assert.equal(v1.getInt16(12, true), 32); // rbp
  assert.equal(v1.getUint8(14), 1); // signed
  assert.equal(v1.getInt8(15), 32); // 64 - 32
  assert.equal(v1.getUint32(16 + 8, true), 1); // REG
  assert.equal(v1.getInt16(16 + 12, true), 80);
  assert.equal(v1.getInt8(16 + 15), 48);
  assert.equal(v1.getBigInt64(32, true), -9n); // CONST value
  assert.equal(v1.getBigUint64(192, true), 0x1122334455667788n);
  assert.equal(v1.getInt16(200, true), 3);
  const v2 = new DataView(encodeUsdtSpec(parseUsdtArgs('1@-96(%rbp,%rax,8)'), 0n, USDT_SPEC_LAYOUT_V2).buffer);
  assert.equal(v2.byteLength, 304);
  assert.equal(v2.getUint8(8), 3); // SIB
  assert.equal(v2.getUint16(10, true), 80 | (3 << 12)); // idx_reg_off:12 | scale_bitshift:4
  assert.equal(v2.getInt16(14, true), 32);
  assert.equal(v2.getInt8(17), 56);
  assert.equal(v2.getInt16(296, true), 1);
  assert.throws(() => encodeUsdtSpec(parseUsdtArgs('1@(%rbp,%rax,2)'), 0n, USDT_SPEC_LAYOUT_V1), /libbpf 1.7/);
  assert.equal(usdtSpecLayout(208), USDT_SPEC_LAYOUT_V1);
  assert.equal(usdtSpecLayout(304), USDT_SPEC_LAYOUT_V2);
  assert.throws(() => usdtSpecLayout(200), UsdtError);
});

test('the layouts match what clang compiles from usdt.bpf.h struct definitions', () => {
  // The header's structs, old (this machine's libbpf-dev may be either) and new, with a probe value in each field.
  const src = `typedef unsigned short __u16; typedef unsigned char __u8; typedef unsigned long long __u64; typedef _Bool bool;
enum ty { C0, C1, C2, C3 };
struct v1 { __u64 val_off; enum ty arg_type; short reg_off; bool arg_signed; char arg_bitshift; };
struct v2 { __u64 val_off; enum ty arg_type: 8; __u16 idx_reg_off: 12; __u16 scale_bitshift: 4; __u8 __reserved: 8; short reg_off; bool arg_signed; char arg_bitshift; };
struct s1 { struct v1 args[12]; __u64 usdt_cookie; short arg_cnt; };
struct s2 { struct v2 args[12]; __u64 usdt_cookie; short arg_cnt; };
struct s1 a = { .args = { { .val_off = -1204, .arg_type = 2, .reg_off = 32, .arg_signed = 1, .arg_bitshift = 32 } }, .usdt_cookie = 7, .arg_cnt = 1 };
struct s2 b = { .args = { { .val_off = -96, .arg_type = 3, .idx_reg_off = 80, .scale_bitshift = 3, .reg_off = 32, .arg_signed = 0, .arg_bitshift = 56 } }, .usdt_cookie = 7, .arg_cnt = 1 };`;
  mkdirSync(OUT, { recursive: true });
  const obj = join(OUT, 'usdt_layout.o');
  execFileSync('clang', ['-target', 'bpf', '-O2', '-c', '-x', 'c', '-', '-o', obj], {
    input: src,
    stdio: ['pipe', 'ignore', 'pipe'],
  });
  const data = Elf.parse(readFileSync(obj)).section('.data')!.data;
  const a = data.subarray(0, 208);
  const b = data.subarray(208, 208 + 304);
  assert.deepEqual(
    Buffer.from(encodeUsdtSpec(parseUsdtArgs('-4@-1204(%rbp)'), 7n, USDT_SPEC_LAYOUT_V1)),
    Buffer.from(a),
  );
  assert.deepEqual(
    Buffer.from(encodeUsdtSpec(parseUsdtArgs('1@-96(%rbp,%rax,8)'), 7n, USDT_SPEC_LAYOUT_V2)),
    Buffer.from(b),
  );
});

test('notes of a gcc-built <sys/sdt.h> program: sites, args, semaphores in .probes as file offsets', () => {
  // Needs gcc and <sys/sdt.h> (systemtap-sdt-dev), both installed by scripts/install-deps.sh.
  const bin = compileUsdtTarget();
  const bytes = readFileSync(bin);
  const elf = Elf.parse(bytes);
  const notes = parseUsdtNotes(elf);
  assert.deepEqual(notes.map((n) => `${n.provider}:${n.name}`).sort(), ['tsbpf_test:args', 'tsbpf_test:sema']);
  const [args] = usdtSites(elf, 'tsbpf_test', 'args');
  assert.ok(args);
  assert.equal(parseUsdtArgs(args.args).length, 8);
  // The site is a nop (0x90) at its file offset; the semaphore sits in .probes at its file offset.
  assert.equal(bytes[args.fileOffset], 0x90);
  const probes = elf.section('.probes')!;
  assert.ok(args.semaphore >= probes.addr && args.semaphore < probes.addr + probes.size);
  assert.equal(args.semaphoreOffset, probes.offset + (args.semaphore - probes.addr));
  const [sema] = usdtSites(elf, 'tsbpf_test', 'sema');
  assert.notEqual(sema!.semaphoreOffset, args.semaphoreOffset);
  assert.deepEqual(usdtSites(elf, 'tsbpf_test', 'nope'), []);
  // A process mapping the text at 0x7f0000000000 + (offset - 0x1000): run-time address of the site.
  assert.equal(
    usdtRuntimeAddress(args.fileOffset, [{ start: 0x7f0000000000, end: 0x7f0000100000, offset: 0x1000, exec: true }]),
    0x7f0000000000 + args.fileOffset - 0x1000,
  );
});

test('libstdc++ notes: libstdcxx:throw and :catch without semaphores', () => {
  // libstdc++ comes with g++ (scripts/install-deps.sh).
  const lib = [
    '/usr/lib/x86_64-linux-gnu/libstdc++.so.6',
    '/usr/lib/aarch64-linux-gnu/libstdc++.so.6',
    '/lib64/libstdc++.so.6',
  ].find(existsSync);
  assert.ok(lib, 'no libstdc++.so.6');
  const bytes = readFileSync(lib);
  const elf = Elf.parse(bytes);
  for (const name of ['throw', 'catch']) {
    const sites = usdtSites(elf, 'libstdcxx', name);
    assert.ok(sites.length >= 1, name);
    for (const s of sites) {
      assert.equal(s.semaphoreOffset, 0);
      assert.equal(parseUsdtArgs(s.args).length, 2);
      assert.equal(bytes[s.fileOffset], 0x90, `${name} site is a nop`);
    }
  }
});

test('malformed notes are UsdtErrors, never crashes', () => {
  const bin = readFileSync(compileUsdtTarget());
  const elf = Elf.parse(bin);
  const sec = elf.section('.note.stapsdt')!;
  // Truncate the descriptor size of the first note so its strings run out.
  const copy = new Uint8Array(bin);
  const view = new DataView(copy.buffer, copy.byteOffset + sec.offset);
  view.setUint32(4, 26, true);
  assert.throws(() => parseUsdtNotes(Elf.parse(copy)), UsdtError);
  view.setUint32(4, 0xffffff, true);
  assert.throws(() => parseUsdtNotes(Elf.parse(copy)), UsdtError);
});
