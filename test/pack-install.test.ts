// The packages as a user gets them: `npm pack` both workspaces (prepack builds dist/ and the prebuilt
// addons), install the tarballs into a fresh project offline, once with npm's defaults and once with
// --ignore-scripts, then from
// plain ESM JavaScript (no TypeScript, no tsx): a map, an XDP program assembled with tsbpf's assembler,
// a test run and the map read back; `tsbpf/asm` in a process where the addon cannot load; and the tools'
// CLI through `npx tsbpf probe --json`. The kernel part needs root.
//
// Offline: the third-party dependencies (node-gyp-build; commander, chart.js for the tools) come from
// the npm cache the repository's own `npm ci` filled. That cache holds their tarballs but not their
// registry metadata (`npm ci` follows the lockfile), so a bare `npm install --offline <tarballs>` cannot
// resolve version ranges; the fresh project gets a lockfile pinning them to the versions the
// repository's package-lock.json resolved (the tarballs themselves are installed from file: specs).
import { after, before, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, type ExecFileSyncOptions } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join, relative, resolve } from 'node:path';

const root = resolve(import.meta.dirname ?? new URL('.', import.meta.url).pathname, '..');
const isRoot = process.getuid?.() === 0;
const NPM = 'npm';
const QUIET = ['--no-audit', '--no-fund', '--loglevel=error'];

let work: string;
let tarballs: string[];

function run(cmd: string, args: string[], opts: ExecFileSyncOptions = {}): string {
  try {
    return execFileSync(cmd, args, { encoding: 'utf8', stdio: 'pipe', timeout: 120_000, ...opts }) as string;
  } catch (e) {
    const err = e as { stdout?: string; stderr?: string; message: string };
    throw new Error(`${cmd} ${args.join(' ')} failed: ${err.message}\n${err.stdout ?? ''}\n${err.stderr ?? ''}`);
  }
}

interface LockEntry {
  version: string;
  resolved?: string;
  integrity?: string;
  dependencies?: Record<string, string>;
  [k: string]: unknown;
}

/**
 * package.json and package-lock.json for a fresh project depending on the packed tarballs, with every
 * third-party dependency pinned to the repository lockfile's version, tarball URL and integrity.
 */
function writeProject(dir: string, name: string): void {
  const rootLock = JSON.parse(readFileSync(join(root, 'package-lock.json'), 'utf8')) as {
    packages: Record<string, LockEntry>;
  };
  const workspaces: Record<string, string> = { tsbpf: 'packages/tsbpf', 'tsbpf-tools': 'packages/tools' };
  const dependencies: Record<string, string> = {};
  const packages: Record<string, unknown> = {};
  const pending: string[] = [];
  for (const tarball of tarballs) {
    const pkgName = /^tsbpf-tools-\d/.test(basename(tarball)) ? 'tsbpf-tools' : 'tsbpf';
    const spec = `file:${relative(dir, tarball)}`;
    dependencies[pkgName] = spec;
    const { devDependencies: _dev, name: _name, ...entry } = rootLock.packages[workspaces[pkgName]!]!;
    packages[`node_modules/${pkgName}`] = { ...entry, resolved: spec };
    pending.push(...Object.keys(entry.dependencies ?? {}));
  }
  while (pending.length) {
    const dep = pending.pop()!;
    if (dep in workspaces || packages[`node_modules/${dep}`]) continue;
    const entry = rootLock.packages[`node_modules/${dep}`];
    assert.ok(entry, `package-lock.json has node_modules/${dep}`);
    const resolved =
      entry.resolved ?? `https://registry.npmjs.org/${dep}/-/${dep.split('/').pop()}-${entry.version}.tgz`;
    packages[`node_modules/${dep}`] = { ...entry, resolved };
    pending.push(...Object.keys(entry.dependencies ?? {}));
  }
  const manifest = { name, version: '1.0.0', private: true, type: 'module', dependencies };
  writeFileSync(join(dir, 'package.json'), JSON.stringify(manifest, null, 2));
  const lock = {
    name,
    version: '1.0.0',
    lockfileVersion: 3,
    requires: true,
    packages: { '': { name, version: '1.0.0', dependencies }, ...packages },
  };
  writeFileSync(join(dir, 'package-lock.json'), JSON.stringify(lock, null, 2));
}

/** A program that stores 4242 in slot 0 of `map` (an array of u64) and passes the packet. */
const KERNEL_SCRIPT = `
import { asm, BpfMap, Program, R0, R1, R2, R10, t, XDP } from 'tsbpf';
const map = BpfMap.create({ type: 'array', key: t.u32, value: t.u64, maxEntries: 1 });
const prog = Program.load({
  type: 'xdp',
  instructions: [
    asm.storeMem('w', R10, -4, 0),
    asm.ldMapFd(R1, map),
    asm.movReg(R2, R10),
    asm.add(R2, -4),
    asm.call('map_lookup_elem'),
    asm.jmpImm('jeq', R0, 0, 'out'),
    asm.storeMem('dw', R0, 0, 4242),
    asm.label('out'),
    asm.mov(R0, XDP.pass),
    asm.exit(),
  ],
});
const run = prog.testRun({ data: new Uint8Array(64) });
console.log(JSON.stringify({ retval: run.retval, value: String(map.lookup(0)) }));
prog.close();
map.close();
`;

