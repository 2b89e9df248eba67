/**
 * `tsbpf count packets` as a child process inside a test network namespace: a veth pair between two
 * namespaces this test creates (and removes in `after`), known UDP/TCP/ICMP packets sent from the
 * peer, exact per-protocol counts in the JSON summary and at the Prometheus endpoint.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { startCli } from './support/cli.js';

const id = `${process.pid % 10000}${Math.random().toString(36).slice(2, 5)}`;
const NS_A = `tsbpf-ca-${id}`; // runs the counter on veth A
const NS_B = `tsbpf-cb-${id}`; // sends
const VA = `tca${id}`.slice(0, 15);
const VB = `tcb${id}`.slice(0, 15);
const octet = 1 + (process.pid % 250);
const IP_A = `10.213.${octet}.1`;
const IP_B = `10.213.${octet}.2`;

const ip = (...args: string[]) => execFileSync('ip', args, { stdio: 'pipe' }).toString();
const inNs = (ns: string, cmd: string[]) =>
  execFileSync('ip', ['netns', 'exec', ns, ...cmd], { stdio: 'pipe' }).toString();

before(() => {
  ip('netns', 'add', NS_A);
  ip('netns', 'add', NS_B);
  for (const ns of [NS_A, NS_B]) {
    inNs(ns, ['sysctl', '-qw', 'net.ipv6.conf.all.disable_ipv6=1']);
    inNs(ns, ['sysctl', '-qw', 'net.ipv6.conf.default.disable_ipv6=1']);
    ip('-n', ns, 'link', 'set', 'lo', 'up');
  }
  ip('link', 'add', VA, 'netns', NS_A, 'type', 'veth', 'peer', 'name', VB, 'netns', NS_B);
  ip('-n', NS_A, 'addr', 'add', `${IP_A}/24`, 'dev', VA);
  ip('-n', NS_B, 'addr', 'add', `${IP_B}/24`, 'dev', VB);
  ip('-n', NS_A, 'link', 'set', VA, 'up');
  ip('-n', NS_B, 'link', 'set', VB, 'up');
  // Static neighbours: no ARP, so the only IPv4 frames are the ones the test sends (and the naive
  // counter, which drops non-IPv4 frames as the lab's does, cannot break resolution).
  const macA = JSON.parse(ip('-j', '-n', NS_A, 'link', 'show', VA))[0].address;
  const macB = JSON.parse(ip('-j', '-n', NS_B, 'link', 'show', VB))[0].address;
  ip('-n', NS_A, 'neigh', 'replace', IP_B, 'lladdr', macB, 'dev', VA, 'nud', 'permanent');
  ip('-n', NS_B, 'neigh', 'replace', IP_A, 'lladdr', macA, 'dev', VB, 'nud', 'permanent');
});

after(() => {
  for (const ns of [NS_A, NS_B]) {
    try {
      ip('netns', 'del', ns);
    } catch {
      /* already gone */
    }
  }
});

/** From NS_B: `udp` datagrams, `tcp` connection attempts to a closed port (one SYN each), `icmp` pings. */
function sendTraffic(udp: number, tcp: number, icmp: number): void {
  const script = `
    const dgram = require('node:dgram'); const net = require('node:net');
    (async () => {
      const s = dgram.createSocket('udp4');
      for (let i = 0; i < ${udp}; i++) await new Promise((r) => s.send('x', 9, '${IP_A}', r));
      s.close();
      for (let i = 0; i < ${tcp}; i++) await new Promise((r) => net.connect(9, '${IP_A}').on('error', r).on('connect', r));
    })();`;
  inNs(NS_B, [process.execPath, '-e', script]);
  if (icmp) inNs(NS_B, ['ping', '-q', '-c', String(icmp), '-i', '0.05', '-W', '1', IP_A]);
}

async function countRun(variant: string, extra: string[] = []) {
  const run = startCli(
    ['count', 'packets', '--iface', VA, '--variant', variant, '--json', '--duration', '3', ...extra],
    { prefix: ['ip', 'netns', 'exec', NS_A] },
  );
  await run.waitForStdout(/"type":"attached"/);
  return run;
}

