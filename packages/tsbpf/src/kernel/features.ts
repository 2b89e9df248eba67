/**
 * Feature probes (`tsbpf probe` prints them): what this kernel's BPF supports, found the way `bpftool feature probe` does it — by
 * actually loading tiny programs and creating maps — plus attaching and detaching one link of each
 * kind that can be made without touching the machine's interfaces or cgroups of running processes.
 */
import { existsSync, mkdirSync, readFileSync, rmdirSync, statSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { cgroup2Root } from './attach-cgroup.js';
import { tracingLoadOptions } from './attach-tracing.js';
import { BpfError, VerifierError, errnoName } from './errors.js';
import type { Link } from './link.js';
import { BpfMap } from './map.js';
import { native } from './native.js';
import { Program, type ProgramLoadOptions } from './program.js';
import { Attr, bpfRaw, OwnedFd } from './syscall.js';
import { asm, HELPERS, R0, type AsmItem } from '../pure/asm.js';
import {
  BPF_CMD,
  LINK_TYPE,
  MAP_FLAG,
  MAP_TYPE,
  PROG_TYPE,
  TEST_RUN_FLAG,
  type MapTypeName,
  type ProgTypeName,
} from '../pure/uapi.js';

/** One probed capability. `supported` is null when it was not probed (with the reason in `note`). */
export interface ProbeResult {
  supported: boolean | null;
  /** The errno of the refusal, when refused. */
  error?: string;
  note?: string;
}

/** Everything `tsbpf probe` reports (the `--json` shape). */
export interface ProbeReport {
  kernel: { release: string; version: string; machine: string };
  system: {
    jit: {
      enabled: number | null;
      harden: number | null;
      kallsyms: number | null;
      limit: number | null;
      jitedProgram: boolean;
    };
    unprivilegedBpfDisabled: number | null;
    btf: { vmlinux: boolean; vmlinuxBytes: number | null; load: boolean };
    bpffsMounted: boolean;
  };
  programTypes: Record<string, ProbeResult & { testRun?: ProbeResult }>;
  mapTypes: Record<string, ProbeResult>;
  /** Per program type: the helpers it may call (names without bpf_). Absent for types not probed. */
  helpers: Record<string, string[]>;
  linkTypes: Record<string, ProbeResult>;
  ringbuf: { map: boolean; reserve: boolean; output: boolean; dynptr: boolean; userRingbuf: boolean };
  testRunFlags: { runOnCpu: ProbeResult; xdpLiveFrames: ProbeResult };
  durationMs: number;
}

const RET0: AsmItem[] = [asm.mov64(R0, 0), asm.exit()];

/** Per-type load attributes bpftool/libbpf use so a minimal program is accepted. */
function loadOptions(type: ProgTypeName, insns: AsmItem[], logLevel = 0): ProgramLoadOptions {
  const o: ProgramLoadOptions = { type, instructions: insns, logLevel, name: 'probe' };
  switch (type) {
    case 'cgroup_sock_addr':
      o.expectedAttachType = 'cgroup_inet4_connect';
      break;
    case 'cgroup_sockopt':
      o.expectedAttachType = 'cgroup_getsockopt';
      break;
    case 'sk_lookup':
      o.expectedAttachType = 'sk_lookup';
      break;
    case 'lirc_mode2':
      o.expectedAttachType = 'lirc_mode2';
      break;
    case 'syscall':
      o.flags = 16;
      break; // BPF_F_SLEEPABLE
    case 'netfilter':
      o.expectedAttachType = 'netfilter';
      break;
    case 'tracing':
      o.expectedAttachType = 'trace_fentry';
      o.attachBtfId = 1;
      o.logLevel = 1;
      break;
    case 'lsm':
      o.expectedAttachType = 'lsm_mac';
      o.attachBtfId = 1;
      o.logLevel = 1;
      break;
    case 'ext':
      o.attachBtfId = 1;
      o.logLevel = 1;
      break;
  }
  return o;
}

/** Types whose minimal load fails by design; support shows in the errno/log (as libbpf's probes). */
const EXPECTED_FAILURE: Partial<Record<ProgTypeName, { errno: number; log?: string }>> = {
  tracing: { errno: 22, log: 'attach_btf_id 1 is not a function' },
  lsm: { errno: 22, log: 'attach_btf_id 1 is not a function' },
  ext: { errno: 22, log: 'Cannot replace kernel functions' },
  struct_ops: { errno: 524 },
};

function errorOf(e: unknown): string {
  return e instanceof BpfError ? e.code : (e as Error).message;
}

function probeProgramType(type: ProgTypeName): { result: ProbeResult; program?: Program } {
  const expected = EXPECTED_FAILURE[type];
  try {
    const p = Program.load(loadOptions(type, RET0));
    return { result: { supported: true }, program: p };
  } catch (e) {
    if (expected && e instanceof BpfError && e.errno === expected.errno) {
      const log = e instanceof VerifierError ? e.log : '';
      if (!expected.log || log.includes(expected.log))
        return { result: { supported: true, note: 'needs an attach target; probed by its refusal' } };
    }
    return { result: { supported: false, error: errorOf(e) } };
  }
}

/** A tiny BTF with `int` (id 1, 4 bytes) and `long` (id 2, 8 bytes), for maps that require BTF. */
function loadTinyBtf(): OwnedFd | undefined {
  const strings = Buffer.from('\0int\0long\0');
  const types = new DataView(new ArrayBuffer(32));
  const intType = (off: number, nameOff: number, size: number) => {
    types.setUint32(off, nameOff, true);
    types.setUint32(off + 4, 1 << 24, true); // BTF_KIND_INT
    types.setUint32(off + 8, size, true);
    types.setUint32(off + 12, (1 << 24) | (size * 8), true); // BTF_INT_SIGNED, bits
  };
  intType(0, 1, 4);
  intType(16, 5, 8);
  const blob = new Uint8Array(24 + 32 + strings.length);
  const h = new DataView(blob.buffer);
  h.setUint16(0, 0xeb9f, true);
  h.setUint8(2, 1);
  h.setUint8(3, 0);
  h.setUint32(4, 24, true);
  h.setUint32(8, 0, true);
  h.setUint32(12, 32, true);
  h.setUint32(16, 32, true);
  h.setUint32(20, strings.length, true);
  blob.set(new Uint8Array(types.buffer), 24);
  blob.set(strings, 56);
  const fd = bpfRaw(BPF_CMD.btf_load, new Attr(32).ptr(0, blob).u32(16, blob.byteLength).bytes);
  return fd >= 0 ? new OwnedFd(fd, 'probe BTF') : undefined;
}

interface RawMapSpec {
  keySize: number;
  valueSize: number;
  maxEntries: number;
  flags?: number;
  btf?: boolean;
  inner?: boolean;
  vmlinuxValueTypeId?: number;
}

/** libbpf's probe_map_create parameters for each type. */
function mapSpec(type: MapTypeName): RawMapSpec {
  const base = { keySize: 4, valueSize: 4, maxEntries: 1 };
  switch (type) {
    case 'lpm_trie':
      return { ...base, keySize: 8, valueSize: 8, flags: MAP_FLAG.no_prealloc };
    case 'stack_trace':
      return { ...base, valueSize: 8 };
    case 'queue':
    case 'stack':
    case 'bloom_filter':
      return { ...base, keySize: 0 };
    case 'ringbuf':
    case 'user_ringbuf':
      return { keySize: 0, valueSize: 0, maxEntries: native.pageSize };
    case 'arena':
      return { keySize: 0, valueSize: 0, maxEntries: 1, flags: MAP_FLAG.mmapable };
    case 'cgroup_storage':
    case 'percpu_cgroup_storage':
      return { keySize: 16, valueSize: 8, maxEntries: 0 };
    case 'array_of_maps':
    case 'hash_of_maps':
      return { ...base, inner: true };
    case 'sk_storage':
    case 'inode_storage':
    case 'task_storage':
    case 'cgrp_storage':
      return { keySize: 4, valueSize: 8, maxEntries: 0, flags: MAP_FLAG.no_prealloc, btf: true };
    case 'struct_ops':
      return { ...base, vmlinuxValueTypeId: 1 };
    default:
      return base;
  }
}

/** BPF_MAP_CREATE with raw attributes (storage maps need max_entries 0, which BpfMap.create refuses by design). */
function probeMapType(type: MapTypeName, btf: OwnedFd | undefined, inner: BpfMap | undefined): ProbeResult {
  const spec = mapSpec(type);
  if ((spec.btf && !btf) || (spec.inner && !inner))
    return { supported: null, note: 'prerequisite (BTF or inner map) unavailable' };
  const a = new Attr(72)
    .u32(0, MAP_TYPE[type])
    .u32(4, spec.keySize)
    .u32(8, spec.valueSize)
    .u32(12, spec.maxEntries)
    .u32(16, spec.flags ?? 0)
    .name(28, 'probe');
  if (spec.inner && inner) a.u32(20, inner.fd);
  if (spec.btf && btf) a.u32(48, btf.fd).u32(52, 1).u32(56, 2);
  if (spec.vmlinuxValueTypeId) a.u32(60, spec.vmlinuxValueTypeId);
  const fd = bpfRaw(BPF_CMD.map_create, a.bytes);
  if (fd >= 0) {
    native.close(fd);
    return { supported: true };
  }
  // struct_ops: an invalid vmlinux value type is refused with ENOTSUPP only when the map type exists (libbpf's probe).
  if (type === 'struct_ops' && -fd === 524)
    return { supported: true, note: 'needs a vmlinux struct_ops type; probed by its refusal' };
  return { supported: false, error: errnoName(-fd) };
}

/** Whether `type` may call helper `id`: the verifier names the helper as unusable otherwise. */
function helperSupported(type: ProgTypeName, id: number): boolean {
  try {
    Program.load(loadOptions(type, [asm.call(id), asm.mov64(R0, 0), asm.exit()], 1)).close();
    return true;
  } catch (e) {
    // Older kernels say "unknown func" / "invalid func"; 6.x says "program of this type cannot use helper".
    if (e instanceof VerifierError) return !/invalid func |unknown func |cannot use helper/.test(e.log);
    return true;
  }
}

function testRunResult(p: Program): ProbeResult {
  const type = p.type;
  const packet = new Uint8Array(64);
  packet[12] = 0x08; // IPv4 EtherType, so packet programs see a plausible frame
  try {
    if (type === 'raw_tracepoint' || type === 'syscall' || type === 'tracing') p.testRun({ ctx: new Uint8Array(64) });
    else p.testRun({ data: packet, repeat: 1 });
    return { supported: true };
  } catch (e) {
    if (e instanceof BpfError && (e.errno === 524 || e.errno === 95)) return { supported: false, error: e.code };
    return { supported: true, note: `available; this probe input was refused (${errorOf(e)})` };
  }
}

function readSysctl(path: string): number | null {
  try {
    return Number(readFileSync(path, 'utf8').trim());
  } catch {
    return null;
  }
}

function tryLink(
  name: string,
  make: () => Link | { close(): void } | undefined,
  out: Record<string, ProbeResult>,
): void {
  try {
    const l = make();
    if (!l) return;
    l.close();
    out[name] = { supported: true };
  } catch (e) {
    out[name] = { supported: false, error: errorOf(e) };
  }
}

function probeLinks(): Record<string, ProbeResult> {
  const out: Record<string, ProbeResult> = {};
  for (const k of Object.keys(LINK_TYPE))
    if (k !== 'unspec') out[k] = { supported: null, note: 'not probed (needs a target tsbpf does not create)' };
  tryLink(
    'raw_tracepoint',
    () => {
      const p = Program.load({ type: 'raw_tracepoint', instructions: RET0, name: 'probe' });
      try {
        return p.attachRawTracepoint('sys_enter');
      } finally {
        p.close();
      }
    },
    out,
  );
  tryLink(
    'perf_event',
    () => {
      const p = Program.load({ type: 'tracepoint', instructions: RET0, name: 'probe' });
      try {
        return p.attachTracepoint('raw_syscalls', 'sys_enter');
      } finally {
        p.close();
      }
    },
    out,
  );
  tryLink(
    'tracing',
    () => {
      const p = Program.load(
        tracingLoadOptions({ kind: 'fentry', target: 'bpf_fentry_test1', instructions: RET0, name: 'probe' }),
      );
      try {
        return p.attachTracing();
      } finally {
        p.close();
      }
    },
    out,
  );
  // A fresh, empty cgroup: attaching to it affects no process.
  tryLink(
    'cgroup',
    () => {
      const dir = `${cgroup2Root()}/tsbpf-probe-${process.pid}`;
      mkdirSync(dir);
      const p = Program.load({
        type: 'cgroup_skb',
        instructions: [asm.mov64(R0, 1), asm.exit()],
        name: 'probe',
        expectedAttachType: 'cgroup_inet_ingress',
      });
      try {
        const l = p.attachCgroup(dir, 'cgroup_inet_ingress');
        return {
          close: () => {
            l.close();
            rmdirSync(dir);
          },
        };
      } catch (e) {
        rmdirSync(dir);
        throw e;
      } finally {
        p.close();
      }
    },
    out,
  );
  // A veth pair made for the probe (never an existing interface), for xdp and tcx links.
  const dummy = `tsbpfprb${process.pid % 100000}`;
  let made = false;
  try {
    execFileSync('ip', ['link', 'add', dummy, 'type', 'veth', 'peer', 'name', `${dummy}p`], { stdio: 'pipe' });
    made = true;
  } catch {
    /* iproute2 missing or no CAP_NET_ADMIN */
  }
  if (made) {
    try {
      tryLink(
        'xdp',
        () => {
          const p = Program.load({ type: 'xdp', instructions: [asm.mov64(R0, 2), asm.exit()], name: 'probe' });
          try {
            return p.attachXdp(dummy, { mode: 'skb' });
          } finally {
            p.close();
          }
        },
        out,
      );
      tryLink(
        'tcx',
        () => {
          const p = Program.load({ type: 'sched_cls', instructions: RET0, name: 'probe' });
          try {
            return p.attachTcx(dummy, 'ingress');
          } finally {
            p.close();
          }
        },
        out,
      );
    } finally {
      try {
        execFileSync('ip', ['link', 'del', dummy], { stdio: 'pipe' });
      } catch {
        /* already gone */
      }
    }
  }
  return out;
}

/** Progress callback: which section is being probed. */
export type ProbeProgress = (section: string) => void;

/** Runs every probe. `helpers: false` skips the per-type helper matrix (the slow part: ~7000 loads). */
export function probeKernel(opts: { helpers?: boolean; progress?: ProbeProgress } = {}): ProbeReport {
  const t0 = performance.now();
  const progress = opts.progress ?? (() => {});
  const release = readFileSync('/proc/sys/kernel/osrelease', 'utf8').trim();
  const version = readFileSync('/proc/sys/kernel/version', 'utf8').trim();

  progress('program types');
  const programTypes: ProbeReport['programTypes'] = {};
  const loaded: Program[] = [];
  for (const type of Object.keys(PROG_TYPE) as ProgTypeName[]) {
    if ((type as string) === 'unspec') continue;
    const { result, program } = probeProgramType(type);
    programTypes[type] = program ? { ...result, testRun: testRunResult(program) } : result;
    if (program) loaded.push(program);
  }
  let jitedProgram = false;
  const sf = loaded.find((p) => p.type === 'socket_filter');
  if (sf) jitedProgram = sf.info().jitedLength > 0;
  for (const p of loaded) p.close();

  progress('map types');
  const mapTypes: ProbeReport['mapTypes'] = {};
  const btf = loadTinyBtf();
  let inner: BpfMap | undefined;
  try {
    inner = BpfMap.create({ type: 'array', keySize: 4, valueSize: 4, maxEntries: 1, name: 'probe_inner' });
  } catch {
    /* reported via the outer types */
  }
  for (const type of Object.keys(MAP_TYPE) as MapTypeName[]) {
    if ((type as string) === 'unspec') continue;
    mapTypes[type] = probeMapType(type, btf, inner);
  }
  inner?.close();
  btf?.close();

  const helpers: Record<string, string[]> = {};
  if (opts.helpers !== false) {
    for (const type of Object.keys(programTypes) as ProgTypeName[]) {
      if (!programTypes[type]!.supported || EXPECTED_FAILURE[type]) continue;
      progress(`helpers for ${type}`);
      const names: string[] = [];
      for (const [name, id] of Object.entries(HELPERS)) {
        if (id === 0) continue;
        if (helperSupported(type, id)) names.push(name);
      }
      helpers[type] = names;
    }
  }

  progress('links');
  const linkTypes = probeLinks();

  progress('test-run flags');
  const testRunFlags = { runOnCpu: probeRunOnCpu(), xdpLiveFrames: probeLiveFrames() };

  const helperIn = (type: string, name: string) =>
    helpers[type] ? helpers[type]!.includes(name) : helperSupported(type as ProgTypeName, HELPERS[name]!);
  const report: ProbeReport = {
    kernel: { release, version, machine: process.arch },
    system: {
      jit: {
        enabled: readSysctl('/proc/sys/net/core/bpf_jit_enable'),
        harden: readSysctl('/proc/sys/net/core/bpf_jit_harden'),
        kallsyms: readSysctl('/proc/sys/net/core/bpf_jit_kallsyms'),
        limit: readSysctl('/proc/sys/net/core/bpf_jit_limit'),
        jitedProgram,
      },
      unprivilegedBpfDisabled: readSysctl('/proc/sys/kernel/unprivileged_bpf_disabled'),
      btf: {
        vmlinux: existsSync('/sys/kernel/btf/vmlinux'),
        vmlinuxBytes: existsSync('/sys/kernel/btf/vmlinux') ? statSync('/sys/kernel/btf/vmlinux').size : null,
        load: loadTinyBtfOk(),
      },
      bpffsMounted: readFileSync('/proc/mounts', 'utf8')
        .split('\n')
        .some((l) => l.split(' ')[2] === 'bpf'),
    },
    programTypes,
    mapTypes,
    helpers,
    linkTypes,
    ringbuf: {
      map: mapTypes.ringbuf?.supported === true,
      reserve: helperIn('tracepoint', 'ringbuf_reserve'),
      output: helperIn('tracepoint', 'ringbuf_output'),
      dynptr: helperIn('tracepoint', 'ringbuf_reserve_dynptr'),
      userRingbuf: mapTypes.user_ringbuf?.supported === true,
    },
    testRunFlags,
    durationMs: Math.round(performance.now() - t0),
  };
  return report;
}

function loadTinyBtfOk(): boolean {
  const fd = loadTinyBtf();
  fd?.close();
  return fd !== undefined;
}

function probeRunOnCpu(): ProbeResult {
  try {
    using p = Program.load({ type: 'raw_tracepoint', instructions: RET0, name: 'probe' });
    p.testRun({ ctx: new Uint8Array(8), cpu: 0 });
    return { supported: true };
  } catch (e) {
    return { supported: false, error: errorOf(e) };
  }
}

function probeLiveFrames(): ProbeResult {
  try {
    // XDP_DROP, so nothing reaches the stack in live mode.
    using p = Program.load({ type: 'xdp', instructions: [asm.mov64(R0, 1), asm.exit()], name: 'probe' });
    const frame = new Uint8Array(64);
    frame[12] = 0x08;
    p.testRun({ data: frame, repeat: 1, flags: TEST_RUN_FLAG.xdp_live_frames, dataOutSize: 0 });
    return { supported: true };
  } catch (e) {
    return { supported: false, error: errorOf(e) };
  }
}