/** tsbpf/asm where no addon can load; every dlopen is recorded. */
const PURE_SCRIPT = `
const opened = [];
const dlopen = process.dlopen;
process.dlopen = function (module, file, ...rest) { opened.push(file); return dlopen.call(this, module, file, ...rest); };
const { asm, assemble, R0, XDP } = await import('tsbpf/asm');
const bytes = assemble([asm.mov(R0, XDP.drop), asm.exit()]);
let kernelError;
try {
  const { BpfMap } = await import('tsbpf');
  BpfMap.create({ type: 'array', keySize: 4, valueSize: 4, maxEntries: 1 });
} catch (e) { kernelError = { name: e.name, code: e.code, message: e.message }; }
console.log(JSON.stringify({ length: bytes.length, first: bytes[0], opened, kernelError }));
`;

before(() => {
  work = mkdtempSync(join(tmpdir(), 'tsbpf-pack-install-'));
  const packs = join(work, 'packs');
  mkdirSync(packs);
  const out = run(NPM, ['pack', '-w', 'tsbpf', '-w', 'tsbpf-tools', '--pack-destination', packs, '--json', ...QUIET], {
    cwd: root,
    timeout: 240_000,
  });
  // prepack's build output precedes the JSON on stdout.
  const list = JSON.parse(out.slice(out.indexOf('\n[') + 1)) as { filename: string; files: { path: string }[] }[];
  tarballs = list.map((p) => join(packs, p.filename));
  const lib = list.find((p) => p.filename.startsWith('tsbpf-0') || /^tsbpf-\d/.test(p.filename));
  assert.ok(lib, `packed: ${list.map((p) => p.filename).join(', ')}`);
  const files = lib.files.map((f) => f.path);
  for (const want of [
    'dist/index.js',
    'dist/index.d.ts',
    'dist/entry/asm.js',
    'binding.gyp',
    'native/tsbpf_native.c',
  ]) {
    assert.ok(files.includes(want), `the tsbpf tarball has ${want}`);
  }
  for (const arch of ['x64', 'arm64']) {
    assert.ok(
      files.some((f) => f.startsWith(`prebuilds/linux-${arch}/`) && f.endsWith('.node')),
      `the tsbpf tarball has a linux-${arch} prebuild`,
    );
  }
  assert.ok(
    !files.some((f) => /^(src|test|build|scripts)\//.test(f)),
    'no sources, tests, scripts or local builds shipped',
  );
});

after(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

for (const mode of ['defaults', 'ignore-scripts'] as const) {
  test(`pack and install offline (${mode}): the library, the pure entry and the CLI work from plain JavaScript`, {
    timeout: 180_000,
  }, (t: TestContext) => {
    const project = join(work, mode);
    mkdirSync(project);
    writeProject(project, `tsbpf-install-${mode}`);
    const scripts = mode === 'ignore-scripts' ? ['--ignore-scripts'] : [];
    run(NPM, ['install', '--offline', ...QUIET, ...scripts], { cwd: project });

    const lib = join(project, 'node_modules', 'tsbpf');
    // A matching prebuild means nothing was compiled, with or without install scripts.
    assert.ok(!existsSync(join(lib, 'build')), 'no node-gyp build at install time');
    assert.ok(readdirSync(join(lib, 'prebuilds')).includes(`linux-${process.arch}`));

    // The pure half, where the addon cannot load: assembles, loads nothing native; the kernel call
    // fails with the platform named.
    writeFileSync(join(project, 'pure.mjs'), PURE_SCRIPT);
    const pure = JSON.parse(
      run(process.execPath, ['pure.mjs'], {
        cwd: project,
        env: { ...process.env, TSBPF_NATIVE_PATH: join(project, 'no-such-addon.node') },
      }).trim(),
    );
    assert.equal(pure.length, 16);
    assert.equal(pure.first, 0xb7, 'mov r0, imm');
    assert.deepEqual(pure.opened, []);
    assert.equal(pure.kernelError?.name, 'NotSupportedError');
    assert.ok(pure.kernelError.message.includes(`${process.platform}-${process.arch}`), pure.kernelError.message);

    if (!isRoot) {
      t.skip('the kernel half needs root (BPF maps and programs)');
      return;
    }
    writeFileSync(join(project, 'kernel.mjs'), KERNEL_SCRIPT);
    const kernel = JSON.parse(run(process.execPath, ['kernel.mjs'], { cwd: project }).trim());
    assert.deepEqual(kernel, { retval: 2, value: '4242' });

    const probe = JSON.parse(run('npx', ['--offline', 'tsbpf', 'probe', '--json'], { cwd: project }));
    assert.equal(typeof probe.kernel?.release, 'string');
    assert.equal(probe.mapTypes?.array?.supported, true, 'array maps probe as supported');
    assert.equal(probe.programTypes?.xdp?.supported, true, 'XDP programs probe as supported');
  });
}
