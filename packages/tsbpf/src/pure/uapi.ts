/**
 * Kernel ABI numbers: the generated enums from Debian's uapi header, plus what kernels newer than
 * that header (6.1) added, which this 6.18 kernel has. Names are lower-case without prefixes.
 */
import {
  ATTACH_TYPE as GEN_ATTACH,
  BPF_CMD as GEN_CMD,
  LINK_TYPE as GEN_LINK,
  MAP_TYPE as GEN_MAP,
  PROG_TYPE as GEN_PROG,
} from './uapi-enums.js';

/** bpf(2) commands. */
export const BPF_CMD = { ...GEN_CMD, token_create: 36 } as const;
/** Map types by name. */
export const MAP_TYPE = { ...GEN_MAP, cgrp_storage: 32, arena: 33 } as const;
/** Program types by name. */
export const PROG_TYPE = { ...GEN_PROG, netfilter: 32 } as const;
/** Attach types by name (cgroup_inet_ingress, tcx_ingress, trace_fentry, ...). */
export const ATTACH_TYPE = {
  ...GEN_ATTACH,
  struct_ops: 44,
  netfilter: 45,
  tcx_ingress: 46,
  tcx_egress: 47,
  trace_uprobe_multi: 48,
  cgroup_unix_connect: 49,
  cgroup_unix_sendmsg: 50,
  cgroup_unix_recvmsg: 51,
  cgroup_unix_getpeername: 52,
  cgroup_unix_getsockname: 53,
  netkit_primary: 54,
  netkit_peer: 55,
  trace_kprobe_session: 56,
  trace_uprobe_session: 57,
} as const;
/** Link types by name. */
export const LINK_TYPE = { ...GEN_LINK, netfilter: 10, tcx: 11, uprobe_multi: 12, netkit: 13, sockmap: 14 } as const;

export type MapTypeName = keyof typeof MAP_TYPE;
export type ProgTypeName = keyof typeof PROG_TYPE;
export type AttachTypeName = keyof typeof ATTACH_TYPE;
export type LinkTypeName = keyof typeof LINK_TYPE;

/** Reverse lookup: number → name, for messages and info(). */
export function nameOf<T extends Record<string, number>>(table: T, value: number): string {
  for (const k in table) if (table[k] === value) return k;
  return `unknown(${value})`;
}

/** Map creation flags (BPF_F_*). */
export const MAP_FLAG = {
  no_prealloc: 1 << 0,
  no_common_lru: 1 << 1,
  numa_node: 1 << 2,
  rdonly: 1 << 3,
  wronly: 1 << 4,
  stack_build_id: 1 << 5,
  zero_seed: 1 << 6,
  rdonly_prog: 1 << 7,
  wronly_prog: 1 << 8,
  clone: 1 << 9,
  mmapable: 1 << 10,
  preserve_elems: 1 << 11,
  inner_map: 1 << 12,
  link: 1 << 13,
  path_fd: 1 << 14,
  vtype_btf_obj_fd: 1 << 15,
  token_fd: 1 << 16,
  segv_on_fault: 1 << 17,
  no_user_conv: 1 << 18,
} as const;

/** Element update flags. */
export const UPDATE_FLAG = { any: 0, noexist: 1, exist: 2, lock: 4 } as const;
export type UpdateFlag = keyof typeof UPDATE_FLAG;

/** BPF_PROG_LOAD prog_flags. */
export const PROG_FLAG = {
  strict_alignment: 1,
  any_alignment: 2,
  test_rnd_hi32: 4,
  test_state_freq: 8,
  sleepable: 16,
  xdp_has_frags: 32,
} as const;

/** BPF_PROG_TEST_RUN flags. */
export const TEST_RUN_FLAG = { run_on_cpu: 1, xdp_live_frames: 2 } as const;

/** XDP actions. */
export const XDP = { aborted: 0, drop: 1, pass: 2, tx: 3, redirect: 4 } as const;

/** XDP attach flags for links and netlink. */
export const XDP_FLAG = { update_if_noexist: 1, skb_mode: 2, drv_mode: 4, hw_mode: 8, replace: 16 } as const;

/** bpf_ringbuf_* flags. */
export const RINGBUF_FLAG = { no_wakeup: 1, force_wakeup: 2 } as const;
/** bpf_ringbuf_query flags. */
export const RINGBUF_QUERY = { avail_data: 0, ring_size: 1, cons_pos: 2, prod_pos: 3 } as const;
/** Ring buffer record header bits (in the 32-bit length word). */
export const RINGBUF_HDR = { busy: 1 << 31, discard: 1 << 30, size: 8 } as const;

/** bpf_stats_type for BPF_ENABLE_STATS. */
export const STATS_TYPE = { run_time: 0 } as const;

/** BPF_F_CURRENT_CPU for bpf_perf_event_output. */
export const F_CURRENT_CPU = 0xffffffff;
