/**
 * Program type, expected attach type and attach target from an ELF section name, following libbpf's SEC()
 * conventions (`section_defs[]` in libbpf.c): `tp/sched/sched_process_exec`, `raw_tp/sys_enter`, `fentry/fn`,
 * `uprobe/path:func+off`, `xdp`, `tcx/ingress`, `cgroup_skb/egress`, ... Pure: no kernel, no filesystem.
 *
 * Matching is libbpf's: a definition ending in `+` matches the bare name or `name/extras`; one ending in `/` needs
 * extras; others match exactly. Legacy names accepted by libbpf < 1.0 (`socket1`, `xdp_prog`, `classifier/foo`,
 * `kprobe/...` without the now-required form) are matched as prefixes after the strict pass fails.
 */
import { TsbpfError } from './errors.js';
import type { AttachTypeName, ProgTypeName } from './uapi.js';

/** What an auto-attach needs, parsed from the section name. */
export type AttachTarget =
  | { kind: 'tracepoint'; category: string; name: string }
  | { kind: 'raw_tracepoint'; name: string; writable: boolean }
  | {
      kind: 'tracing';
      tracing: 'fentry' | 'fexit' | 'fmod_ret' | 'tp_btf' | 'lsm' | 'iter' | 'freplace';
      target: string;
    }
  | { kind: 'kprobe'; function: string; offset: number; retprobe: boolean }
  | { kind: 'ksyscall'; syscall: string; retprobe: boolean }
  | { kind: 'uprobe'; binary: string; symbol?: string; offset: number; retprobe: boolean }
  /** `usdt/<binary>:<provider>:<name>` (the binary path may itself contain ':'). */
  | { kind: 'usdt'; binary: string; provider: string; name: string }
  | { kind: 'perf_event' }
  | { kind: 'xdp' }
  | { kind: 'tc' }
  | { kind: 'tcx'; direction: 'ingress' | 'egress' }
  | { kind: 'cgroup'; attachType: AttachTypeName }
  | { kind: 'none' }
  /**
   * The section names an auto-attach target libbpf cannot parse (`uretprobe/readline`: no binary). libbpf opens
   * and loads such a program and fails only at auto-attach; so does tsbpf: `reason` is the attach error.
   */
  | { kind: 'invalid'; reason: string };

/** The interpretation of one section name. */
export interface SectionInfo {
  /** The section name as given. */
  section: string;
  /** The matched libbpf definition (e.g. `tp+`, `xdp.frags`, `cgroup_skb/ingress`). */
  definition: string;
  programType: ProgTypeName;
  expectedAttachType: AttachTypeName | undefined;
  /** BPF_F_SLEEPABLE programs (`fentry.s/`, `uprobe.s/`, `lsm.s/`, `syscall`). */
  sleepable: boolean;
  /** BPF_F_XDP_HAS_FRAGS programs (`xdp.frags`). */
  xdpFrags: boolean;
  /** What auto-attach does; `{ kind: 'none' }` when the section names no target (it needs one at attach time). */
  target: AttachTarget;
  /** True when matched only through a legacy (pre-libbpf-1.0) prefix. */
  legacy: boolean;
}

/** Thrown for a section name no convention covers, or a recognised one with a malformed target. */
export class SectionNameError extends TsbpfError {
  override readonly name = 'SectionNameError';
  readonly code = 'ERR_SECTION_NAME';
}

interface Def {
  sec: string;
  type: ProgTypeName;
  attach?: AttachTypeName;
  sleepable?: boolean;
  frags?: boolean;
  parse?: (extras: string, section: string) => AttachTarget;
}

const tp = (extras: string, section: string): AttachTarget => {
  if (!extras) return { kind: 'none' };
  const i = extras.indexOf('/');
  if (i <= 0 || i === extras.length - 1)
    throw new SectionNameError(`section '${section}': expected tp/<category>/<name>`);
  return { kind: 'tracepoint', category: extras.slice(0, i), name: extras.slice(i + 1) };
};
const rawTp =
  (writable: boolean) =>
  (extras: string): AttachTarget =>
    extras ? { kind: 'raw_tracepoint', name: extras, writable } : { kind: 'none' };
