/**
 * Socket filters on sockets of our own: a UDP dgram socket on 127.0.0.1 with a filter that drops datagrams
 * whose first payload byte is 'X'. Datagrams are sent, then counted on receipt: the dropped ones never arrive,
 * before detach; after close() every datagram arrives again. Also a raw fd and a TCP socket.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import net from 'node:net';
import { once } from 'node:events';
import { closeSync, openSync } from 'node:fs';
import { asm, BpfError, Program, R0, R1, R2, R3, R4, R6, R10, socketFd } from '../../src/index.js';

const UDP_HEADER = 8; // UDP sockets run their filter with skb->data at the UDP header
const DROP = 0x58; // 'X'

/** socket_filter: 0 (drop) when the byte at `at` is 'X', else keep the whole packet. */
function dropX(at: number): Program {
  return Program.load({
    type: 'socket_filter',
    name: 'drop_x',
    instructions: [
      asm.mov64(R6, R1),
      asm.mov64(R1, R6),
      asm.mov64(R2, at),
      asm.mov64(R3, R10),
      asm.add64(R3, -8),
      asm.mov64(R4, 1),
      asm.call('skb_load_bytes'),
      asm.jne(R0, 0, 'keep'),
      asm.ldxb(R1, R10, -8),
      asm.jeq(R1, DROP, 'drop'),
      asm.label('keep'),
      asm.mov64(R0, 0xffff),
      asm.exit(),
      asm.label('drop'),
      asm.mov64(R0, 0),
      asm.exit(),
    ],
  });
}

/** Sends each payload to `port` and returns the first bytes of what arrived on `rx` within the quiet period. */
async function exchange(rx: dgram.Socket, payloads: string[]): Promise<string[]> {
  const got: string[] = [];
  const onMsg = (m: Buffer) => got.push(m.toString());
  rx.on('message', onMsg);
  const tx = dgram.createSocket('udp4');
  try {
    for (const p of payloads)
      await new Promise<void>((res, rej) => tx.send(p, rx.address().port, '127.0.0.1', (e) => (e ? rej(e) : res())));
    // Loopback delivery is synchronous with send; the quiet period only lets the events run. The last payload
    // always passes, so waiting for it bounds the wait without a timer guess.
    const deadline = Date.now() + 2000;
    while (!got.includes(payloads[payloads.length - 1]!) && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 5));
    await new Promise((r) => setImmediate(r));
  } finally {
    tx.close();
    rx.off('message', onMsg);
  }
  return got;
}

test('socket filter on a dgram socket drops the datagrams it returns 0 for; close() detaches', async () => {
  using prog = dropX(UDP_HEADER);
  const rx = dgram.createSocket('udp4');
  rx.bind(0, '127.0.0.1');
  await once(rx, 'listening');
  try {
    const payloads = ['a1', 'X2', 'b3', 'X4', 'X5', 'c6', 'end'];
    const filter = prog.attachSocket(rx);
    assert.equal(filter.socketFd, socketFd(rx));
    const filtered = await exchange(rx, payloads);
    assert.deepEqual(filtered, ['a1', 'b3', 'c6', 'end']);
    filter.close();
    filter.close(); // twice is safe
    assert.throws(() => filter.socketFd, /closed/);
    const after = await exchange(rx, payloads);
    assert.deepEqual(after, payloads);
  } finally {
    rx.close();
  }
});

test('a raw fd works the same; close() after the socket closed is quiet', async () => {
  using prog = dropX(UDP_HEADER);
  const rx = dgram.createSocket('udp4');
  rx.bind(0, '127.0.0.1');
  await once(rx, 'listening');
  const filter = prog.attachSocket(socketFd(rx));
  try {
    assert.deepEqual(await exchange(rx, ['X', 'ok']), ['ok']);
  } finally {
    rx.close();
  }
  await new Promise((r) => setImmediate(r));
  filter.close();
});

test('a TCP socket takes a filter (net.Server and net.Socket give their fds)', async () => {
  using prog = dropX(0);
  const server = net.createServer((c) => c.end());
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  try {
    using f = prog.attachSocket(server);
    assert.ok(f.socketFd >= 0);
    const c = net.connect((server.address() as net.AddressInfo).port, '127.0.0.1');
    await once(c, 'connect');
    using f2 = prog.attachSocket(c);
    assert.equal(f2.socketFd, socketFd(c));
    c.destroy();
  } finally {
    server.close();
  }
});

test('bad targets: wrong program type, unbound socket, not a socket', async () => {
  using prog = dropX(UDP_HEADER);
  using xdp = Program.load({ type: 'xdp', instructions: [asm.mov64(R0, 2), asm.exit()] });
  const s = dgram.createSocket('udp4');
  try {
    assert.throws(() => xdp.attachSocket(0), /needs a socket_filter program/);
    assert.throws(() => prog.attachSocket(s), /no file descriptor yet/);
    assert.throws(() => prog.attachSocket(-1), /non-negative integer/);
    // A file is not a socket: the kernel says ENOTSOCK.
    const file = openSync('/dev/null', 'r');
    try {
      assert.throws(
        () => prog.attachSocket(file),
        (e: unknown) => e instanceof BpfError && e.code === 'ENOTSOCK',
      );
    } finally {
      closeSync(file);
    }
  } finally {
    s.close();
  }
});
