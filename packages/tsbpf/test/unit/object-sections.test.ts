// libbpf SEC() conventions → program type, expected attach type and attach target (pure).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseSectionName, SectionNameError, trySectionName } from '../../src/pure/section-names.js';

test('section names map to program types, attach types and targets as in libbpf', () => {
  const cases: [string, string, string | undefined, unknown][] = [
    [
      'tp/sched/sched_process_exec',
      'tracepoint',
      undefined,
      { kind: 'tracepoint', category: 'sched', name: 'sched_process_exec' },
    ],
    [
      'tracepoint/syscalls/sys_enter_openat',
      'tracepoint',
      undefined,
      { kind: 'tracepoint', category: 'syscalls', name: 'sys_enter_openat' },
    ],
    ['raw_tp/sys_enter', 'raw_tracepoint', undefined, { kind: 'raw_tracepoint', name: 'sys_enter', writable: false }],
    [
      'raw_tracepoint/sched_switch',
      'raw_tracepoint',
      undefined,
      { kind: 'raw_tracepoint', name: 'sched_switch', writable: false },
    ],
    ['tp_btf/sched_switch', 'tracing', 'trace_raw_tp', { kind: 'tracing', tracing: 'tp_btf', target: 'sched_switch' }],
    [
      'fentry/do_sys_openat2',
      'tracing',
      'trace_fentry',
      { kind: 'tracing', tracing: 'fentry', target: 'do_sys_openat2' },
    ],
    ['fexit/do_sys_openat2', 'tracing', 'trace_fexit', { kind: 'tracing', tracing: 'fexit', target: 'do_sys_openat2' }],
    ['fmod_ret/x', 'tracing', 'modify_return', { kind: 'tracing', tracing: 'fmod_ret', target: 'x' }],
    ['lsm/file_open', 'lsm', 'lsm_mac', { kind: 'tracing', tracing: 'lsm', target: 'file_open' }],
    [
      'uprobe/libc.so.6:malloc',
      'kprobe',
      undefined,
      { kind: 'uprobe', binary: 'libc.so.6', symbol: 'malloc', offset: 0, retprobe: false },
    ],
    [
      'uretprobe//bin/bash:readline+4',
      'kprobe',
      undefined,
      { kind: 'uprobe', binary: '/bin/bash', symbol: 'readline', offset: 4, retprobe: true },
    ],
    [
      'kprobe/__x64_sys_execve',
      'kprobe',
      undefined,
      { kind: 'kprobe', function: '__x64_sys_execve', offset: 0, retprobe: false },
    ],
    ['kretprobe/do_exit', 'kprobe', undefined, { kind: 'kprobe', function: 'do_exit', offset: 0, retprobe: true }],
    ['xdp', 'xdp', 'xdp', { kind: 'xdp' }],
    ['xdp.frags', 'xdp', 'xdp', { kind: 'xdp' }],
    ['tc', 'sched_cls', undefined, { kind: 'tc' }],
    ['classifier', 'sched_cls', undefined, { kind: 'tc' }],
    ['tcx/ingress', 'sched_cls', 'tcx_ingress', { kind: 'tcx', direction: 'ingress' }],
    ['tcx/egress', 'sched_cls', 'tcx_egress', { kind: 'tcx', direction: 'egress' }],
    ['cgroup_skb/ingress', 'cgroup_skb', 'cgroup_inet_ingress', { kind: 'cgroup', attachType: 'cgroup_inet_ingress' }],
    ['cgroup_skb/egress', 'cgroup_skb', 'cgroup_inet_egress', { kind: 'cgroup', attachType: 'cgroup_inet_egress' }],
    [
      'cgroup/sock_create',
      'cgroup_sock',
      'cgroup_inet_sock_create',
      { kind: 'cgroup', attachType: 'cgroup_inet_sock_create' },
    ],
    ['perf_event', 'perf_event', undefined, { kind: 'perf_event' }],
    ['socket', 'socket_filter', undefined, { kind: 'none' }],
  ];
  for (const [sec, type, attach, target] of cases) {
    const s = parseSectionName(sec);
    assert.equal(s.programType, type, sec);
    assert.equal(s.expectedAttachType, attach, sec);
    assert.deepEqual(s.target, target, sec);
    assert.equal(s.legacy, false, sec);
  }
  assert.equal(parseSectionName('xdp.frags').xdpFrags, true);
  assert.equal(parseSectionName('fentry.s/x').sleepable, true);
});

test('legacy (pre-libbpf-1.0) names still match; unknown and malformed names explain themselves', () => {
  for (const [sec, type] of [
    ['socket1', 'socket_filter'],
    ['xdp_prog', 'xdp'],
    ['classifier/ingress', 'sched_cls'],
    ['cgroup_skb/ingress_x', 'cgroup_skb'],
  ] as const) {
    const s = parseSectionName(sec);
    assert.equal(s.programType, type, sec);
    assert.equal(s.legacy, true, sec);
  }
  assert.throws(
    () => parseSectionName('bogus/thing'),
    (e: unknown) => e instanceof SectionNameError && /unknown program section 'bogus\/thing'/.test(e.message),
  );
  // Malformed targets load (as in libbpf) and fail at auto-attach with the explanation (#15).
  assert.match((parseSectionName('tp/sched').target as { reason: string }).reason, /expected tp\/<category>\/<name>/);
  assert.match((parseSectionName('uprobe/nocolon').target as { reason: string }).reason, /uprobe\/<binary>:<function>/);
  assert.equal(trySectionName('nope'), undefined);
  // Bare forms have no target: attach needs one at run time.
  assert.deepEqual(parseSectionName('raw_tp').target, { kind: 'none' });
  assert.deepEqual(parseSectionName('fentry').target, { kind: 'none' });
});