const tracing =
  (tracingKind: Extract<AttachTarget, { kind: 'tracing' }>['tracing']) =>
  (extras: string): AttachTarget =>
    extras ? { kind: 'tracing', tracing: tracingKind, target: extras } : { kind: 'none' };
const kprobe =
  (retprobe: boolean) =>
  (extras: string, section: string): AttachTarget => {
    if (!extras) return { kind: 'none' };
    const m = /^([A-Za-z_.][A-Za-z0-9_.]*)(?:\+(0x[0-9a-fA-F]+|\d+))?$/.exec(extras);
    if (!m) throw new SectionNameError(`section '${section}': expected kprobe/<function>[+<offset>]`);
    return { kind: 'kprobe', function: m[1]!, offset: m[2] ? Number(m[2]) : 0, retprobe };
  };
const ksyscall =
  (retprobe: boolean) =>
  (extras: string): AttachTarget =>
    extras ? { kind: 'ksyscall', syscall: extras, retprobe } : { kind: 'none' };
const uprobe =
  (retprobe: boolean) =>
  (extras: string, section: string): AttachTarget => {
    if (!extras) return { kind: 'none' };
    // libbpf (attach_uprobe): "uprobe/<binary>:<func>[+<off>]", the binary ending at the first ':'; tsbpf also takes
    // "uprobe/<binary>:<offset>".
    const colon = extras.indexOf(':');
    if (colon <= 0)
      throw new SectionNameError(
        `section '${section}' names no function: expected ${section.slice(0, section.indexOf('/'))}/<binary>:<function>[+<offset>] (or attach it with an explicit binary and function)`,
      );
    const binary = extras.slice(0, colon);
    const rest = extras.slice(colon + 1);
    if (/^(0x[0-9a-fA-F]+|\d+)$/.test(rest)) return { kind: 'uprobe', binary, offset: Number(rest), retprobe };
    const m = /^([^+]+)(?:\+(0x[0-9a-fA-F]+|\d+))?$/.exec(rest);
    if (!m) throw new SectionNameError(`section '${section}': bad uprobe target '${rest}'`);
    return { kind: 'uprobe', binary, symbol: m[1]!, offset: m[2] ? Number(m[2]) : 0, retprobe };
  };
const none = (): AttachTarget => ({ kind: 'none' });
/** `usdt/<path>:<provider>:<name>`: split on the last two ':' (paths may contain ':'). */
const usdt = (extras: string): AttachTarget => {
  const m = /^(.+):([^:]+):([^:]+)$/.exec(extras);
  return m ? { kind: 'usdt', binary: m[1]!, provider: m[2]!, name: m[3]! } : { kind: 'none' };
};
const cg = (attachType: AttachTypeName) => (): AttachTarget => ({ kind: 'cgroup', attachType });

