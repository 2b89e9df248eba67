// Section names as libbpf's section_defs[] (#15 item 4), including short forms without a target.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseSectionName, SectionNameError } from '../../src/pure/section-names.js';

test('short forms load with the right program and expected attach type', () => {
  const cases: [string, string, string | undefined, string][] = [
    ['uprobe', 'kprobe', undefined, 'none'],
    ['uretprobe', 'kprobe', undefined, 'none'],
    ['uprobe/usr/lib/libc.so.6:malloc', 'kprobe', undefined, 'uprobe'],
    ['usdt', 'kprobe', undefined, 'none'],
    ['usdt/usr/lib/libstdc++.so.6:libstdcxx:throw', 'kprobe', undefined, 'usdt'],
    ['iter/task', 'tracing', 'trace_iter', 'tracing'],
    ['iter.s/task_file', 'tracing', 'trace_iter', 'tracing'],
    ['socket', 'socket_filter', undefined, 'none'],
    ['sk_skb/stream_parser', 'sk_skb', 'sk_skb_stream_parser', 'none'],
    ['sk_skb/stream_verdict', 'sk_skb', 'sk_skb_stream_verdict', 'none'],
    ['sk_skb/verdict', 'sk_skb', 'sk_skb_verdict', 'none'],
    ['sk_skb', 'sk_skb', undefined, 'none'],
    ['sk_msg', 'sk_msg', 'sk_msg_verdict', 'none'],
    ['fmod_ret/security_file_open', 'tracing', 'modify_return', 'tracing'],
    ['freplace/handler', 'ext', undefined, 'tracing'],
    ['tp', 'tracepoint', undefined, 'none'],
    ['tp.s/syscalls/sys_enter_openat', 'tracepoint', undefined, 'tracepoint'],
    ['raw_tp.s/sys_enter', 'raw_tracepoint', undefined, 'raw_tracepoint'],
    ['tp_btf.s/sched_switch', 'tracing', 'trace_raw_tp', 'tracing'],
    ['kprobe.session/do_sys_openat2', 'kprobe', 'trace_kprobe_session', 'none'],
    ['uprobe.session', 'kprobe', 'trace_uprobe_session', 'none'],
    ['uprobe.multi.s/bin:f*', 'kprobe', 'trace_uprobe_multi', 'none'],
    ['usdt.s', 'kprobe', undefined, 'none'],
    ['netkit/primary', 'sched_cls', 'netkit_primary', 'none'],
    ['netkit/peer', 'sched_cls', 'netkit_peer', 'none'],
  ];
  for (const [sec, type, attach, target] of cases) {
    const i = parseSectionName(sec);
    assert.equal(i.programType, type, sec);
    assert.equal(i.expectedAttachType, attach, sec);
    assert.equal(i.target.kind, target, sec);
  }
  assert.equal(parseSectionName('tp.s/a/b').sleepable, true);
  assert.equal(parseSectionName('iter.s/task').sleepable, true);
});

test('a target auto-attach cannot use parses (loads) and carries the attach-time error', () => {
  for (const sec of ['uretprobe/readline', 'uprobe/readline', 'tp/sched', 'kprobe/bad name']) {
    const t = parseSectionName(sec).target;
    assert.equal(t.kind, 'invalid', sec);
    assert.match((t as { reason: string }).reason, new RegExp(sec.replace(/[/+]/g, '.')));
  }
  const u = parseSectionName('uprobe/bin/bash:readline+0x10').target;
  assert.deepEqual(u, { kind: 'uprobe', binary: 'bin/bash', symbol: 'readline', offset: 16, retprobe: false });
});

test('unknown names are still refused at open', () => {
  assert.throws(() => parseSectionName('not_a_section/x'), SectionNameError);
  assert.throws(() => parseSectionName('uprobez'), SectionNameError);
});
