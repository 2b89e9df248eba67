import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { existsSync, rmSync } from 'node:fs';
import {
  asm,
  type AsmInput,
  AttachError,
  BpfMap,
  Link,
  Program,
  R0,
  R1,
  R2,
  R3,
  R4,
  R5,
  R6,
  R7,
  t,
  interfaceIndex,
} from '../../src/index.js';
import { incrementR7 } from '../support/attach-progs.js';

// One veth pair: HOST in our namespace (where programs attach), PEER inside a namespace of its own.
const pid = process.pid;
const NS = `tsbpf-test-${pid}`;
const HOST = `tsbh${pid}`.slice(0, 15);
const PEER = `tsbn${pid}`.slice(0, 15);
const NET = `10.201.${(pid >> 6) & 255}.${(pid & 63) << 2}`;
const HOST_IP = NET.replace(/\d+$/, (x) => String(Number(x) + 1));
const PEER_IP = NET.replace(/\d+$/, (x) => String(Number(x) + 2));
const PIN_DIR = `/sys/fs/bpf/tsbpf-test-${pid}`;

const ip = (...args: string[]) => execFileSync('ip', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
const inNs = (...cmd: string[]) =>
  execFileSync('ip', ['netns', 'exec', NS, ...cmd], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });

before(() => {
  ip('netns', 'add', NS);
  ip('link', 'add', HOST, 'type', 'veth', 'peer', 'name', PEER);
  ip('link', 'set', PEER, 'netns', NS);
  ip('addr', 'add', `${HOST_IP}/30`, 'dev', HOST);
  ip('link', 'set', HOST, 'up');
  ip('-n', NS, 'addr', 'add', `${PEER_IP}/30`, 'dev', PEER);
  ip('-n', NS, 'link', 'set', PEER, 'up');
  ip('-n', NS, 'link', 'set', 'lo', 'up');
});

after(() => {
  try {
    ip('link', 'del', HOST);
  } catch {
    /* already gone with the namespace */
  }
  try {
    ip('netns', 'del', NS);
  } catch {
    /* not created */
  }
  rmSync(PIN_DIR, { recursive: true, force: true });
});

/** Parses eth + IPv4 from (R2 = data, R3 = data_end); R7 = IP protocol; jumps to 'pass' for anything else. */
const ipv4Proto: AsmInput = [
  asm.mov64(R4, R2),
  asm.add64(R4, 34),
  asm.jgt(R4, R3, 'pass'),
  asm.ldxh(R5, R2, 12),
  asm.jne(R5, 0x0008, 'pass'), // ethertype 0x0800, read little-endian
  asm.ldxb(R7, R2, 23),
];

/** Counts IPv4 packets by protocol into `counts`; returns `udpVerdict` for UDP and `pass` otherwise. */
function protoCounter(counts: BpfMap, dataOff: number, dataEndOff: number, pass: number, udpVerdict: number): AsmInput {
  return [
    asm.mov64(R6, R1),
    asm.ldxw(R2, R6, dataOff),
    asm.ldxw(R3, R6, dataEndOff),
    ipv4Proto,
    incrementR7(counts),
    asm.label('out'),
    asm.jeq(R7, 17, 'udp'),
    asm.label('pass'),
    asm.mov64(R0, pass),
    asm.exit(),
    asm.label('udp'),
    asm.mov64(R0, udpVerdict),
    asm.exit(),
  ];
}
const XDP_DROP = 1,
  XDP_PASS = 2,
  TCX_PASS = 0;
const xdpProgram = (counts: BpfMap, udp = XDP_PASS) =>
  Program.load({ type: 'xdp', instructions: protoCounter(counts, 0, 4, XDP_PASS, udp) });
const tcProgram = (counts: BpfMap) =>
  Program.load({ type: 'sched_cls', instructions: protoCounter(counts, 76, 80, TCX_PASS, TCX_PASS) });
const newCounts = () => BpfMap.create({ type: 'array', key: t.u32, value: t.u64, maxEntries: 256 });

/** Pings HOST from the namespace `n` times; true when all replies came back. */
function ping(n: number): boolean {
  try {
    inNs('ping', '-c', String(n), '-i', '0.1', '-W', '1', HOST_IP);
    return true;
  } catch {
    return false;
  }
}