// Order matters: first match wins, as in libbpf (longer names before their prefixes).
const DEFS: Def[] = [
  { sec: 'socket', type: 'socket_filter' },
  { sec: 'sk_reuseport/migrate', type: 'sk_reuseport', attach: 'sk_reuseport_select_or_migrate' },
  { sec: 'sk_reuseport', type: 'sk_reuseport', attach: 'sk_reuseport_select' },
  { sec: 'kprobe.multi+', type: 'kprobe', attach: 'trace_kprobe_multi' },
  { sec: 'kretprobe.multi+', type: 'kprobe', attach: 'trace_kprobe_multi' },
  { sec: 'uprobe.multi+', type: 'kprobe', attach: 'trace_uprobe_multi' },
  { sec: 'uretprobe.multi+', type: 'kprobe', attach: 'trace_uprobe_multi' },
  { sec: 'kprobe.session+', type: 'kprobe', attach: 'trace_kprobe_session' },
  { sec: 'uprobe.session+', type: 'kprobe', attach: 'trace_uprobe_session' },
  { sec: 'uprobe.multi.s+', type: 'kprobe', attach: 'trace_uprobe_multi', sleepable: true },
  { sec: 'uretprobe.multi.s+', type: 'kprobe', attach: 'trace_uprobe_multi', sleepable: true },
  { sec: 'uprobe.session.s+', type: 'kprobe', attach: 'trace_uprobe_session', sleepable: true },
  { sec: 'kprobe+', type: 'kprobe', parse: kprobe(false) },
  { sec: 'uprobe+', type: 'kprobe', parse: uprobe(false) },
  { sec: 'uprobe.s+', type: 'kprobe', sleepable: true, parse: uprobe(false) },
  { sec: 'kretprobe+', type: 'kprobe', parse: kprobe(true) },
  { sec: 'uretprobe+', type: 'kprobe', parse: uprobe(true) },
  { sec: 'uretprobe.s+', type: 'kprobe', sleepable: true, parse: uprobe(true) },
  { sec: 'ksyscall+', type: 'kprobe', parse: ksyscall(false) },
  { sec: 'kretsyscall+', type: 'kprobe', parse: ksyscall(true) },
  { sec: 'usdt+', type: 'kprobe', parse: usdt },
  { sec: 'usdt.s+', type: 'kprobe', sleepable: true, parse: usdt },
  { sec: 'tc/ingress', type: 'sched_cls', attach: 'tcx_ingress', parse: () => ({ kind: 'tcx', direction: 'ingress' }) },
  { sec: 'tc/egress', type: 'sched_cls', attach: 'tcx_egress', parse: () => ({ kind: 'tcx', direction: 'egress' }) },
  {
    sec: 'tcx/ingress',
    type: 'sched_cls',
    attach: 'tcx_ingress',
    parse: () => ({ kind: 'tcx', direction: 'ingress' }),
  },
  { sec: 'tcx/egress', type: 'sched_cls', attach: 'tcx_egress', parse: () => ({ kind: 'tcx', direction: 'egress' }) },
  { sec: 'tc', type: 'sched_cls', parse: () => ({ kind: 'tc' }) },
  { sec: 'classifier', type: 'sched_cls', parse: () => ({ kind: 'tc' }) },
  { sec: 'action', type: 'sched_act' },
  { sec: 'netkit/primary', type: 'sched_cls', attach: 'netkit_primary' },
  { sec: 'netkit/peer', type: 'sched_cls', attach: 'netkit_peer' },
  { sec: 'tracepoint+', type: 'tracepoint', parse: tp },
  { sec: 'tp+', type: 'tracepoint', parse: tp },
  { sec: 'tracepoint.s+', type: 'tracepoint', sleepable: true, parse: tp },
  { sec: 'tp.s+', type: 'tracepoint', sleepable: true, parse: tp },
  { sec: 'raw_tracepoint+', type: 'raw_tracepoint', parse: rawTp(false) },
  { sec: 'raw_tp+', type: 'raw_tracepoint', parse: rawTp(false) },
  { sec: 'raw_tracepoint.s+', type: 'raw_tracepoint', sleepable: true, parse: rawTp(false) },
  { sec: 'raw_tp.s+', type: 'raw_tracepoint', sleepable: true, parse: rawTp(false) },
  { sec: 'raw_tracepoint.w+', type: 'raw_tracepoint_writable', parse: rawTp(true) },
  { sec: 'raw_tp.w+', type: 'raw_tracepoint_writable', parse: rawTp(true) },
  { sec: 'tp_btf+', type: 'tracing', attach: 'trace_raw_tp', parse: tracing('tp_btf') },
  { sec: 'tp_btf.s+', type: 'tracing', attach: 'trace_raw_tp', sleepable: true, parse: tracing('tp_btf') },
  { sec: 'fentry+', type: 'tracing', attach: 'trace_fentry', parse: tracing('fentry') },
  { sec: 'fmod_ret+', type: 'tracing', attach: 'modify_return', parse: tracing('fmod_ret') },
  { sec: 'fexit+', type: 'tracing', attach: 'trace_fexit', parse: tracing('fexit') },
  { sec: 'fentry.s+', type: 'tracing', attach: 'trace_fentry', sleepable: true, parse: tracing('fentry') },
  { sec: 'fmod_ret.s+', type: 'tracing', attach: 'modify_return', sleepable: true, parse: tracing('fmod_ret') },
  { sec: 'fexit.s+', type: 'tracing', attach: 'trace_fexit', sleepable: true, parse: tracing('fexit') },
  { sec: 'freplace+', type: 'ext', parse: tracing('freplace') },
  { sec: 'lsm+', type: 'lsm', attach: 'lsm_mac', parse: tracing('lsm') },
  { sec: 'lsm.s+', type: 'lsm', attach: 'lsm_mac', sleepable: true, parse: tracing('lsm') },
  { sec: 'lsm_cgroup+', type: 'lsm', attach: 'lsm_cgroup' },
  { sec: 'iter+', type: 'tracing', attach: 'trace_iter', parse: tracing('iter') },
  { sec: 'iter.s+', type: 'tracing', attach: 'trace_iter', sleepable: true, parse: tracing('iter') },
  { sec: 'syscall', type: 'syscall', sleepable: true },
  { sec: 'xdp.frags/devmap', type: 'xdp', attach: 'xdp_devmap', frags: true },
  { sec: 'xdp/devmap', type: 'xdp', attach: 'xdp_devmap' },
  { sec: 'xdp.frags/cpumap', type: 'xdp', attach: 'xdp_cpumap', frags: true },
  { sec: 'xdp/cpumap', type: 'xdp', attach: 'xdp_cpumap' },
  { sec: 'xdp.frags', type: 'xdp', attach: 'xdp', frags: true, parse: () => ({ kind: 'xdp' }) },
  { sec: 'xdp', type: 'xdp', attach: 'xdp', parse: () => ({ kind: 'xdp' }) },
  { sec: 'perf_event', type: 'perf_event', parse: () => ({ kind: 'perf_event' }) },
  { sec: 'lwt_in', type: 'lwt_in' },
  { sec: 'lwt_out', type: 'lwt_out' },
  { sec: 'lwt_xmit', type: 'lwt_xmit' },
  { sec: 'lwt_seg6local', type: 'lwt_seg6local' },
  { sec: 'sockops', type: 'sock_ops', attach: 'cgroup_sock_ops', parse: cg('cgroup_sock_ops') },
  { sec: 'sk_skb/stream_parser', type: 'sk_skb', attach: 'sk_skb_stream_parser' },
  { sec: 'sk_skb/stream_verdict', type: 'sk_skb', attach: 'sk_skb_stream_verdict' },
  { sec: 'sk_skb/verdict', type: 'sk_skb', attach: 'sk_skb_verdict' },
  { sec: 'sk_skb', type: 'sk_skb' },
  { sec: 'sk_msg', type: 'sk_msg', attach: 'sk_msg_verdict' },
  { sec: 'lirc_mode2', type: 'lirc_mode2', attach: 'lirc_mode2' },
  { sec: 'flow_dissector', type: 'flow_dissector', attach: 'flow_dissector' },
  { sec: 'cgroup_skb/ingress', type: 'cgroup_skb', attach: 'cgroup_inet_ingress', parse: cg('cgroup_inet_ingress') },
  { sec: 'cgroup_skb/egress', type: 'cgroup_skb', attach: 'cgroup_inet_egress', parse: cg('cgroup_inet_egress') },
  { sec: 'cgroup/skb', type: 'cgroup_skb' },
  {
    sec: 'cgroup/sock_create',
    type: 'cgroup_sock',
    attach: 'cgroup_inet_sock_create',
    parse: cg('cgroup_inet_sock_create'),
  },
  {
    sec: 'cgroup/sock_release',
    type: 'cgroup_sock',
    attach: 'cgroup_inet_sock_release',
    parse: cg('cgroup_inet_sock_release'),
  },
  { sec: 'cgroup/sock', type: 'cgroup_sock', attach: 'cgroup_inet_sock_create', parse: cg('cgroup_inet_sock_create') },
  {
    sec: 'cgroup/post_bind4',
    type: 'cgroup_sock',
    attach: 'cgroup_inet4_post_bind',
    parse: cg('cgroup_inet4_post_bind'),
  },
  {
    sec: 'cgroup/post_bind6',
    type: 'cgroup_sock',
    attach: 'cgroup_inet6_post_bind',
    parse: cg('cgroup_inet6_post_bind'),
  },
  { sec: 'cgroup/bind4', type: 'cgroup_sock_addr', attach: 'cgroup_inet4_bind', parse: cg('cgroup_inet4_bind') },
  { sec: 'cgroup/bind6', type: 'cgroup_sock_addr', attach: 'cgroup_inet6_bind', parse: cg('cgroup_inet6_bind') },
  {
    sec: 'cgroup/connect4',
    type: 'cgroup_sock_addr',
    attach: 'cgroup_inet4_connect',
    parse: cg('cgroup_inet4_connect'),
  },
  {
    sec: 'cgroup/connect6',
    type: 'cgroup_sock_addr',
    attach: 'cgroup_inet6_connect',
    parse: cg('cgroup_inet6_connect'),
  },
  {
    sec: 'cgroup/connect_unix',
    type: 'cgroup_sock_addr',
    attach: 'cgroup_unix_connect',
    parse: cg('cgroup_unix_connect'),
  },
  { sec: 'cgroup/sendmsg4', type: 'cgroup_sock_addr', attach: 'cgroup_udp4_sendmsg', parse: cg('cgroup_udp4_sendmsg') },
  { sec: 'cgroup/sendmsg6', type: 'cgroup_sock_addr', attach: 'cgroup_udp6_sendmsg', parse: cg('cgroup_udp6_sendmsg') },
  {
    sec: 'cgroup/sendmsg_unix',
    type: 'cgroup_sock_addr',
    attach: 'cgroup_unix_sendmsg',
    parse: cg('cgroup_unix_sendmsg'),
  },
  { sec: 'cgroup/recvmsg4', type: 'cgroup_sock_addr', attach: 'cgroup_udp4_recvmsg', parse: cg('cgroup_udp4_recvmsg') },
  { sec: 'cgroup/recvmsg6', type: 'cgroup_sock_addr', attach: 'cgroup_udp6_recvmsg', parse: cg('cgroup_udp6_recvmsg') },
  {
    sec: 'cgroup/recvmsg_unix',
    type: 'cgroup_sock_addr',
    attach: 'cgroup_unix_recvmsg',
    parse: cg('cgroup_unix_recvmsg'),
  },
  {
    sec: 'cgroup/getpeername4',
    type: 'cgroup_sock_addr',
    attach: 'cgroup_inet4_getpeername',
    parse: cg('cgroup_inet4_getpeername'),
  },
  {
    sec: 'cgroup/getpeername6',
    type: 'cgroup_sock_addr',
    attach: 'cgroup_inet6_getpeername',
    parse: cg('cgroup_inet6_getpeername'),
  },
  {
    sec: 'cgroup/getpeername_unix',
    type: 'cgroup_sock_addr',
    attach: 'cgroup_unix_getpeername',
    parse: cg('cgroup_unix_getpeername'),
  },
  {
    sec: 'cgroup/getsockname4',
    type: 'cgroup_sock_addr',
    attach: 'cgroup_inet4_getsockname',
    parse: cg('cgroup_inet4_getsockname'),
  },
  {
    sec: 'cgroup/getsockname6',
    type: 'cgroup_sock_addr',
    attach: 'cgroup_inet6_getsockname',
    parse: cg('cgroup_inet6_getsockname'),
  },
  {
    sec: 'cgroup/getsockname_unix',
    type: 'cgroup_sock_addr',
    attach: 'cgroup_unix_getsockname',
    parse: cg('cgroup_unix_getsockname'),
  },
  { sec: 'cgroup/sysctl', type: 'cgroup_sysctl', attach: 'cgroup_sysctl', parse: cg('cgroup_sysctl') },
  { sec: 'cgroup/getsockopt', type: 'cgroup_sockopt', attach: 'cgroup_getsockopt', parse: cg('cgroup_getsockopt') },
  { sec: 'cgroup/setsockopt', type: 'cgroup_sockopt', attach: 'cgroup_setsockopt', parse: cg('cgroup_setsockopt') },
  { sec: 'cgroup/dev', type: 'cgroup_device', attach: 'cgroup_device', parse: cg('cgroup_device') },
  { sec: 'struct_ops+', type: 'struct_ops' },
  { sec: 'struct_ops.s+', type: 'struct_ops', sleepable: true },
  { sec: 'sk_lookup', type: 'sk_lookup', attach: 'sk_lookup' },
  { sec: 'netfilter', type: 'netfilter', attach: 'netfilter' },
];

