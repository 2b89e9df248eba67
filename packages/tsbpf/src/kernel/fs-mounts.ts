/**
 * The special filesystems tsbpf relies on: bpffs for pinning, tracefs for tracepoint ids.
 * Each is mounted on first use when absent (as root), as bpftool and libbpf users expect.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname } from 'node:path';

function mountsOfType(fstype: string): string[] {
  const out: string[] = [];
  for (const line of readFileSync('/proc/mounts', 'utf8').split('\n')) {
    const f = line.split(' ');
    if (f[2] === fstype && f[1]) out.push(f[1].replace(/\\040/g, ' '));
  }
  return out;
}

function mount(fstype: string, target: string): void {
  mkdirSync(target, { recursive: true });
  try {
    execFileSync('mount', ['-t', fstype, fstype === 'bpf' ? 'bpffs' : fstype, target], { stdio: 'pipe' });
  } catch (e) {
    const msg = (e as { stderr?: Buffer }).stderr?.toString().trim() || (e as Error).message;
    throw new Error(`tsbpf: cannot mount ${fstype} at ${target}: ${msg} (needs root)`);
  }
}

/** The bpffs mount point, mounting /sys/fs/bpf if no bpffs is mounted. */
export function ensureBpffs(): string {
  const m = mountsOfType('bpf');
  if (m.length) return m.includes('/sys/fs/bpf') ? '/sys/fs/bpf' : m[0]!;
  mount('bpf', '/sys/fs/bpf');
  return '/sys/fs/bpf';
}

/** Checks that `path` lies on a bpffs (mounting /sys/fs/bpf when needed) and its directory exists. */
export function preparePinPath(path: string): void {
  if (typeof path !== 'string' || !path.startsWith('/'))
    throw new TypeError(`tsbpf: pin path must be absolute, got ${String(path)}`);
  const root = ensureBpffs();
  const mounts = mountsOfType('bpf');
  if (!mounts.some((m) => path.startsWith(m.endsWith('/') ? m : `${m}/`))) {
    throw new TypeError(`tsbpf: pin path ${path} is not on a bpffs (mounted at ${mounts.join(', ') || root})`);
  }
  const dir = dirname(path);
  if (!existsSync(dir)) mkdirSync(dir, { recursive: true });
}

/** The tracefs mount point, mounting /sys/kernel/tracing if absent. */
export function ensureTracefs(): string {
  const m = mountsOfType('tracefs');
  if (m.length) return m.includes('/sys/kernel/tracing') ? '/sys/kernel/tracing' : m[0]!;
  const dbg = mountsOfType('debugfs');
  if (dbg.length && existsSync(`${dbg[0]}/tracing/events`)) return `${dbg[0]}/tracing`;
  mount('tracefs', '/sys/kernel/tracing');
  return '/sys/kernel/tracing';
}