/** Sends `n` UDP datagrams from the namespace to HOST:port; resolves with how many a socket on HOST received. */
async function udp(n: number): Promise<number> {
  const sock = createSocket('udp4');
  await new Promise<void>((r) => sock.bind(0, HOST_IP, r));
  let got = 0;
  sock.on('message', () => {
    got++;
  });
  const port = sock.address().port;
  inNs('bash', '-c', `for i in $(seq ${n}); do echo x > /dev/udp/${HOST_IP}/${port}; done`);
  const deadline = Date.now() + 1000;
  while (got < n && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  if (got === 0) await new Promise((r) => setTimeout(r, 200)); // a drop test: give stragglers a chance
  sock.close();
  return got;
}

const xdpShown = () => /\bxdp/.test(ip('link', 'show', 'dev', HOST));

test('XDP (generic mode) counts the namespace traffic by protocol; close leaves no attachment', async () => {
  using counts = newCounts();
  const prog = xdpProgram(counts);
  const link = prog.attachXdp(HOST, { mode: 'skb' });
  const info = link.info();
  assert.equal(info.type, 'xdp');
  assert.equal(info.ifindex, interfaceIndex(HOST));
  assert.ok(xdpShown(), 'ip link shows xdp');
  assert.ok(ping(3));
  assert.equal(await udp(4), 4);
  assert.equal(counts.lookup(1), 3n, 'ICMP echo requests');
  assert.equal(counts.lookup(17), 4n, 'UDP datagrams');
  const progId = prog.info().id;
  link.close();
  prog.close();
  assert.ok(!xdpShown(), 'no xdp after close');
  assert.ok(!Link.ids().includes(info.id));
  assert.ok(!Link.programIds().includes(progId));
});

test('XDP_DROP (native mode) really drops; update() swaps the program; pin keeps it attached', async () => {
  using counts = newCounts();
  using dropper = xdpProgram(counts, XDP_DROP);
  using passer = xdpProgram(counts, XDP_PASS);
  const link = dropper.attachXdp(interfaceIndex(HOST), { mode: 'native' });
  assert.equal(await udp(3), 0, 'the receiver sees nothing');
  assert.equal(counts.lookup(17), 3n, 'but XDP saw all three');
  assert.ok(ping(1), 'ICMP still passes');
  link.update(passer, { expected: dropper });
  assert.equal(link.info().programId, passer.info().id);
  assert.equal(await udp(2), 2, 'after update the datagrams arrive');
  assert.throws(() => link.update(dropper, { expected: dropper }), /BPF_LINK_UPDATE/); // not the attached one
  // Pinned: survives close, reopens, and goes away when unpinned and closed.
  const path = `${PIN_DIR}/xdp`;
  link.pin(path);
  const id = link.info().id;
  link.close();
  assert.ok(xdpShown(), 'pinned link stays attached');
  const again = Link.fromPin(path);
  assert.equal(again.info().id, id);
  rmSync(path);
  again.close();
  assert.ok(!xdpShown());
  assert.ok(!Link.ids().includes(id));
});

test('TCX ingress and egress count both directions; detach() stops it at once', () => {
  using inCounts = newCounts();
  using outCounts = newCounts();
  using inProg = tcProgram(inCounts);
  using outProg = tcProgram(outCounts);
  using ingress = inProg.attachTcx(HOST, 'ingress');
  using egress = outProg.attachTcx(HOST, 'egress');
  assert.equal(ingress.info().type, 'tcx');
  assert.equal(ingress.info().attachType, 'tcx_ingress');
  assert.equal(egress.info().attachType, 'tcx_egress');
  assert.equal(egress.info().ifindex, interfaceIndex(HOST));
  assert.ok(ping(3));
  assert.equal(inCounts.lookup(1), 3n, 'echo requests in');
  assert.equal(outCounts.lookup(1), 3n, 'echo replies out');
  const ids = [ingress.info().id, egress.info().id];
  ingress.detach();
  assert.ok(ping(1));
  assert.equal(inCounts.lookup(1), 3n, 'detached: no more counting');
  assert.equal(outCounts.lookup(1), 4n);
  ingress.close();
  egress.close();
  const live = new Set(Link.ids());
  assert.ok(ids.every((i) => !live.has(i)));
});

test('network attach errors: missing interface, wrong program type, bad mode', () => {
  using counts = newCounts();
  using xdp = xdpProgram(counts);
  using tc = tcProgram(counts);
  assert.throws(
    () => xdp.attachXdp('tsbpf-nope0'),
    (e: unknown) =>
      e instanceof AttachError && e.code === 'ENODEV' && /no network interface named "tsbpf-nope0"/.test(e.message),
  );
  assert.throws(
    () => xdp.attachXdp(999999),
    (e: unknown) => e instanceof AttachError && e.code === 'ENODEV',
  );
  assert.throws(
    () => tc.attachTcx('tsbpf-nope0', 'ingress'),
    (e: unknown) => e instanceof AttachError && e.code === 'ENODEV',
  );
  assert.throws(() => tc.attachXdp(HOST), /is of type sched_cls, but XDP on .* needs a xdp program/);
  assert.throws(() => xdp.attachTcx(HOST, 'ingress'), /needs a sched_cls or sched_act program/);
  assert.throws(() => xdp.attachXdp(HOST, { mode: 'turbo' as never }), /XDP mode must be one of/);
  assert.throws(() => tc.attachTcx(HOST, 'sideways' as never), /'ingress' or 'egress'/);
  assert.ok(!existsSync(`/sys/class/net/${PEER}`), 'the peer lives in its own namespace');
});
