/** `tsbpf` help, usage errors (exit 2, one line) and missing privileges (exit 77), as a child process. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runCli } from './support/cli.js';

test('tsbpf --help lists every command and the exit statuses', async () => {
  const r = await runCli(['--help']);
  assert.equal(r.code, 0);
  for (const c of ['trace', 'count', 'probe', 'bench']) assert.match(r.stdout, new RegExp(`^  ${c}\\b`, 'm'));
  assert.match(r.stdout, /77 missing privileges/);
});

test('every subcommand has complete --help', async () => {
  const cases: [string[], RegExp[]][] = [
    [
      ['trace', 'exec'],
      [/--mode <mode>/, /zerocopy/, /--min-pid/, /--duration/, /--json/, /TIME PID UID COMM/],
    ],
    [
      ['trace', 'syscalls'],
      [/--pid/, /--comm/, /--min-duration-us/, /--buffer <kind>/, /--summary/, /--json/, /--duration/],
    ],
    [
      ['trace', 'open'],
      [/--pid/, /--comm/, /--json/, /recordBytes/],
    ],
    [
      ['count', 'packets'],
      [/--iface/, /--variant/, /naive/, /optimized/, /ultra/, /--mode <mode>/, /--prometheus/, /--json/, /--interval/],
    ],
    [['probe'], [/--json/, /--no-helpers/, /--section/]],
  ];
  for (const [cmd, patterns] of cases) {
    const r = await runCli([...cmd, '--help']);
    assert.equal(r.code, 0, cmd.join(' '));
    for (const p of patterns) assert.match(r.stdout, p, `${cmd.join(' ')} --help lacks ${p}`);
  }
});

test('bad flags and values: one line on stderr, exit 2', async () => {
  const cases = [
    ['trace', 'exec', '--bogus'],
    ['trace', 'exec', '--mode', 'nope'],
    ['trace', 'exec', '--duration', '-1'],
    ['trace', 'exec', '--min-pid', '5'], // only with --mode filtered
    ['trace', 'syscalls', '--pid', 'abc'],
    ['trace', 'syscalls', '--buffer', 'tape'],
    ['count', 'packets'], // --iface is required
    ['count', 'packets', '--iface', 'x', '--variant', 'fast'],
    ['count', 'packets', '--iface', 'x', '--prometheus', 'nohost:port'],
    ['nosuchcommand'],
  ];
  for (const args of cases) {
    const r = await runCli(args);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.equal(r.stdout, '', args.join(' '));
    assert.equal(r.stderr.trimEnd().split('\n').length, 1, `${args.join(' ')} printed more than one line: ${r.stderr}`);
    assert.match(r.stderr, /^error:/);
  }
});

test('without privileges each command says which capabilities are missing (exit 77)', async () => {
  // Root with an empty bounding set: uid 0, but no capabilities at all after exec.
  const prefix = ['setpriv', '--bounding-set=-all', '--inh-caps=-all'];
  const t = await runCli(['trace', 'exec', '--duration', '1'], { prefix });
  assert.equal(t.code, 77, t.stderr);
  assert.match(t.stderr, /missing CAP_BPF, CAP_PERFMON/);
  const c = await runCli(['count', 'packets', '--iface', 'lo', '--duration', '1'], { prefix });
  assert.equal(c.code, 77, c.stderr);
  assert.match(c.stderr, /missing CAP_BPF, CAP_NET_ADMIN/);
  const p = await runCli(['probe'], { prefix });
  assert.equal(p.code, 77, p.stderr);
  assert.match(p.stderr, /CAP_BPF/);
});

test('a bad --filter is a usage error that points at the token', async () => {
  const r = await runCli(['trace', 'open', '--filter', 'pid > 10 && comm =~ x']);
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /--filter: unexpected character "=" at position 18/);
  assert.match(r.stderr, /\n {2}pid > 10 && comm =~ x\n {19}\^/);
  const s = await runCli(['trace', 'syscalls', '--summary', '--filter', 'pid == 1']);
  assert.equal(s.code, 2);
  assert.match(s.stderr, /--filter does not apply to --summary/);
});
