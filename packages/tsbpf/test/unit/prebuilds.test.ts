// The prebuilt addons the package ships (scripts/prebuild.mjs): one ELF shared object per architecture,
// for the right machine, exporting the N-API module entry and using nothing of Node but N-API and libuv
// (no C++ symbols: those would tie the binary to one Node ABI). Read with tsbpf's own ELF parser.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Elf, EM_AARCH64, EM_X86_64, ET_DYN, SHN_UNDEF, STB_GLOBAL, STT_FUNC } from '../../src/entry/elf.js';

const pkg = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const SOURCES = ['native/tsbpf_native.c', 'binding.gyp'].map((f) => join(pkg, f));
const TARGETS = [
  { arch: 'x64', machine: EM_X86_64 },
  { arch: 'arm64', machine: EM_AARCH64 },
] as const;
/** The symbol NAPI_MODULE defines: how Node finds an N-API addon's init function. */
const NAPI_ENTRY = 'napi_register_module_v1';

function prebuildOf(arch: string): string | undefined {
  const dir = join(pkg, 'prebuilds', `linux-${arch}`);
  const file = existsSync(dir) ? readdirSync(dir).find((f) => f.endsWith('.node')) : undefined;
  return file && join(dir, file);
}

function fresh(file: string | undefined): boolean {
  if (!file) return false;
  const built = statSync(file).mtimeMs;
  return SOURCES.every((src) => statSync(src).mtimeMs <= built);
}

test('prebuilds: one N-API ELF per architecture, for its machine', { timeout: 180_000 }, () => {
  if (!TARGETS.every(({ arch }) => fresh(prebuildOf(arch)))) {
    execFileSync(process.execPath, [join(pkg, 'scripts', 'prebuild.mjs')], {
      cwd: pkg,
      stdio: 'pipe',
      timeout: 170_000,
    });
  }
  for (const { arch, machine } of TARGETS) {
    const file = prebuildOf(arch);
    assert.ok(file, `prebuilds/linux-${arch} has no .node file`);
    // node-gyp-build's naming: <name>.<tags>.node, tagged with the libuv major and the C library.
    assert.match(file, /tsbpf\.uv1\.glibc\.node$/);
    const elf = Elf.parse(new Uint8Array(readFileSync(file)));
    assert.equal(elf.header.type, ET_DYN, `${arch}: a shared object`);
    assert.equal(elf.header.machine, machine, `${arch}: e_machine`);
    const dyn = elf.dynamicSymbols();
    const entry = dyn.find((s) => s.name === NAPI_ENTRY);
    assert.ok(entry, `${arch}: exports ${NAPI_ENTRY}`);
    assert.equal(entry.type, STT_FUNC);
    assert.equal(entry.bind, STB_GLOBAL);
    assert.notEqual(entry.shndx, SHN_UNDEF, `${arch}: ${NAPI_ENTRY} is defined, not imported`);
    const imported = dyn.filter((s) => s.shndx === SHN_UNDEF && s.name).map((s) => s.name);
    assert.ok(
      imported.some((n) => n.startsWith('napi_')),
      `${arch}: imports N-API functions`,
    );
    assert.deepEqual(
      imported.filter((n) => n.startsWith('_Z')),
      [],
      `${arch}: no C++ (V8/Node internal) symbols`,
    );
  }
});
