/** `tsbpf probe --json` as a child process: features every supported kernel has are reported, and version-dependent ones match the library's probe. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { probeKernel } from 'tsbpf';
import { runCli } from './support/cli.js';

test('probe --json reports program, map, helper, link, BTF, JIT, ringbuf and test-run support', async () => {
  const r = await runCli(['probe', '--json']);
  assert.equal(r.code, 0, r.stderr);
  const p = JSON.parse(r.stdout);
  for (const t of ['socket_filter', 'xdp', 'tracepoint', 'raw_tracepoint', 'sched_cls', 'cgroup_skb', 'syscall'])
    assert.equal(p.programTypes[t].supported, true, t);
  assert.equal(p.programTypes.xdp.testRun.supported, true);
  assert.equal(p.programTypes.tracepoint.testRun.supported, false); // tracepoints cannot be test-run
  for (const m of [
    'hash',
    'array',
    'percpu_array',
    'ringbuf',
    'perf_event_array',
    'lpm_trie',
    'sk_storage',
    'task_storage',
    'array_of_maps',
    'bloom_filter',
  ])
    assert.equal(p.mapTypes[m].supported, true, m);
  // Helpers per type: XDP may call map_lookup_elem and xdp_adjust_head, not the skb helpers.
  assert.ok(p.helpers.xdp.includes('map_lookup_elem'));
  assert.ok(p.helpers.xdp.includes('xdp_adjust_head'));
  assert.ok(!p.helpers.xdp.includes('skb_load_bytes'));
  assert.ok(!p.helpers.tracepoint.includes('xdp_adjust_head'));
  assert.ok(p.helpers.tracepoint.includes('get_current_pid_tgid'));
  assert.ok(p.helpers.tracepoint.includes('ringbuf_reserve'));
  assert.equal(p.linkTypes.raw_tracepoint.supported, true);
  assert.equal(p.linkTypes.perf_event.supported, true);
  assert.equal(p.linkTypes.xdp.supported, true);
  assert.equal(p.linkTypes.cgroup.supported, true);
  assert.equal(p.system.btf.vmlinux, true);
  assert.equal(p.system.btf.load, true);
  assert.equal(p.system.jit.jitedProgram, true);
  // Newer features (dynptr 5.19+, user ring buffers 6.1+, XDP live frames 5.18+) vary by kernel: the CLI
  // reports exactly what the library probes in this process, whichever branch this kernel has.
  const lib = probeKernel({ helpers: false });
  assert.equal(p.ringbuf.map, true);
  assert.equal(p.ringbuf.reserve, true);
  assert.equal(p.ringbuf.output, true);
  assert.deepEqual(p.ringbuf, lib.ringbuf);
  for (const f of ['runOnCpu', 'xdpLiveFrames'] as const) {
    assert.equal(typeof p.testRunFlags[f].supported, 'boolean', f);
    assert.equal(p.testRunFlags[f].supported, lib.testRunFlags[f].supported, f);
  }
});

test('probe prints tables', async () => {
  const r = await runCli(['probe', '--no-helpers', '--section', 'programs', 'maps']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^Program types$/m);
  assert.match(r.stdout, /^xdp\s+yes\s+yes/m);
  assert.match(r.stdout, /^ringbuf\s+yes$/m);
  assert.doesNotMatch(r.stdout, /Link types/);
});
