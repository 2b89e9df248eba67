/**
 * cgroup v2 attachments as BPF links (BPF_LINK_CREATE on a cgroup directory fd): cgroup_skb
 * ingress/egress, sock_create, sock_addr hooks, sysctl, sockopt, device... Paths may be absolute,
 * or relative to the cgroup2 mount found in /proc/mounts.
 */
import { closeSync, existsSync, openSync, readFileSync, statSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import { ATTACH_TYPE, type AttachTypeName } from '../pure/uapi.js';
import { BpfError, NotSupportedError } from './errors.js';
import { AttachError, Link, linkCreate, requireProgramType } from './link.js';
import type { Program } from './program.js';
import { argError, OwnedFd } from './syscall.js';

/** The cgroup2 mount point (e.g. /sys/fs/cgroup or /sys/fs/cgroup/unified), from /proc/mounts. */
export function cgroup2Root(): string {
  for (const line of readFileSync('/proc/mounts', 'utf8').split('\n')) {
    const f = line.split(' ');
    if (f[2] === 'cgroup2' && f[1]) return f[1].replace(/\\040/g, ' ');
  }
  throw new NotSupportedError(
    'cgroup v2',
    'no cgroup2 filesystem is mounted (see /proc/mounts); mount one with `mount -t cgroup2 none /sys/fs/cgroup`',
  );
}

/** Absolute path of a cgroup: absolute paths as given, relative ones under the cgroup2 mount. */
export function cgroupPath(path: string): string {
  if (typeof path !== 'string' || path === '') throw argError('cgroup path must be a non-empty string');
  return isAbsolute(path) ? path : join(cgroup2Root(), path);
}

const EBADF = 9;

/** Which program types each cgroup attach type takes. */
const CGROUP_PROG: Partial<Record<AttachTypeName, string>> = {
  cgroup_inet_ingress: 'cgroup_skb',
  cgroup_inet_egress: 'cgroup_skb',
  cgroup_inet_sock_create: 'cgroup_sock',
  cgroup_inet_sock_release: 'cgroup_sock',
  cgroup_inet4_post_bind: 'cgroup_sock',
  cgroup_inet6_post_bind: 'cgroup_sock',
  cgroup_inet4_bind: 'cgroup_sock_addr',
  cgroup_inet6_bind: 'cgroup_sock_addr',
  cgroup_inet4_connect: 'cgroup_sock_addr',
  cgroup_inet6_connect: 'cgroup_sock_addr',
  cgroup_udp4_sendmsg: 'cgroup_sock_addr',
  cgroup_udp6_sendmsg: 'cgroup_sock_addr',
  cgroup_udp4_recvmsg: 'cgroup_sock_addr',
  cgroup_udp6_recvmsg: 'cgroup_sock_addr',
  cgroup_inet4_getpeername: 'cgroup_sock_addr',
  cgroup_inet6_getpeername: 'cgroup_sock_addr',
  cgroup_inet4_getsockname: 'cgroup_sock_addr',
  cgroup_inet6_getsockname: 'cgroup_sock_addr',
  cgroup_unix_connect: 'cgroup_sock_addr',
  cgroup_unix_sendmsg: 'cgroup_sock_addr',
  cgroup_unix_recvmsg: 'cgroup_sock_addr',
  cgroup_unix_getpeername: 'cgroup_sock_addr',
  cgroup_unix_getsockname: 'cgroup_sock_addr',
  cgroup_sock_ops: 'sock_ops',
  cgroup_device: 'cgroup_device',
  cgroup_sysctl: 'cgroup_sysctl',
  cgroup_getsockopt: 'cgroup_sockopt',
  cgroup_setsockopt: 'cgroup_sockopt',
};

/** Short names accepted for attachCgroup's attach type. */
export type CgroupAttachAlias =
  | 'ingress'
  | 'egress'
  | 'sock_create'
  | 'sock_release'
  | 'connect4'
  | 'connect6'
  | 'bind4'
  | 'bind6'
  | 'sendmsg4'
  | 'sendmsg6'
  | 'recvmsg4'
  | 'recvmsg6'
  | 'post_bind4'
  | 'post_bind6'
  | 'sock_ops'
  | 'device'
  | 'sysctl'
  | 'getsockopt'
  | 'setsockopt';

const ALIASES: Record<CgroupAttachAlias, AttachTypeName> = {
  ingress: 'cgroup_inet_ingress',
  egress: 'cgroup_inet_egress',
  sock_create: 'cgroup_inet_sock_create',
  sock_release: 'cgroup_inet_sock_release',
  connect4: 'cgroup_inet4_connect',
  connect6: 'cgroup_inet6_connect',
  bind4: 'cgroup_inet4_bind',
  bind6: 'cgroup_inet6_bind',
  sendmsg4: 'cgroup_udp4_sendmsg',
  sendmsg6: 'cgroup_udp6_sendmsg',
  recvmsg4: 'cgroup_udp4_recvmsg',
  recvmsg6: 'cgroup_udp6_recvmsg',
  post_bind4: 'cgroup_inet4_post_bind',
  post_bind6: 'cgroup_inet6_post_bind',
  sock_ops: 'cgroup_sock_ops',
  device: 'cgroup_device',
  sysctl: 'cgroup_sysctl',
  getsockopt: 'cgroup_getsockopt',
  setsockopt: 'cgroup_setsockopt',
};

/** A cgroup attach type: full name (`cgroup_inet_egress`) or short (`egress`, `sock_create`, `connect4`). */
export type CgroupAttachType = AttachTypeName | CgroupAttachAlias;

/** Attaches a cgroup program (cgroup_skb, cgroup_sock, cgroup_sock_addr, ...) to a cgroup v2 through a link. */
export function attachCgroup(program: Program, path: string, attachType: CgroupAttachType): Link {
  const full = (ALIASES[attachType as CgroupAttachAlias] ?? attachType) as AttachTypeName;
  const wantType = CGROUP_PROG[full];
  if (!wantType)
    throw argError(
      `"${String(attachType)}" is not a cgroup attach type (known: ${[...Object.keys(ALIASES), ...Object.keys(CGROUP_PROG)].join(', ')})`,
    );
  requireProgramType(program, [wantType], `cgroup ${full}`);
  if (program.expectedAttachType !== undefined && program.expectedAttachType !== full && wantType !== 'cgroup_skb') {
    throw new TypeError(
      `tsbpf: program "${program.name}" was loaded with expectedAttachType ${program.expectedAttachType} but is being attached as ${full}`,
    );
  }
  const dir = cgroupPath(path);
  const what = `cgroup ${dir} (${full})`;
  if (!existsSync(dir) || !statSync(dir).isDirectory())
    throw new AttachError(
      'ENOENT',
      `cgroup ${dir}`,
      `no such cgroup directory${isAbsolute(path) ? '' : ` (relative paths are under ${cgroup2Root()})`}`,
    );
  // The link holds the cgroup; the directory fd is only needed for the call.
  const cgfd = openSync(dir, 'r');
  try {
    let fd: number;
    try {
      fd = linkCreate(program.fd, cgfd, ATTACH_TYPE[full], 0, what);
    } catch (e) {
      // EBADF: the directory fd is not a cgroup2 directory.
      if (e instanceof BpfError && e.errno === EBADF) {
        throw new BpfError(e.errno, {
          syscall: 'bpf',
          command: 'BPF_LINK_CREATE',
          object: what,
          hint: `${dir} is not a cgroup v2 directory (cgroup v1 hierarchies cannot take BPF programs); the cgroup2 mount is ${safeRoot()}`,
        });
      }
      throw e;
    }
    return Link.create([{ link: new OwnedFd(fd, what) }], what);
  } finally {
    closeSync(cgfd);
  }
}

function safeRoot(): string {
  try {
    return cgroup2Root();
  } catch {
    return '(none)';
  }
}
