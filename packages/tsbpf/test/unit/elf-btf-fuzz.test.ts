// Fuzz: 100k mutated/truncated ELF, BTF and .BTF.ext inputs derived from the fixtures. The parsers (and everything
// the loader will call on their output) may only throw ElfError/BtfError, and must never hang.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Elf, ElfError, findFunctionSymbol } from '../../src/pure/elf.js';
import { Btf, BtfError } from '../../src/pure/btf.js';
import { BtfExt } from '../../src/pure/btf-ext.js';
import { parseBtfMaps } from '../../src/pure/btf-maps.js';
import { btfLayout } from '../../src/pure/btf-layout.js';
import { fixtureObject } from '../fixtures/objects.js';
import { scratchDir } from '../support/scratch.js';

const CASES = Number(process.env.TSBPF_FUZZ_CASES ?? 100_000);

/** mulberry32: deterministic, so a failure names a reproducible case. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let x = a;
    x = Math.imul(x ^ (x >>> 15), x | 1);
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61);
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

const INTERESTING = [
  0, 1, 2, 7, 8, 12, 16, 24, 64, 0x7f, 0x80, 0xff, 0x100, 0xffff, 0x10000, 0x7fffffff, 0x80000000, 0xfffffffe,
  0xffffffff,
];

function mutate(base: Uint8Array, r: () => number, hot: number): Uint8Array {
  const b = Uint8Array.from(base);
  const v = new DataView(b.buffer);
  const pos = (): number => (r() < 0.5 ? Math.floor(r() * Math.min(hot, b.length)) : Math.floor(r() * b.length));
  const n = 1 + Math.floor(r() * 4);
  for (let i = 0; i < n; i++) {
    const op = r();
    if (op < 0.35) b[pos()] = Math.floor(r() * 256);
    else if (op < 0.45) b[pos()] ^= 1 << Math.floor(r() * 8);
    else if (op < 0.8) {
      const p = pos() & ~3;
      if (p + 4 <= b.length) v.setUint32(p, INTERESTING[Math.floor(r() * INTERESTING.length)]!, true);
    } else if (op < 0.9) {
      const p = pos() & ~7;
      if (p + 8 <= b.length)
        v.setBigUint64(p, r() < 0.5 ? 0xffffffffffffffffn : BigInt(Math.floor(r() * 2 ** 40)), true);
    } else {
      return b.subarray(0, Math.floor(r() * b.length));
    }
  }
  return b;
}

function expected(e: unknown): boolean {
  return e instanceof ElfError || e instanceof BtfError;
}

/** Everything the loader and attach code do with parsed output. */
function exerciseBtf(btf: Btf, r: () => number): void {
  btf.findByName('task_struct', 'struct');
  btf.findByName('event');
  for (let i = 0; i < 12; i++) {
    const id = btf.startId + Math.floor(r() * btf.types.length);
    const ty = btf.type(id);
    // Functions, prototypes, forward declarations and tags have no size: asking would only measure throw cost.
    const sized = ty.kind !== 7 && ty.kind !== 12 && ty.kind !== 13 && ty.kind !== 17;
    const ops = sized
      ? [() => btf.resolve(id), () => btf.sizeOf(id), () => btf.alignOf(id), () => btf.describe(id)]
      : [() => btf.describe(id)];
    for (const f of ops) {
      try {
        f();
      } catch (e) {
        if (!(e instanceof BtfError)) throw e;
      }
    }
    if ((ty.kind === 4 || ty.kind === 5) && r() < 0.3) {
      try {
        btf.findMember(id, ty.members[0]?.name || 'x');
        const l = btfLayout(btf, id);
        if (l.size <= 65536) l.fromBytes(new Uint8Array(l.size));
      } catch (e) {
        if (!(e instanceof BtfError)) throw e;
      }
    }
  }
  try {
    parseBtfMaps(btf);
  } catch (e) {
    if (!(e instanceof BtfError)) throw e;
  }
  if (r() < 0.25) Btf.parse(btf.encode(), { base: btf.base }); // what parses must encode to what parses
}

function exerciseElf(bytes: Uint8Array, r: () => number): void {
  const elf = Elf.parse(bytes);
  elf.symbols();
  elf.relocationSections();
  try {
    findFunctionSymbol(elf, r() < 0.5 ? 'handle_exec' : 'bump');
  } catch (e) {
    if (!(e instanceof ElfError)) throw e;
  }
  const btfSec = elf.section('.BTF');
  // Most ELF mutations miss .BTF; the BTF cases below cover it, so parse it only sometimes here.
  if (!btfSec || r() < 0.6) return;
  const btf = Btf.parse(btfSec.data);
  const ext = elf.section('.BTF.ext');
  if (ext) BtfExt.parse(ext.data, btf);
  exerciseBtf(btf, r);
}

/** CPU milliseconds this process has used (user + system). */
function cpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

