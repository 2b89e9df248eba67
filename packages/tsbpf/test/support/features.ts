/**
 * The one place a test learns whether this kernel has a feature, and the one way it skips when the
 * feature is missing. Tests probe and test the branch the kernel has; they never assert absence.
 *
 * A skip reads `feature <name>: <why>`. `.ci/run` (scripts/check-skips.mjs) fails when a test skips
 * for a feature not listed in test/expected-skips.json, the skips expected on the CI machine kind.
 */
import type { TestContext } from 'node:test';
import { existsSync } from 'node:fs';
import { asm, kprobeSupport, NotSupportedError, probeKernel, Program, R0 } from '../../src/index.js';

/** Features a test may need that some kernels lack. */
export type Feature = 'kprobes' | 'trampolines' | 'uprobes' | 'map-iterators' | 'xdp-live-frames';

/** Prefix of every feature skip, parsed by scripts/check-skips.mjs. */
export const SKIP_PREFIX = 'feature ';

/** Each probe returns undefined when the feature is present, else why it is missing. */
const PROBES: Record<Feature, () => string | undefined> = {
  kprobes: () => (kprobeSupport().supported ? undefined : 'no kprobe PMU and no tracefs kprobe_events'),
  trampolines: () =>
    Program.supportsTrampolines() ? undefined : 'the kernel refuses fentry/fexit (BPF trampoline) programs',
  uprobes: () => (existsSync('/sys/bus/event_source/devices/uprobe/type') ? undefined : 'no uprobe PMU'),
  'xdp-live-frames': () => {
    const r = probeKernel().testRunFlags.xdpLiveFrames;
    return r.supported ? undefined : `XDP test-run with BPF_F_TEST_XDP_LIVE_FRAMES refused (${r.error ?? 'unknown'})`;
  },
  'map-iterators': () => {
    try {
      Program.loadIter({ target: 'bpf_map_elem', instructions: [asm.mov64(R0, 0), asm.exit()] }).close();
      return undefined;
    } catch (e) {
      if (e instanceof NotSupportedError) return 'the kernel refuses iter/bpf_map_elem programs (EPERM as root)';
      throw e;
    }
  },
};

const cache = new Map<Feature, string | undefined>();

/** Why `feature` is missing on this kernel, or undefined when it is present (probed once). */
export function missing(feature: Feature): string | undefined {
  if (!cache.has(feature)) cache.set(feature, PROBES[feature]());
  return cache.get(feature);
}

/** True when this kernel has `feature`. */
export function hasFeature(feature: Feature): boolean {
  return missing(feature) === undefined;
}

/** For a test that needs `feature`: true when present, else skips the test with the reason and returns false. */
export function requireFeature(t: TestContext, feature: Feature): boolean {
  const why = missing(feature);
  if (why === undefined) return true;
  t.skip(`${SKIP_PREFIX}${feature}: ${why}`);
  return false;
}

/** The refusal a kernel without a feature must give: a NotSupportedError, nothing else. */
export function isNotSupported(e: unknown): boolean {
  return e instanceof NotSupportedError;
}
