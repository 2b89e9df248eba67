// XDP and tc sections from a clang object: BPF_PROG_TEST_RUN through the object's programs (a .data verdict written
// from TypeScript after load, per-CPU and BTF-typed hash maps, .bss counters), then attach by section convention to
// a veth in a network namespace this test creates and removes.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { BpfObject } from '../../src/kernel/object.js';
import { compileFixture } from '../fixtures/clang.js';

const NET = compileFixture('obj_net');
const tag = (process.pid % 100000).toString(36);
const NS = `tsbpfobj${tag}`;
const HOST = `tbo${tag}h`;
const PEER = `tbo${tag}p`;
const ip = (...args: string[]) => execFileSync('ip', args, { stdio: ['ignore', 'pipe', 'pipe'] });

after(() => {
  try {
    ip('link', 'del', HOST);
  } catch {
    /* not created */
  }
  try {
    ip('netns', 'del', NS);
  } catch {
    /* not created */
  }
});

test('xdp and tc sections: test-run, .data verdict from TypeScript, per-CPU and typed hash maps, .bss counters', () => {
  using obj = BpfObject.open(NET);
  assert.equal(obj.programs.xdp_count!.info.programType, 'xdp');
  assert.equal(obj.programs.xdp_count!.info.expectedAttachType, 'xdp');
  assert.equal(obj.programs.tc_count!.info.programType, 'sched_cls');
  assert.deepEqual(obj.programs.xdp_count!.functions, ['xdp_count', 'account']);
  obj.load();
  const xdp = obj.programs.xdp_count!;
  assert.equal(xdp.testRun({ data: new Uint8Array(64), repeat: 5 }).retval, 2 /* XDP_PASS */);
  obj.dataSection!.set('xdp_action', 1 /* XDP_DROP */);
  assert.equal(xdp.testRun({ data: new Uint8Array(100) }).retval, 1);
  assert.equal(Number(obj.maps.xdp_packets!.sum(0)), 6);
  assert.deepEqual(obj.maps.by_len!.lookup(64), { packets: 5n, bytes: 320n });
  assert.deepEqual(obj.maps.by_len!.lookup(100), { packets: 1n, bytes: 100n });
  const tc = obj.programs.tc_count!;
  assert.equal(tc.testRun({ data: new Uint8Array(60), repeat: 3 }).retval, 0 /* TC_ACT_OK */);
  assert.equal(obj.bss!.get('tc_packets'), 3n);
  assert.equal(obj.bss!.get('tc_bytes'), 180n);
  assert.throws(() => xdp.attach(), /needs \{ interface \}/);
});

test('xdp and tc attach by section convention to a veth and count real packets', () => {
  ip('netns', 'add', NS);
  ip('link', 'add', HOST, 'type', 'veth', 'peer', 'name', PEER);
  ip('link', 'set', PEER, 'netns', NS);
  ip('link', 'set', HOST, 'up');
  ip('netns', 'exec', NS, 'ip', 'link', 'set', PEER, 'up');
  ip('netns', 'exec', NS, 'ip', 'addr', 'add', '10.231.77.2/24', 'dev', PEER);
  using obj = BpfObject.open(NET).load();
  const x = obj.programs.xdp_count!.attach({ interface: HOST });
  const t = obj.programs.tc_count!.attach({ interface: HOST }); // SEC("tc") → tcx ingress
  // ARP requests for an address nobody answers reach HOST's ingress: XDP sees them first, then tc.
  spawnSync('ip', ['netns', 'exec', NS, 'ping', '-c', '3', '-i', '0.2', '-W', '1', '10.231.77.1'], { stdio: 'ignore' });
  assert.ok(Number(obj.maps.xdp_packets!.sum(0)) >= 1, 'XDP counted packets');
  assert.ok(obj.bss!.get('tc_packets') >= 1n, 'tc counted packets');
  x.close();
  t.close();
});
