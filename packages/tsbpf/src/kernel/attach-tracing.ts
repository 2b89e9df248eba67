/**
 * fentry / fexit / fmod_ret / tp_btf / lsm: BTF-typed tracing programs. The target is chosen at
 * load time by BTF id (looked up by name in /sys/kernel/btf/vmlinux); attaching then needs no
 * target (BPF_LINK_CREATE with the program's expected attach type).
 */
import { readFileSync } from 'node:fs';
import { Btf, type BtfFuncProto } from '../pure/btf.js';
import { ATTACH_TYPE, type AttachTypeName, BPF_CMD, type ProgTypeName } from '../pure/uapi.js';
import { BpfError, NotSupportedError } from './errors.js';
import { AttachError, Link, requireProgramType } from './link.js';
import type { Program, ProgramLoadOptions } from './program.js';
import { Attr, argError, bpfRaw, OwnedFd } from './syscall.js';

const VMLINUX = '/sys/kernel/btf/vmlinux';
let vmlinux: Btf | undefined;

/** The kernel's own BTF, parsed once per process (~0.5 s). */
export function vmlinuxBtf(): Btf {
  if (!vmlinux) {
    let bytes: Uint8Array;
    try {
      bytes = readFileSync(VMLINUX);
    } catch (e) {
      throw new NotSupportedError(
        'kernel BTF',
        `cannot read ${VMLINUX} (${(e as Error).message}); fentry/fexit/tp_btf need a kernel built with CONFIG_DEBUG_INFO_BTF`,
      );
    }
    vmlinux = Btf.parse(bytes);
  }
  return vmlinux;
}

/** The kinds of BTF-typed tracing program. */
export type TracingKind = 'fentry' | 'fexit' | 'fmod_ret' | 'tp_btf' | 'lsm';

const KIND: Record<TracingKind, { type: ProgTypeName; attach: AttachTypeName }> = {
  fentry: { type: 'tracing', attach: 'trace_fentry' },
  fexit: { type: 'tracing', attach: 'trace_fexit' },
  fmod_ret: { type: 'tracing', attach: 'modify_return' },
  tp_btf: { type: 'tracing', attach: 'trace_raw_tp' },
  lsm: { type: 'lsm', attach: 'lsm_mac' },
};

/** A kernel function's BTF id and parameter names (fexit's return value is ctx[params.length]). */
export interface KernelFunction {
  name: string;
  btfId: number;
  params: string[];
}

/** Looks up a kernel function in vmlinux BTF; AttachError (ENOENT) when the kernel has none by that name. */
export function kernelFunction(name: string): KernelFunction {
  if (typeof name !== 'string' || !/^[A-Za-z_][A-Za-z0-9_.]*$/.test(name))
    throw argError(`kernel function name must be an identifier, got ${JSON.stringify(name)}`);
  const btf = vmlinuxBtf();
  const id = btf.findByName(name, 'func');
  if (id === undefined) {
    throw new AttachError(
      'ENOENT',
      `kernel function ${name}`,
      `no function "${name}" in the kernel's BTF (${VMLINUX}); it may be inlined, static and renamed (e.g. ${name}.isra.0), or not exist in this kernel`,
    );
  }
  const fn = btf.type(id) as { type: number };
  const proto = btf.type(fn.type) as BtfFuncProto;
  return { name, btfId: id, params: proto.params.map((p) => p.name) };
}

/** The BTF id a kind attaches to: the function, `btf_trace_<tp>` for tp_btf, `bpf_lsm_<hook>` for lsm. */
export function tracingTargetBtfId(kind: TracingKind, target: string): number {
  if (kind === 'tp_btf') {
    if (typeof target !== 'string' || !/^[A-Za-z0-9_]+$/.test(target))
      throw argError(`tp_btf target must be a tracepoint name like "sched_switch", got ${JSON.stringify(target)}`);
    const id = vmlinuxBtf().findByName(`btf_trace_${target}`, 'typedef');
    if (id === undefined)
      throw new AttachError(
        'ENOENT',
        `tp_btf ${target}`,
        `the kernel has no BTF-enabled tracepoint "${target}" (no btf_trace_${target} in ${VMLINUX})`,
      );
    return id;
  }
  if (kind === 'lsm') return kernelFunction(target.startsWith('bpf_lsm_') ? target : `bpf_lsm_${target}`).btfId;
  return kernelFunction(target).btfId;
}

/** Options for loadTracing (Program.loadTracing). */
export interface TracingLoadOptions extends Omit<ProgramLoadOptions, 'type' | 'expectedAttachType' | 'attachBtfId'> {
  /** fentry, fexit, fmod_ret, tp_btf or lsm. */
  kind: TracingKind;
  /** Kernel function (`do_sys_openat2`), tracepoint (`sched_switch`) for tp_btf, or LSM hook (`file_open`). */
  target: string;
}

