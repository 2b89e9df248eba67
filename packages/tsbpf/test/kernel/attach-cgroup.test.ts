import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { existsSync, mkdirSync, rmdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import {
  asm,
  AttachError,
  BpfMap,
  Link,
  Program,
  R0,
  R2,
  R3,
  R4,
  R6,
  R7,
  R1,
  t,
  cgroup2Root,
} from '../../src/index.js';
import { counter, incrementR7 } from '../support/attach-progs.js';

const root = cgroup2Root();
const CG = join(root, `tsbpf-test-${process.pid}`);
after(() => {
  if (existsSync(CG)) rmdirSync(CG);
});

/** cgroup_skb: counts IPv4 packets by IP protocol (the packet starts at the IP header); always allows. */
function ipProtoCounter(counts: BpfMap) {
  return [
    asm.mov64(R6, R1),
    asm.ldxw(R2, R6, 76),
    asm.ldxw(R3, R6, 80),
    asm.mov64(R4, R2),
    asm.add64(R4, 20),
    asm.jgt(R4, R3, 'out'),
    asm.ldxb(R7, R2, 9),
    incrementR7(counts),
    asm.label('out'),
    asm.mov64(R0, 1),
    asm.exit(),
  ];
}

test('cgroup_skb egress and sock_create count exactly the traffic of a process placed in a test cgroup', async () => {
  assert.ok(statSync(root).isDirectory());
  mkdirSync(CG);
  using skbCounts = BpfMap.create({ type: 'array', key: t.u32, value: t.u64, maxEntries: 256 });
  using sockCounts = BpfMap.create({ type: 'array', key: t.u32, value: t.u64, maxEntries: 1 });
  const skb = Program.load({
    type: 'cgroup_skb',
    expectedAttachType: 'cgroup_inet_egress',
    instructions: ipProtoCounter(skbCounts),
  });
  const sock = Program.load({
    type: 'cgroup_sock',
    expectedAttachType: 'cgroup_inet_sock_create',
    instructions: counter(sockCounts, { ret: 1 }),
  });
  const egress = skb.attachCgroup(CG, 'egress');
  const create = sock.attachCgroup(`tsbpf-test-${process.pid}`, 'cgroup_inet_sock_create'); // relative to the cgroup2 mount
  const info = egress.info();
  assert.equal(info.type, 'cgroup');
  assert.equal(info.attachType, 'cgroup_inet_egress');
  assert.equal(info.cgroupId, BigInt(statSync(CG).ino));
  assert.equal(create.info().attachType, 'cgroup_inet_sock_create');

  const rx = createSocket('udp4');
  await new Promise<void>((r) => rx.bind(0, '127.0.0.1', r));
  let got = 0;
  rx.on('message', () => {
    got++;
  });
  const port = rx.address().port;
  // Our own traffic (not in the cgroup) is not counted.
  const tx = createSocket('udp4');
  for (let i = 0; i < 3; i++) await new Promise<void>((r) => tx.send('x', port, '127.0.0.1', () => r()));
  tx.close();
  const r = spawnSync('bash', [
    '-c',
    `echo $$ > ${CG}/cgroup.procs && for i in 1 2 3 4 5; do echo x > /dev/udp/127.0.0.1/${port}; done`,
  ]);
  assert.equal(r.status, 0, r.stderr.toString());
  const deadline = Date.now() + 1000;
  while (got < 8 && Date.now() < deadline) await new Promise((res) => setTimeout(res, 20));
  rx.close();
  assert.equal(got, 8);
  assert.equal(skbCounts.lookup(17), 5n, 'five UDP datagrams left the cgroup');
  assert.equal(sockCounts.lookup(0), 5n, 'five sockets created in the cgroup');

  const ids = [info.id, create.info().id];
  const progs = [skb.info().id, sock.info().id];
  egress.close();
  create.close();
  skb.close();
  sock.close();
  const live = new Set(Link.ids());
  assert.ok(ids.every((id) => !live.has(id)));
  const liveProgs = new Set(Link.programIds());
  assert.ok(progs.every((id) => !liveProgs.has(id)));
  rmdirSync(CG);
});

test('cgroup attach errors: missing cgroup, wrong program type, unknown attach type, cgroup v1', () => {
  using skb = Program.load({ type: 'cgroup_skb', instructions: [asm.mov64(R0, 1), asm.exit()] });
  assert.throws(
    () => skb.attachCgroup(join(root, 'tsbpf-no-such-cgroup'), 'ingress'),
    (e: unknown) => e instanceof AttachError && e.code === 'ENOENT' && /no such cgroup directory/.test(e.message),
  );
  assert.throws(
    () => skb.attachCgroup(root, 'sock_create'),
    /is of type cgroup_skb, but cgroup cgroup_inet_sock_create needs a cgroup_sock program/,
  );
  assert.throws(() => skb.attachCgroup(root, 'xdp' as never), /not a cgroup attach type/);
  // A directory that is not on cgroup2 (a cgroup v1 hierarchy behaves the same).
  assert.throws(() => skb.attachCgroup('/tmp', 'ingress'), /\/tmp is not a cgroup v2 directory/);
});
