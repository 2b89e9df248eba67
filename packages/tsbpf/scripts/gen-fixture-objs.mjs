#!/usr/bin/env node
// Regenerates the checked-in fixture objects test/fixtures/obj/<name>.bpf.o from test/fixtures/c/<name>.bpf.c,
// so unit tests parse real clang output without clang or root: `npm run gen:fixtures -w tsbpf`.
// Same flags as test/fixtures/clang.ts (-O2 -g -target bpf against a vmlinux.h from this machine's
// /sys/kernel/btf/vmlinux). Paths are made relative (-fdebug-prefix-map) so the objects do not embed
// this checkout's location. Commit the results together with any change to the C sources.
import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const pkg = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const src = join(pkg, 'test/fixtures/c');
const out = join(pkg, 'test/fixtures/obj');
const gen = join(pkg, 'build/fixtures');
mkdirSync(out, { recursive: true });
mkdirSync(gen, { recursive: true });
const vmlinux = join(gen, 'vmlinux.h');
// Written aside and renamed: kernel tests may be compiling against it at the same time.
writeFileSync(
  `${vmlinux}.${process.pid}`,
  execFileSync('bpftool', ['btf', 'dump', 'file', '/sys/kernel/btf/vmlinux', 'format', 'c'], { maxBuffer: 256 << 20 }),
);
renameSync(`${vmlinux}.${process.pid}`, vmlinux);
const names = readdirSync(src)
  .filter((f) => f.endsWith('.bpf.c'))
  .map((f) => f.slice(0, -'.bpf.c'.length))
  .sort();
for (const name of names) {
  execFileSync(
    'clang',
    [
      '-O2',
      '-g',
      '-target',
      'bpf',
      '-D__TARGET_ARCH_x86',
      '-I',
      gen,
      '-I',
      src,
      '-I',
      '/usr/include/x86_64-linux-gnu',
      '-I',
      join(pkg, 'include'),
      `-fdebug-prefix-map=${src}=.`,
      `-fdebug-prefix-map=${gen}=.`,
      `-fdebug-prefix-map=${pkg}=.`,
      '-c',
      `${name}.bpf.c`,
      '-o',
      join(out, `${name}.bpf.o`),
    ],
    { cwd: src, stdio: ['ignore', 'inherit', 'inherit'] },
  );
  console.log(`test/fixtures/obj/${name}.bpf.o`);
}
