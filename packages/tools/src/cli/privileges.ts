/**
 * Capability checks before any syscall, so a command run without privileges says exactly what is
 * missing instead of failing later with EPERM.
 */
import { readFileSync } from 'node:fs';

/** Capability numbers (linux/capability.h) the commands need. */
export const CAP = { CAP_NET_ADMIN: 12, CAP_SYS_ADMIN: 21, CAP_PERFMON: 38, CAP_BPF: 39 } as const;
export type CapName = keyof typeof CAP;

/** What a command needs: BPF plus `extra` (tracing: CAP_PERFMON; networking: CAP_NET_ADMIN). */
export type Need = 'tracing' | 'networking' | 'probe';

const REQUIRED: Record<Need, { all: CapName[]; sysAdminCovers: CapName[]; why: string }> = {
  tracing: {
    all: ['CAP_BPF', 'CAP_PERFMON'],
    sysAdminCovers: ['CAP_BPF', 'CAP_PERFMON'],
    why: 'loading tracing programs needs CAP_BPF and CAP_PERFMON (or CAP_SYS_ADMIN)',
  },
  networking: {
    all: ['CAP_BPF', 'CAP_NET_ADMIN'],
    sysAdminCovers: ['CAP_BPF'],
    why: 'attaching XDP needs CAP_BPF (or CAP_SYS_ADMIN) and CAP_NET_ADMIN',
  },
  probe: {
    all: ['CAP_BPF', 'CAP_PERFMON', 'CAP_NET_ADMIN'],
    sysAdminCovers: ['CAP_BPF', 'CAP_PERFMON'],
    why: 'probing every program type needs CAP_BPF, CAP_PERFMON and CAP_NET_ADMIN (or CAP_SYS_ADMIN and CAP_NET_ADMIN)',
  },
};

/** The effective capability set of this process (from /proc/self/status). */
export function effectiveCaps(): bigint {
  const status = readFileSync('/proc/self/status', 'utf8');
  const m = /^CapEff:\s*([0-9a-f]+)$/m.exec(status);
  return m ? BigInt(`0x${m[1]}`) : 0n;
}

/** The capabilities `need` requires that this process lacks (empty when it may proceed). */
export function missingCaps(need: Need, caps = effectiveCaps()): CapName[] {
  const has = (c: CapName) => !!((caps >> BigInt(CAP[c])) & 1n);
  const sysAdmin = has('CAP_SYS_ADMIN');
  const req = REQUIRED[need];
  return req.all.filter((c) => !has(c) && !(sysAdmin && req.sysAdminCovers.includes(c)));
}

/** A one-line explanation of what is missing, or undefined when nothing is. */
export function privilegeProblem(command: string, need: Need, caps = effectiveCaps()): string | undefined {
  const missing = missingCaps(need, caps);
  if (missing.length === 0) return undefined;
  const setcap = missing.map((c) => c.toLowerCase()).join(',');
  return `${command}: missing ${missing.join(', ')}: ${REQUIRED[need].why}. Run as root (sudo), or grant them to node: sudo setcap ${setcap}+ep ${process.execPath}`;
}

/** Exit status for "not permitted" (sysexits EX_NOPERM). */
export const EXIT_NOPERM = 77;
