/**
 * perf_event_open and the step every perf-based attachment shares: put a program on a perf event,
 * as a BPF link (BPF_LINK_CREATE, BPF_PERF_EVENT, kernel 5.15+) or, where that is refused, the
 * legacy PERF_EVENT_IOC_SET_BPF; then enable the event.
 */
import { ATTACH_TYPE, BPF_CMD } from '../pure/uapi.js';
import { BpfError } from './errors.js';
import { type LinkPart, PERF_IOC } from './link.js';
import { native } from './native.js';
import type { Program } from './program.js';
import { Attr, bpfRaw, OwnedFd } from './syscall.js';

/** perf_event_attr.type values. */
export const PERF_TYPE = { hardware: 0, software: 1, tracepoint: 2, hw_cache: 3, raw: 4, breakpoint: 5 } as const;

/** perf_event_attr flag bits (the bitfield word at offset 40). */
export const PERF_ATTR_FLAG = {
  disabled: 1 << 0,
  inherit: 1 << 1,
  exclude_user: 1 << 4,
  exclude_kernel: 1 << 5,
  exclude_hv: 1 << 6,
  exclude_idle: 1 << 7,
  freq: 1 << 10,
} as const;

const PERF_FLAG_FD_CLOEXEC = 8;
const ATTR_SIZE = 128; // PERF_ATTR_SIZE_VER7

/** The fields of perf_event_attr tsbpf sets. */
export interface PerfEventAttr {
  type: number;
  config?: bigint | number;
  /** sample_period, or sample_freq when `freq` is set. */
  sample?: number;
  /** Flags from PERF_ATTR_FLAG. */
  flags?: number;
  wakeupEvents?: number;
  /** config1 (kprobe_func / uprobe_path pointer). */
  config1?: number;
  /** config2 (probe offset). */
  config2?: number;
}

/** perf_event_open(2) → an owned fd, or a BpfError naming the event. */
export function perfEventOpen(
  attr: PerfEventAttr,
  pid: number,
  cpu: number,
  what: string,
  hint?: string,
  keepAlive?: unknown,
): OwnedFd {
  const a = new Attr(ATTR_SIZE).u32(0, attr.type).u32(4, ATTR_SIZE);
  a.u64n(8, BigInt(attr.config ?? 0))
    .u64(16, attr.sample ?? 0)
    .u64(40, attr.flags ?? 0)
    .u32(48, attr.wakeupEvents ?? 0)
    .u64(56, attr.config1 ?? 0)
    .u64(64, attr.config2 ?? 0);
  const fd = native.perfEventOpen(a.bytes, pid, cpu, -1, PERF_FLAG_FD_CLOEXEC);
  void keepAlive; // buffers behind config1 must live until here
  if (fd < 0) throw new BpfError(-fd, { syscall: 'perf_event_open', object: what, hint: hint ?? perfHint(-fd) });
  return new OwnedFd(fd, what);
}

function perfHint(errno: number): string | undefined {
  if (errno === 2 || errno === 19) return 'the kernel has no such event (PMU or config unsupported on this machine)';
  if (errno === 13 || errno === 1) return 'needs root or CAP_PERFMON (and kernel.perf_event_paranoid permitting)';
  return undefined;
}

const EINVAL = 22,
  EOPNOTSUPP = 95,
  ENOTSUPP = 524,
  EBADF = 9;

/**
 * Attaches `program` to an open perf event; takes ownership of `perf`. Prefers a BPF link and
 * falls back to PERF_EVENT_IOC_SET_BPF on kernels without perf links.
 */
export function attachToPerfEvent(program: Program, perf: OwnedFd, what: string, cookie = 0n): LinkPart {
  try {
    const a = new Attr(64).u32(0, program.fd).u32(4, perf.fd).u32(8, ATTACH_TYPE.perf_event).u64n(16, cookie);
    const r = bpfRaw(BPF_CMD.link_create, a.bytes);
    let part: LinkPart;
    if (r >= 0) {
      part = { link: new OwnedFd(r, what), perf };
    } else if (r === -EINVAL || r === -EOPNOTSUPP || r === -ENOTSUPP || r === -EBADF) {
      // Older kernels: no perf_event link type.
      const s = native.ioctl(perf.fd, PERF_IOC.setBpf, program.fd);
      if (s < 0)
        throw new BpfError(-s, {
          syscall: 'ioctl',
          command: 'PERF_EVENT_IOC_SET_BPF',
          object: what,
          hint: `a ${program.type} program cannot attach here (link create said ${-r})`,
        });
      part = { perf };
    } else {
      throw new BpfError(-r, { syscall: 'bpf', command: 'BPF_LINK_CREATE', object: what });
    }
    const e = native.ioctl(perf.fd, PERF_IOC.enable, 0);
    if (e < 0) {
      part.link?.close();
      throw new BpfError(-e, { syscall: 'ioctl', command: 'PERF_EVENT_IOC_ENABLE', object: what });
    }
    return part;
  } catch (err) {
    perf.close();
    throw err;
  }
}