test(`ELF/BTF/BTF.ext parsers survive ${CASES} mutated inputs with only ElfError/BtfError`, () => {
  // Debug info is irrelevant to the parsers and only slows each case: strip it (keeps .BTF/.BTF.ext).
  const elfs = ['elfbtf_maps', 'elfbtf_legacy'].map((n) => {
    const out = join(scratchDir(), `${n}.nodebug.o`);
    execFileSync('llvm-objcopy', ['--strip-debug', fixtureObject(n), out]);
    return new Uint8Array(readFileSync(out));
  });
  const parsed = elfs.map((b) => Elf.parse(b));
  const btfs = parsed.map((e) => e.section('.BTF')!.data.slice());
  const exts = parsed.map((e) => e.section('.BTF.ext')!.data.slice());
  const btfObjs = btfs.map((b) => Btf.parse(b));
  for (const e of parsed)
    assert.ok(e.section('.BTF') && e.section('.BTF.ext'), 'stripped objects keep .BTF and .BTF.ext');

  const counts = { ok: 0, elfError: 0, btfError: 0 };
  // Most cases end in an expected error; short stacks make those cheap (an unexpected one still shows its top frames).
  const stackLimit = Error.stackTraceLimit;
  Error.stackTraceLimit = 6;
  const start = performance.now();
  // A hang is CPU spent on one case, not wall time: on a host with more runnable threads than CPUs
  // (a stress run next to other jobs) one case waited 1,027 ms for a CPU. process.cpuUsage() is the
  // process's CPU (Node 20 has no per-thread clock), which only GC helper threads add to.
  let slowest = 0;
  try {
    for (let i = 0; i < CASES; i++) {
      const r = rng(i * 2654435761);
      // Mix: ELF objects 30%, raw .BTF 45% (the small legacy blob more often: it is cheap), .BTF.ext 25%.
      const pick = r();
      const which = pick < 0.15 ? 0 : pick < 0.3 ? 1 : pick < 0.5 ? 2 : pick < 0.75 ? 3 : 4;
      const t0 = cpuMs();
      try {
        if (which <= 1) {
          const base = elfs[which]!;
          exerciseElf(mutate(base, r, r() < 0.3 ? 64 : base.length), r);
        } else if (which <= 3) {
          const base = btfs[which - 2]!;
          // Mutations concentrate on the header and type section (the string table is mostly opaque).
          exerciseBtf(Btf.parse(mutate(base, r, r() < 0.3 ? 24 : base.length)), r);
        } else {
          const k = r() < 0.5 ? 0 : 1;
          const ext = BtfExt.parse(mutate(exts[k]!, r, 64), btfObjs[k]!);
          for (const s of ext.coreRelos) for (const c of s.records) btfObjs[k]!.resolve(c.typeId);
        }
        counts.ok++;
      } catch (e) {
        if (!expected(e)) {
          assert.fail(
            `case ${i} (input ${which}) threw ${(e as Error)?.constructor?.name}: ${(e as Error)?.stack ?? e}`,
          );
        }
        if (e instanceof ElfError) counts.elfError++;
        else counts.btfError++;
      }
      const dt = cpuMs() - t0;
      if (dt > slowest) slowest = dt;
    }
  } finally {
    Error.stackTraceLimit = stackLimit;
  }
  const total = performance.now() - start;
  console.log(`fuzz: ${CASES} cases in ${(total / 1000).toFixed(1)} s, slowest ${slowest.toFixed(1)} ms CPU:`, counts);
  assert.ok(counts.ok > CASES / 10, 'a good share of mutants still parse (the mutator is not trivially rejected)');
  assert.ok(counts.elfError > CASES / 100 && counts.btfError > CASES / 100, 'both error types are exercised');
  assert.ok(slowest < 1000, `no case near a hang (slowest ${slowest.toFixed(1)} ms of CPU)`);
});

test('crafted fan-out BTF (nested anonymous unions, prototype chains) cannot hang lookups', () => {
  const N = 2000;
  const strs = new TextEncoder().encode('\0int\0x\0bomb\0');
  const words: number[] = [];
  const hdr = (name: number, kind: number, vlen: number, sizeOrType: number) =>
    words.push(name, (kind << 24) | vlen, sizeOrType);
  hdr(1, 1, 0, 4);
  words.push(32); // [1] int
  hdr(0, 4, 1, 4);
  words.push(5, 1, 0); // [2] struct { int x; }
  for (const [id, name] of [
    [3, 0],
    [4, 0],
    [5, 9],
  ] as const) {
    hdr(name, 5, N, 4); // [3..5] unions of N anonymous members of the previous level
    for (let i = 0; i < N; i++) words.push(0, id - 1, 0);
  }
  for (const next of [7, 8, 1]) {
    hdr(0, 13, N, 1);
    for (let i = 0; i < N; i++) words.push(0, next);
  } // [6..8] prototypes
  const types = new Uint8Array(Uint32Array.from(words).buffer);
  const blob = new Uint8Array(24 + types.length + strs.length);
  const v = new DataView(blob.buffer);
  v.setUint16(0, 0xeb9f, true);
  blob[2] = 1;
  v.setUint32(4, 24, true);
  v.setUint32(12, types.length, true);
  v.setUint32(16, types.length, true);
  v.setUint32(20, strs.length, true);
  blob.set(types, 24);
  blob.set(strs, 24 + types.length);
  const t0 = cpuMs();
  const btf = Btf.parse(blob);
  assert.equal(btf.alignOf(5), 4);
  assert.equal(btf.sizeOf(5), 4);
  assert.throws(() => btf.findMember(5, 'nope'), BtfError);
  assert.throws(() => btfLayout(btf, 'bomb'), BtfError);
  assert.ok(btf.describe(6).length < 1000, 'describe stays bounded');
  const ms = cpuMs() - t0;
  assert.ok(ms < 2000, `bounded work (${ms.toFixed(0)} ms of CPU)`);
});
