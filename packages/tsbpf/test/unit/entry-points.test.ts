// The package's entry points as a user imports them (package.json "exports" → dist/), each in a fresh
// process where the native addon cannot load (TSBPF_NATIVE_PATH points nowhere) and every dlopen is
// recorded: the pure subpaths work and never load a native module; `tsbpf` itself imports fine and only
// the first kernel call fails, with a NotSupportedError naming the platform and what to do.
// Needs the compiled library (`npm run build`), as a user's install does.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const pkg = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const exportsMap = JSON.parse(readFileSync(join(pkg, 'package.json'), 'utf8')).exports as Record<string, unknown>;

/** Each pure subpath and a small use of it (`m` is the imported module). */
const PURE: Record<string, string> = {
  './asm': `const bytes = m.assemble([m.asm.mov(m.R0, m.XDP.pass), m.asm.exit()]); return bytes.length === 16 && m.parseAsm('r0 = 0\\nexit').length === 2;`,
  './insn': `return m.LD_IMM64 === 0x18 && m.decodeInsns(m.encodeInsns([{ code: 0x95, dst: 0, src: 0, off: 0, imm: 0 }]))[0].code === 0x95;`,
  './layout': `const s = m.t.struct({ a: m.t.u32, b: m.t.u16 }); return s.size === 8 && m.t.u32.size === 4;`,
  './disasm': `return m.disassemble(new Uint8Array([0x95, 0, 0, 0, 0, 0, 0, 0])).join('').includes('exit');`,
  './elf': `const { readFileSync } = await import('node:fs'); const e = m.Elf.parse(new Uint8Array(readFileSync(process.execPath))); return e.header.machine === (process.arch === 'arm64' ? m.EM_AARCH64 : m.EM_X86_64);`,
  './btf': `return typeof m.Btf.parse === 'function' && m.BTF_KIND.struct === 4 && typeof m.BtfBuilder === 'function';`,
  './core': `return typeof m.resolveCoreRelo === 'function' && typeof m.applyCoreRelo === 'function';`,
  './object-spec': `return typeof m.ObjectSpec.parse === 'function' && m.parseSectionName('xdp').programType === 'xdp';`,
  './usdt': `return typeof m.parseUsdtNotes === 'function' && m.parseUsdtArgs('-4@%eax', 'x86_64').length === 1;`,
};

interface ChildResult {
  ok: boolean;
  opened: string[];
  error?: { name: string; code: string; message: string };
}

/** Runs `body` (async, `m` = the imported specifier) in a child without a loadable addon. */
function inChild(specifier: string, body: string): ChildResult {
  const script = `
    const opened = [];
    const dlopen = process.dlopen;
    process.dlopen = function (module, file, ...rest) { opened.push(file); return dlopen.call(this, module, file, ...rest); };
    const m = await import(${JSON.stringify(specifier)});
    let ok = false, error;
    try { ok = await (async () => { ${body} })(); } catch (e) { error = { name: e.name, code: e.code, message: e.message }; }
    console.log(JSON.stringify({ ok, opened, error }));
  `;
  const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], {
    cwd: pkg,
    env: { ...process.env, TSBPF_NATIVE_PATH: '/nonexistent/tsbpf_native.node' },
    encoding: 'utf8',
    timeout: 30_000,
  });
  return JSON.parse(out.trim().split('\n').at(-1)!) as ChildResult;
}

test('entry points: the compiled library is built', () => {
  assert.ok(existsSync(join(pkg, 'dist', 'index.js')), 'dist/ missing: run `npm run build` first');
});

test('entry points: every pure subpath is exported, works and never loads a native module', () => {
  for (const subpath of Object.keys(PURE)) assert.ok(subpath in exportsMap, `package.json exports ${subpath}`);
  for (const [subpath, body] of Object.entries(PURE)) {
    const r = inChild(`tsbpf${subpath.slice(1)}`, body);
    assert.equal(r.error, undefined, `${subpath}: ${r.error?.message}`);
    assert.equal(r.ok, true, `${subpath}: works`);
    assert.deepEqual(r.opened, [], `${subpath}: loaded no native module`);
  }
});

test('entry points: tsbpf imports without the addon; the first kernel call names the platform', () => {
  const r = inChild(
    'tsbpf',
    `
    if (typeof m.assemble([m.asm.exit()]) !== 'object') return false;
    m.BpfMap.create({ type: 'array', keySize: 4, valueSize: 8, maxEntries: 1 });
    return 'created';`,
  );
  assert.deepEqual(r.opened, []);
  assert.ok(r.error, 'the kernel call failed');
  assert.equal(r.error.name, 'NotSupportedError');
  assert.equal(r.error.code, 'ERR_NOT_SUPPORTED');
  assert.ok(r.error.message.includes(`${process.platform}-${process.arch}`), r.error.message);
  assert.match(r.error.message, /\/nonexistent\/tsbpf_native\.node/, 'names the path tried');
  assert.match(r.error.message, /npm rebuild tsbpf/, 'says what to do');
});
