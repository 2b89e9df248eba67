import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { asm, AttachError, BpfMap, Link, Program, R0, R1, R2, R6, R10, t, uprobeOffset } from '../../src/index.js';
import { counter } from '../support/attach-progs.js';

const dir = mkdtempSync(join(tmpdir(), 'tsbpf-uprobe-'));
after(() => rmSync(dir, { recursive: true, force: true }));

// A small binary: calls tsbpf_target(i) n times (after a line on stdin when given "wait").
const src = join(dir, 'target.c');
const bin = join(dir, 'target');
writeFileSync(
  src,
  `
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
__attribute__((noinline)) int tsbpf_target(int x) { __asm__ volatile(""); return x * 2; }
int main(int argc, char **argv) {
  int n = argc > 1 ? atoi(argv[1]) : 1, s = 0;
  if (argc > 2 && strcmp(argv[2], "wait") == 0) getchar();
  for (int i = 0; i < n; i++) s += tsbpf_target(i);
  return s == -1;
}
`,
);
execFileSync('gcc', ['-O1', '-o', bin, src]);

/** uretprobe: adds pt_regs->ax (the return value, offset 80) into slot 0. */
function sumReturns(map: BpfMap) {
  return [
    asm.mov64(R6, R1),
    asm.ldxdw(R6, R6, 80),
    asm.stw(R10, -4, 0),
    asm.ldMapFd(R1, map),
    asm.mov64(R2, R10),
    asm.add64(R2, -4),
    asm.call('map_lookup_elem'),
    asm.jeq(R0, 0, 'out'),
    asm.atomicAdd64(R0, 0, R6),
    asm.label('out'),
    asm.mov64(R0, 0),
    asm.exit(),
  ];
}

test('uprobe on a function of a binary counts calls from a child; uretprobe sees return values', () => {
  using calls = BpfMap.create({ type: 'array', key: t.u32, value: t.u64, maxEntries: 1 });
  using sums = BpfMap.create({ type: 'array', key: t.u32, value: t.u64, maxEntries: 1 });
  const entry = Program.load({ type: 'kprobe', name: 'up_count', instructions: counter(calls) });
  const ret = Program.load({ type: 'kprobe', name: 'up_ret', instructions: sumReturns(sums) });
  const l1 = entry.attachUprobe({ binary: bin, symbol: 'tsbpf_target' });
  const l2 = ret.attachUprobe({ binary: bin, symbol: 'tsbpf_target', retprobe: true });
  const info = l1.info();
  assert.equal(info.perfEventType, 'uprobe');
  assert.equal(info.file, bin);
  assert.equal(info.offset, uprobeOffset(bin, 'tsbpf_target'));
  assert.equal(l2.info().perfEventType, 'uretprobe');
  assert.equal(spawnSync(bin, ['7']).status, 0);
  assert.equal(calls.lookup(0), 7n);
  assert.equal(sums.lookup(0), 42n); // 2 * (0 + 1 + ... + 6)
  const ids = [info.id, l2.info().id];
  const progs = [entry.info().id, ret.info().id];
  l1.close();
  l2.close();
  entry.close();
  ret.close();
  spawnSync(bin, ['3']);
  assert.equal(calls.lookup(0), 7n, 'nothing counted after close');
  const live = new Set(Link.ids());
  assert.ok(ids.every((id) => !live.has(id)));
  const liveProgs = new Set(Link.programIds());
  assert.ok(progs.every((id) => !liveProgs.has(id)));
});

test('uprobe by offset, limited to one pid', async () => {
  using calls = BpfMap.create({ type: 'array', key: t.u32, value: t.u64, maxEntries: 1 });
  using prog = Program.load({ type: 'kprobe', instructions: counter(calls) });
  const child = spawn(bin, ['4', 'wait'], { stdio: ['pipe', 'ignore', 'inherit'] });
  try {
    using link = prog.attachUprobe({ binary: bin, offset: uprobeOffset(bin, 'tsbpf_target'), pid: child.pid! });
    assert.match(link.what, /\(pid \d+\)/);
    assert.equal(spawnSync(bin, ['5']).status, 0); // another process: not counted
    const exited = new Promise((r) => child.on('exit', r));
    child.stdin!.end('\n');
    await exited;
    assert.equal(calls.lookup(0), 4n);
  } finally {
    child.kill();
  }
});

test('uprobe errors: missing binary, missing symbol, wrong program type', () => {
  using kp = Program.load({ type: 'kprobe', instructions: [asm.mov64(R0, 0), asm.exit()] });
  assert.throws(
    () => kp.attachUprobe({ binary: join(dir, 'nope'), symbol: 'x' }),
    (e: unknown) => e instanceof AttachError && e.code === 'ENOENT' && /no such file/.test(e.message),
  );
  assert.throws(
    () => kp.attachUprobe({ binary: bin, symbol: 'no_such_fn' }),
    (e: unknown) => e instanceof AttachError && /no function symbol "no_such_fn"/.test(e.message),
  );
  assert.throws(() => kp.attachUprobe({ binary: bin } as never), /needs a symbol or an offset/);
  using tp = Program.load({ type: 'tracepoint', instructions: [asm.mov64(R0, 0), asm.exit()] });
  assert.throws(
    () => tp.attachUprobe({ binary: bin, symbol: 'tsbpf_target' }),
    /is of type tracepoint, but uprobe needs a kprobe program/,
  );
  // A libc symbol resolves through the library search path.
  assert.ok(uprobeOffset('libc.so.6', 'getpid') > 0);
});