/** Fills in the load options for a BTF-typed tracing program (type, expected attach type, BTF id). */
export function tracingLoadOptions(opts: TracingLoadOptions): ProgramLoadOptions {
  if (!opts || typeof opts !== 'object') throw argError('loadTracing needs an options object');
  const k = KIND[opts.kind];
  if (!k)
    throw argError(`tracing kind must be one of ${Object.keys(KIND).join(', ')}, got ${JSON.stringify(opts.kind)}`);
  const { kind, target, ...rest } = opts;
  return { ...rest, type: k.type, expectedAttachType: k.attach, attachBtfId: tracingTargetBtfId(kind, target) };
}

const EINVAL = 22,
  EPERM = 1;
const TRAMPOLINE_KINDS: readonly TracingKind[] = ['fentry', 'fexit', 'fmod_ret', 'lsm'];

/**
 * Turns a load failure of a tracing program into an explanation where one is known: a root
 * process that gets EPERM without a verifier log for a trampoline program (fentry/fexit/fmod_ret/
 * lsm) is on a kernel that refuses BPF trampolines (locked down or sandboxed). Returns `e` otherwise.
 */
export function explainTracingLoadError(e: unknown, opts: TracingLoadOptions): unknown {
  if (
    e instanceof BpfError &&
    e.errno === EPERM &&
    TRAMPOLINE_KINDS.includes(opts.kind) &&
    process.getuid?.() === 0 &&
    !('log' in e && (e as { log: string }).log)
  ) {
    return new NotSupportedError(
      'BPF trampolines (fentry/fexit/fmod_ret/lsm)',
      `${opts.kind} ${opts.target}: this kernel refuses BPF trampoline programs (fentry/fexit/fmod_ret/lsm): BPF_PROG_LOAD fails with EPERM even as root and without a verifier log ` +
        `(a locked-down or sandboxed kernel). tp_btf, raw tracepoints and tracepoints work: e.g. raw_syscalls:sys_enter/sys_exit for syscall entry/return values`,
      { cause: e },
    );
  }
  return e;
}

let trampolines: boolean | undefined;

/** Probes once whether this kernel loads fentry programs (it loads a no-op fentry on a vmlinux function). */
export function trampolineSupport(load: (opts: ProgramLoadOptions) => { close(): void }): boolean {
  if (trampolines !== undefined) return trampolines;
  const btf = vmlinuxBtf();
  const id = btf.findByName('bpf_fentry_test1', 'func') ?? btf.findByName('do_sys_openat2', 'func');
  if (id === undefined) return (trampolines = false);
  const nop = new Uint8Array([0xb7, 0, 0, 0, 0, 0, 0, 0, 0x95, 0, 0, 0, 0, 0, 0, 0]);
  try {
    load({ type: 'tracing', expectedAttachType: 'trace_fentry', attachBtfId: id, instructions: nop }).close();
    trampolines = true;
  } catch {
    trampolines = false;
  }
  return trampolines;
}

/** Attaches a tracing/lsm/ext program to the target chosen at load (BPF_LINK_CREATE, or BPF_RAW_TRACEPOINT_OPEN on older kernels). */
export function attachTracing(program: Program, opts: { cookie?: bigint } = {}): Link {
  requireProgramType(program, ['tracing', 'lsm', 'ext'], 'attachTracing');
  const attach = program.expectedAttachType;
  if (program.attachBtfId === undefined && program.type !== 'ext') {
    throw argError(
      `program "${program.name}" was loaded without attachBtfId: load it with Program.loadTracing({ kind, target, ... }) so the kernel knows its target`,
    );
  }
  const what = `${attach ?? program.type} program "${program.name || '(unnamed)'}"`;
  const attachType = attach ? ATTACH_TYPE[attach] : 0;
  const a = new Attr(64)
    .u32(0, program.fd)
    .u32(8, attachType)
    .u64n(24, opts.cookie ?? 0n);
  let r = bpfRaw(BPF_CMD.link_create, a.bytes);
  if (r === -EINVAL && !opts.cookie) r = bpfRaw(BPF_CMD.raw_tracepoint_open, new Attr(24).u32(8, program.fd).bytes);
  if (r < 0)
    throw new BpfError(-r, {
      syscall: 'bpf',
      command: 'BPF_LINK_CREATE',
      object: what,
      hint:
        -r === 524 || -r === 95
          ? 'the kernel cannot attach trampolines to this function (not traceable, or no ftrace on this kernel)'
          : undefined,
    });
  return Link.create([{ link: new OwnedFd(r, what) }], what);
}
