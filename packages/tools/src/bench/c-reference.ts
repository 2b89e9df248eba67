/**
 * Reference programs in C on Debian's libbpf-dev (bench/c/*.c), compiled on demand so every
 * benchmark can report a ratio against C measured in the same run, over the same data.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** Absolute path of a repo file. */
export function repoPath(...parts: string[]): string {
  return join(root, ...parts);
}

/**
 * Compiles bench/c/<name>.c with gcc -O2 -pthread (-lbpf -lelf -lz) into bench/out/bin/<name> when the
 * source is newer than the binary; returns the binary's path.
 */
export function buildCReference(name: string): string {
  const src = repoPath('bench', 'c', `${name}.c`);
  const out = repoPath('bench', 'out', 'bin', name);
  if (!existsSync(src)) throw new Error(`tsbpf bench: no C reference ${src}`);
  if (existsSync(out) && statSync(out).mtimeMs >= statSync(src).mtimeMs) return out;
  if (!existsSync('/usr/include/bpf/libbpf.h'))
    throw new Error('tsbpf bench: the C references need libbpf-dev (apt-get install libbpf-dev)');
  mkdirSync(dirname(out), { recursive: true });
  // -pthread: syscall_loop runs several generator threads.
  execFileSync('gcc', ['-O2', '-Wall', '-pthread', '-o', out, src, '-lbpf', '-lelf', '-lz'], { stdio: 'pipe' });
  return out;
}

/** The JSON object a C reference (or the generator) prints as its last line of output. */
export function lastJsonLine<T>(out: string): T {
  return JSON.parse(out.trim().split('\n').at(-1)!) as T;
}

/** Runs a C reference and parses the JSON it prints on stdout. */
export function runCReference<T = Record<string, unknown>>(
  name: string,
  args: string[],
  opts: { cpu?: number } = {},
): T {
  const bin = buildCReference(name);
  const cmd = opts.cpu !== undefined ? 'taskset' : bin;
  const argv = opts.cpu !== undefined ? ['-c', String(opts.cpu), bin, ...args] : args;
  const out = execFileSync(cmd, argv, { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  return lastJsonLine<T>(out);
}