// libbpf < 1.0 (SEC_SLOPPY_PFX) names: any section starting with one of these. Checked only after the strict
// pass, so `xdp_prog`, `socket1`, `classifier/ingress`, `cgroup_skb/ingress_foo` still load.
const LEGACY_PREFIX: readonly string[] = [
  'socket',
  'xdp',
  'perf_event',
  'classifier',
  'action',
  'lwt_in',
  'lwt_out',
  'lwt_xmit',
  'lwt_seg6local',
  'sockops',
  'sk_skb',
  'sk_msg',
  'flow_dissector',
  'cgroup_skb/ingress',
  'cgroup_skb/egress',
  'cgroup/skb',
  'cgroup/sock',
  'cgroup/dev',
  'cgroup/sysctl',
  'tc',
];

function matches(def: string, section: string): boolean {
  if (def.endsWith('/')) return section.startsWith(def);
  if (def.endsWith('+')) {
    const base = def.slice(0, -1);
    if (!section.startsWith(base)) return false;
    return section.length === base.length || section[base.length] === '/';
  }
  return section === def;
}

function build(def: Def, section: string, legacy: boolean): SectionInfo {
  const base = def.sec.endsWith('+') ? def.sec.slice(0, -1) : def.sec;
  const extras = !legacy && section.length > base.length + 1 ? section.slice(base.length + 1) : '';
  let target: AttachTarget;
  try {
    target = def.parse ? def.parse(extras, section) : none();
  } catch (e) {
    if (!(e instanceof SectionNameError)) throw e;
    target = { kind: 'invalid', reason: e.message };
  }
  return {
    section,
    definition: def.sec,
    programType: def.type,
    expectedAttachType: def.attach,
    sleepable: def.sleepable === true,
    xdpFrags: def.frags === true,
    target,
    legacy,
  };
}

