/**
 * Networking attach points as BPF links: XDP (BPF_LINK_CREATE with BPF_XDP on an interface,
 * generic/native/offload modes) and TCX ingress/egress (kernel 6.6+, the link-based successor of
 * cls_bpf). Interfaces are looked up in this process's network namespace.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { ATTACH_TYPE, XDP_FLAG } from '../pure/uapi.js';
import { BpfError, NotSupportedError } from './errors.js';
import { AttachError, Link, linkCreate, requireProgramType } from './link.js';
import type { Program } from './program.js';
import { argError, OwnedFd } from './syscall.js';

/** An interface by name (`eth0`) or index. */
export type Interface = string | number;

/** The ifindex of an interface in this network namespace; AttachError (ENODEV) when there is none. */
export function interfaceIndex(iface: Interface): number {
  if (typeof iface === 'number') {
    if (!Number.isInteger(iface) || iface <= 0)
      throw argError(`interface index must be a positive integer, got ${iface}`);
    // The kernel answers EINVAL for an unknown index; look first so the error says what happened.
    if (existsSync('/sys/class/net') && interfaceName(iface) === undefined) {
      throw new AttachError(
        'ENODEV',
        `ifindex ${iface}`,
        'no network interface with this index in this network namespace',
      );
    }
    return iface;
  }
  if (
    typeof iface !== 'string' ||
    iface === '' ||
    iface.length > 15 ||
    /[/\s:]/.test(iface) ||
    iface === '.' ||
    iface === '..'
  ) {
    throw argError(`interface name must be 1-15 characters without '/', ':' or spaces, got ${JSON.stringify(iface)}`);
  }
  const f = `/sys/class/net/${iface}/ifindex`;
  if (!existsSync(f)) {
    let known: string[] = [];
    try {
      known = readdirSync('/sys/class/net');
    } catch {
      /* no sysfs */
    }
    throw new AttachError(
      'ENODEV',
      `interface ${iface}`,
      `no network interface named "${iface}" in this network namespace${known.length ? ` (have: ${known.slice(0, 12).join(', ')})` : ''}`,
    );
  }
  return Number(readFileSync(f, 'utf8').trim());
}

/** The name of the interface with index `ifindex` in this network namespace, if any. */
export function interfaceName(ifindex: number): string | undefined {
  for (const name of readdirSync('/sys/class/net')) {
    try {
      if (Number(readFileSync(`/sys/class/net/${name}/ifindex`, 'utf8')) === ifindex) return name;
    } catch {
      /* raced away */
    }
  }
  return undefined;
}

function ifaceLabel(iface: Interface): string {
  return typeof iface === 'number' ? `ifindex ${iface}` : iface;
}

/** XDP attach modes: `skb` (generic, any driver), `native` (driver), `offload` (NIC). Default: native if the driver has it, else generic. */
export type XdpMode = 'skb' | 'generic' | 'native' | 'driver' | 'offload';

const MODE_FLAG: Record<XdpMode, number> = {
  skb: XDP_FLAG.skb_mode,
  generic: XDP_FLAG.skb_mode,
  native: XDP_FLAG.drv_mode,
  driver: XDP_FLAG.drv_mode,
  offload: XDP_FLAG.hw_mode,
};

const ENODEV = 19,
  EBUSY = 16,
  EEXIST = 17,
  EINVAL = 22,
  EOPNOTSUPP = 95;

/** A refusal that means the kernel or driver lacks the hook: the feature name and what to do. */
type Unsupported = (errno: number) => { feature: string; message: string } | undefined;

/** Attaches an `xdp` program to an interface through an XDP link. */
export function attachXdp(program: Program, iface: Interface, opts: { mode?: XdpMode } = {}): Link {
  requireProgramType(program, ['xdp'], `XDP on ${ifaceLabel(iface)}`);
  let flags = 0;
  if (opts.mode !== undefined) {
    flags = MODE_FLAG[opts.mode];
    if (flags === undefined)
      throw argError(`XDP mode must be one of ${Object.keys(MODE_FLAG).join(', ')}, got ${JSON.stringify(opts.mode)}`);
  }
  const ifindex = interfaceIndex(iface);
  const what = `XDP${opts.mode ? ` (${opts.mode})` : ''} on ${ifaceLabel(iface)}`;
  const fd = netLinkCreate(
    program,
    ifindex,
    ATTACH_TYPE.xdp,
    flags,
    what,
    iface,
    (errno) =>
      errno === EBUSY || errno === EEXIST
        ? 'another XDP program is already attached in this mode (see `ip link`); detach it first'
        : undefined,
    (errno) =>
      errno === EOPNOTSUPP
        ? {
            feature: `${opts.mode ?? 'native'} XDP`,
            message: `cannot attach ${what}: the driver has no ${opts.mode ?? 'native'} XDP support; try { mode: 'skb' }`,
          }
        : undefined,
  );
  return Link.create([{ link: new OwnedFd(fd, what) }], what);
}

/** Attaches a `sched_cls` program to an interface's TCX ingress or egress hook. */
export function attachTcx(program: Program, iface: Interface, direction: 'ingress' | 'egress'): Link {
  if (direction !== 'ingress' && direction !== 'egress')
    throw argError(`TCX direction must be 'ingress' or 'egress', got ${JSON.stringify(direction)}`);
  requireProgramType(program, ['sched_cls', 'sched_act'], `TCX ${direction} on ${ifaceLabel(iface)}`);
  const ifindex = interfaceIndex(iface);
  const what = `TCX ${direction} on ${ifaceLabel(iface)}`;
  const fd = netLinkCreate(
    program,
    ifindex,
    direction === 'ingress' ? ATTACH_TYPE.tcx_ingress : ATTACH_TYPE.tcx_egress,
    0,
    what,
    iface,
    () => undefined,
    (errno) =>
      errno === EINVAL
        ? {
            feature: 'TCX',
            message: `cannot attach ${what}: TCX links need kernel 6.6+; use a tc (clsact) filter on older kernels`,
          }
        : undefined,
  );
  return Link.create([{ link: new OwnedFd(fd, what) }], what);
}

function netLinkCreate(
  program: Program,
  ifindex: number,
  attachType: number,
  flags: number,
  what: string,
  iface: Interface,
  hint: (errno: number) => string | undefined,
  unsupported?: Unsupported,
): number {
  try {
    return linkCreate(program.fd, ifindex, attachType, flags, what);
  } catch (e) {
    if (e instanceof BpfError && e.errno === ENODEV)
      throw new AttachError(
        'ENODEV',
        `interface ${ifaceLabel(iface)}`,
        'no such network interface in this network namespace',
      );
    const missing = e instanceof BpfError ? unsupported?.(e.errno) : undefined;
    if (missing) throw new NotSupportedError(missing.feature, missing.message, { cause: e });
    if (e instanceof BpfError && !e.hint) {
      const h = hint(e.errno);
      if (h) throw new BpfError(e.errno, { syscall: 'bpf', command: 'BPF_LINK_CREATE', object: what, hint: h });
    }
    throw e;
  }
}
