/**
 * The one error base class. Every error tsbpf throws on purpose is a `TsbpfError` (or, for a bad
 * argument caught before any syscall, a `TypeError`/`RangeError` whose message starts `tsbpf:`), so one
 * `catch` can tell "this kernel cannot" (`NotSupportedError`) from "the kernel said no" (`BpfError`,
 * `VerifierError`) from "the input is malformed" (`ElfError`, `BtfError`, ...).
 *
 * `code` is stable and machine-readable: the errno name (`EPERM`) for kernel refusals, `ERR_…` strings for
 * the rest. It lives in the pure layer so the parsers' errors share it without touching the kernel.
 */
export abstract class TsbpfError extends Error {
  /** A stable, machine-readable code: an errno name (`ENOENT`) or an `ERR_…` string. */
  abstract readonly code: string;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/**
 * The running kernel (or machine) lacks a feature tsbpf needs: a program or map type, kprobes, BPF
 * trampolines, TCX, XDP live frames, a PMU... `feature` names it; the message says what to do instead.
 * Test for it with `instanceof NotSupportedError` or `err.code === 'ERR_NOT_SUPPORTED'`.
 */
export class NotSupportedError extends TsbpfError {
  override readonly name = 'NotSupportedError';
  readonly code = 'ERR_NOT_SUPPORTED';
  /** The missing feature, e.g. `kprobes`, `BPF trampolines (fentry/fexit)`, `TCX`. */
  readonly feature: string;
  constructor(feature: string, message: string, options?: { cause?: unknown }) {
    super(`tsbpf: ${feature} not supported: ${message}`, options);
    this.feature = feature;
  }
}

/** A malformed or unsupported BPF object (bad relocation, unknown map type, missing BTF, unresolvable extern, ...). */
export class BpfObjectError extends TsbpfError {
  override name = 'BpfObjectError';
  readonly code = 'ERR_OBJECT';
}