/**
 * Interpret a program section name as libbpf does. Throws SectionNameError for unknown names. A known name with a
 * target auto-attach cannot use (`tp/sched` without an event, `uretprobe/readline` without a binary) parses, with
 * target `{ kind: 'invalid', reason }`: the program loads, and auto-attach fails with `reason`, as in libbpf.
 */
export function parseSectionName(section: string): SectionInfo {
  if (typeof section !== 'string' || section === '') throw new SectionNameError('empty section name');
  for (const def of DEFS) if (matches(def.sec, section)) return build(def, section, false);
  for (const pfx of LEGACY_PREFIX) {
    if (!section.startsWith(pfx)) continue;
    const def = DEFS.find((d) => d.sec === pfx || d.sec === `${pfx}+`);
    if (def) return build(def, section, true);
  }
  throw new SectionNameError(
    `unknown program section '${section}': not a libbpf SEC() name (e.g. tp/<category>/<event>, raw_tp/<event>, xdp, tc, kprobe/<fn>, uprobe/<binary>:<fn>)`,
  );
}

/** Like {@link parseSectionName} but returns undefined instead of throwing for unknown names. */
export function trySectionName(section: string): SectionInfo | undefined {
  try {
    return parseSectionName(section);
  } catch {
    return undefined;
  }
}
