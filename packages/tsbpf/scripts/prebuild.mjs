#!/usr/bin/env node
// Builds the prebuilt N-API addons the published package ships: prebuilds/linux-x64 and
// prebuilds/linux-arm64, named the way node-gyp-build (the runtime loader and install script) matches
// them. N-API (NAPI_VERSION in binding.gyp) makes one binary per architecture serve every Node major
// from 20 on. The host architecture builds natively; the other is cross-compiled with Debian's
// gcc-<triple> (scripts/install-deps.sh installs gcc-aarch64-linux-gnu). prebuildify drives node-gyp
// in a staging copy, so the in-repository build/Release addon other processes load is left alone.
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const pkg = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);
const prebuildify = require.resolve('prebuildify/bin.js');

/** Each target: node arch name and the GNU triple of its cross toolchain. */
const TARGETS = [
  { arch: 'x64', triple: 'x86_64-linux-gnu' },
  { arch: 'arm64', triple: 'aarch64-linux-gnu' },
];
const only = process.argv.slice(2);

/** npm runs scripts with npm_config_node_gyp set; outside npm, use the node-gyp npm bundles. */
function nodeGyp() {
  const fromNpm = process.env.npm_config_node_gyp;
  if (fromNpm && existsSync(fromNpm)) return fromNpm;
  const bundled = join(
    dirname(process.execPath),
    '..',
    'lib',
    'node_modules',
    'npm',
    'node_modules',
    'node-gyp',
    'bin',
    'node-gyp.js',
  );
  if (existsSync(bundled)) return bundled;
  return 'node-gyp';
}

/**
 * Node's headers: npm's configured nodedir when run through npm, else the running Node's own install
 * prefix when it ships them (include/node), so the build works offline instead of downloading them.
 */
function nodeDirEnv() {
  if (process.env.npm_config_nodedir) return {};
  const prefix = resolve(dirname(process.execPath), '..');
  return existsSync(join(prefix, 'include', 'node', 'node_api.h')) ? { npm_config_nodedir: prefix } : {};
}

function hasCommand(cmd) {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
}

if (process.platform !== 'linux') {
  console.error(`tsbpf prebuild: prebuilds are built on Linux (this is ${process.platform})`);
  process.exit(1);
}
for (const { arch, triple } of TARGETS) {
  if (only.length && !only.includes(arch)) continue;
  const cross = arch !== process.arch;
  const env = { ...process.env, ...nodeDirEnv() };
  const args = [
    prebuildify,
    '--napi',
    '--strip',
    '--tag-uv',
    '--tag-libc',
    '--name',
    'tsbpf',
    '--target',
    process.versions.node,
    '--arch',
    arch,
    '--node-gyp',
    nodeGyp(),
  ];
  if (cross) {
    const cc = `${triple}-gcc`;
    if (!hasCommand(cc)) {
      console.error(
        `tsbpf prebuild: ${cc} not found: install the cross compiler (Debian: apt-get install gcc-${triple}; scripts/install-deps.sh does)`,
      );
      process.exit(1);
    }
    // gyp's make generator reads CC/CXX/LINK; the addon is C only, so gcc links it too.
    Object.assign(env, { CC: cc, CXX: `${triple}-g++`, LINK: cc });
    args.push('--strip-bin', `${triple}-strip`);
  }
  rmSync(join(pkg, 'prebuilds', `linux-${arch}`), { recursive: true, force: true });
  const stage = mkdtempSync(join(tmpdir(), `tsbpf-prebuild-${arch}-`));
  try {
    cpSync(join(pkg, 'binding.gyp'), join(stage, 'binding.gyp'));
    cpSync(join(pkg, 'native'), join(stage, 'native'), { recursive: true });
    args.push('--cwd', stage, '--out', pkg);
    const r = spawnSync(process.execPath, args, { env, stdio: 'inherit' });
    if (r.status !== 0) {
      console.error(`tsbpf prebuild: linux-${arch} failed`);
      process.exit(r.status ?? 1);
    }
    console.log(`tsbpf prebuild: linux-${arch} ok`);
  } finally {
    rmSync(stage, { recursive: true, force: true });
  }
}