test('count packets --variant ultra: exact per-protocol counts in JSON and at the Prometheus endpoint', async () => {
  const run = await countRun('ultra', ['--prometheus', '127.0.0.1:0', '--interval', '0.5']);
  const attached = run.json()[0];
  assert.equal(attached.type, 'attached');
  assert.equal(attached.iface, VA);
  assert.equal(attached.variant, 'ultra');
  assert.equal(attached.mode, 'skb');
  assert.match(attached.prometheus, /^http:\/\/127\.0\.0\.1:\d+\/metrics$/);
  sendTraffic(4, 2, 3);
  // The endpoint lives in NS_A's loopback: fetch it from inside the namespace.
  const metrics = inNs(NS_A, [
    process.execPath,
    '-e',
    `fetch(${JSON.stringify(attached.prometheus)}).then(async (r) => { process.stdout.write(r.headers.get('content-type') + '\\n' + await r.text()); })`,
  ]);
  assert.match(metrics, /^text\/plain; version=0\.0\.4/);
  const sample = (p: string) =>
    Number(
      new RegExp(`^tsbpf_packets_total\\{iface="${VA}",variant="ultra",protocol="${p}"\\} (\\d+)$`, 'm').exec(
        metrics,
      )?.[1],
    );
  assert.deepEqual(
    { tcp: sample('tcp'), udp: sample('udp'), icmp: sample('icmp'), other: sample('other') },
    { tcp: 2, udp: 4, icmp: 3, other: 0 },
  );
  assert.match(metrics, /# TYPE tsbpf_packets_total counter/);
  assert.equal(await run.exited, 0, run.stderr);
  const lines = run.json();
  const intervals = lines.filter((l) => l.type === 'interval');
  assert.ok(intervals.length >= 4, `${intervals.length} interval records`);
  for (const i of intervals) assert.deepEqual(Object.keys(i.protocols), ['tcp', 'udp', 'icmp', 'other']);
  assert.equal(intervals.at(-1).total.packets <= 9, true);
  const summary = lines.at(-1);
  assert.equal(summary.type, 'summary');
  assert.deepEqual(summary.protocols, { tcp: 2, udp: 4, icmp: 3, other: 0 });
  assert.equal(summary.totalPackets, 9);
  // Detached: no XDP program left on the interface.
  assert.doesNotMatch(ip('-n', NS_A, 'link', 'show', VA), /xdp/);
});

for (const variant of ['optimized', 'naive']) {
  test(`count packets --variant ${variant}: per-protocol counts summed over CPUs`, async () => {
    const run = await countRun(variant);
    sendTraffic(3, 1, 2);
    assert.equal(await run.exited, 0, run.stderr);
    const summary = run.json().at(-1);
    assert.equal(summary.variant, variant);
    assert.deepEqual(summary.protocols, { tcp: 1, udp: 3, icmp: 2 });
  });
}

test('count packets --bytes --flows: exact bytes per protocol, flows with ports, tsbpf_bytes_total', async () => {
  const run = await countRun('ultra', [
    '--bytes',
    '--flows',
    '--top',
    '2',
    '--interval',
    '0.5',
    '--prometheus',
    '127.0.0.1:0',
  ]);
  const attached = run.json()[0];
  assert.equal(attached.bytes, true);
  assert.deepEqual(attached.flows, { entries: 16384, top: 2 });
  sendTraffic(4, 0, 3);
  const metrics = inNs(NS_A, [
    process.execPath,
    '-e',
    `fetch(${JSON.stringify(attached.prometheus)}).then(async (r) => process.stdout.write(await r.text()))`,
  ]);
  // A one-byte UDP datagram is 14 + 20 + 8 + 1 = 43 bytes on the wire; a default ping 14 + 20 + 8 + 56 = 98.
  assert.match(metrics, new RegExp(`^tsbpf_bytes_total\\{iface="${VA}",variant="ultra",protocol="udp"\\} 172$`, 'm'));
  assert.match(metrics, new RegExp(`^tsbpf_bytes_total\\{iface="${VA}",variant="ultra",protocol="icmp"\\} 294$`, 'm'));
  assert.match(metrics, /# TYPE tsbpf_bytes_total counter/);
  assert.equal(await run.exited, 0, run.stderr);
  const lines = run.json();
  const summary = lines.at(-1);
  assert.deepEqual(summary.protocols, { tcp: 0, udp: 4, icmp: 3, other: 0 });
  assert.deepEqual(summary.bytes, { tcp: 0, udp: 172, icmp: 294, other: 0 });
  assert.deepEqual(summary.flows, { present: 2, inserted: 2, evicted: 0 });
  const flows = lines.filter((l) => l.type === 'flows').at(-1);
  assert.equal(flows.entries, 2);
  assert.equal(flows.byPackets.length, 2);
  const udp = flows.byPackets.find((f: { protocol: string }) => f.protocol === 'udp');
  assert.deepEqual(
    { src: udp.src, dst: udp.dst, dport: udp.dport, packets: udp.packets, bytes: udp.bytes },
    { src: IP_B, dst: IP_A, dport: 9, packets: 4, bytes: 172 },
  );
  assert.ok(udp.sport > 0);
  const icmp = flows.byBytes[0];
  assert.deepEqual(
    { protocol: icmp.protocol, packets: icmp.packets, bytes: icmp.bytes, sport: icmp.sport },
    { protocol: 'icmp', packets: 3, bytes: 294, sport: 0 },
  );
});

test('count packets --sample: estimates with a confidence interval; feature flags need the ultra variant', async () => {
  const run = await countRun('ultra', ['--sample', '2']);
  sendTraffic(40, 0, 0);
  assert.equal(await run.exited, 0, run.stderr);
  const summary = run.json().at(-1);
  assert.equal(summary.sampleEvery, 2);
  assert.equal(summary.totalPackets, summary.sampledPackets * 2);
  // Which packets are sampled is random: the statistics are checked on 200k packets in packet-counter-features.test.ts.
  assert.ok(summary.sampledPackets >= 0 && summary.sampledPackets <= 40, String(summary.sampledPackets));
  const {
    estimate,
    ci95: [low, high],
  } = summary.estimates.udp;
  assert.equal(estimate, summary.protocols.udp);
  const half = 1.96 * Math.sqrt(summary.sampledPackets * 2 * 1);
  assert.deepEqual([low, high], [Math.max(0, Math.floor(estimate - half)), Math.ceil(estimate + half)]);
  const bad = startCli(['count', 'packets', '--iface', VA, '--variant', 'naive', '--bytes', '--duration', '1'], {
    prefix: ['ip', 'netns', 'exec', NS_A],
  });
  assert.equal(await bad.exited, 2);
  assert.match(bad.stderr, /--bytes build on the ultra counter/);
});

test('count packets on an interface that does not exist fails with one clear line', async () => {
  const run = startCli(['count', 'packets', '--iface', 'tsbpfnope0', '--duration', '1'], {
    prefix: ['ip', 'netns', 'exec', NS_A],
  });
  assert.equal(await run.exited, 1);
  assert.match(run.stderr, /tsbpfnope0/);
});
