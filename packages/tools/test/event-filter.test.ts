// The trace commands' --filter language: precedence, every operator, and errors that point at the bad token.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compileFilter, FilterSyntaxError, type FieldKind } from '../src/labs/event-filter.js';

const FIELDS: Record<string, FieldKind> = { pid: 'number', comm: 'string', ret: 'number', filename: 'string' };
const ev = (pid: number, comm: string, ret = 0, filename = '/etc/passwd') => ({ pid, comm, ret, filename });
const pick = (expr: string, events: ReturnType<typeof ev>[]) =>
  events.filter(compileFilter(expr, FIELDS)).map((e) => `${e.comm}:${e.pid}`);

const EVENTS = [
  ev(1, 'init'),
  ev(100, 'bash', -2),
  ev(2000, 'bash'),
  ev(3000, 'nginx', -13, '/var/log/x'),
  ev(4000, 'node'),
];

test('comparisons on numbers and strings', () => {
  assert.deepEqual(pick('pid == 100', EVENTS), ['bash:100']);
  assert.deepEqual(pick('pid != 100', EVENTS), ['init:1', 'bash:2000', 'nginx:3000', 'node:4000']);
  assert.deepEqual(pick('pid < 100', EVENTS), ['init:1']);
  assert.deepEqual(pick('pid <= 100', EVENTS), ['init:1', 'bash:100']);
  assert.deepEqual(pick('pid > 2000', EVENTS), ['nginx:3000', 'node:4000']);
  assert.deepEqual(pick('pid >= 2000', EVENTS), ['bash:2000', 'nginx:3000', 'node:4000']);
  assert.deepEqual(pick('ret < 0', EVENTS), ['bash:100', 'nginx:3000']);
  assert.deepEqual(pick('pid == 0x64', EVENTS), ['bash:100']);
  assert.deepEqual(pick('comm == "bash"', EVENTS), ['bash:100', 'bash:2000']);
  assert.deepEqual(pick("comm == 'bash'", EVENTS), ['bash:100', 'bash:2000']);
  assert.deepEqual(pick('comm == bash', EVENTS), ['bash:100', 'bash:2000']);
  assert.deepEqual(pick('comm != bash', EVENTS), ['init:1', 'nginx:3000', 'node:4000']);
  assert.deepEqual(pick('comm > n', EVENTS), ['nginx:3000', 'node:4000']);
  assert.deepEqual(pick('filename ~ "^/var/"', EVENTS), ['nginx:3000']);
  assert.deepEqual(pick('comm ~ "^n(ginx|ode)$"', EVENTS), ['nginx:3000', 'node:4000']);
  assert.deepEqual(pick('filename == "/etc/pass\\"wd"', [ev(1, 'a', 0, '/etc/pass"wd')]), ['a:1']);
});

test('&& binds tighter than ||; ! and parentheses', () => {
  assert.deepEqual(pick('comm == bash && pid > 1000 || comm == init', EVENTS), ['init:1', 'bash:2000']);
  assert.deepEqual(pick('comm == bash && (pid > 1000 || ret < 0)', EVENTS), ['bash:100', 'bash:2000']);
  assert.deepEqual(pick('!(comm == bash)', EVENTS), ['init:1', 'nginx:3000', 'node:4000']);
  assert.deepEqual(pick('!comm == bash || !!(pid == 1)', EVENTS), ['init:1', 'nginx:3000', 'node:4000']);
  assert.deepEqual(pick('((pid > 0)) && !(ret < 0) && comm ~ "o"', EVENTS), ['node:4000']);
});

test('errors name the problem and point at the token with a caret', () => {
  const cases: [string, RegExp, number][] = [
    ['pid >', /expected a value after ">" but found end of expression/, 5],
    ['pud == 1', /unknown field "pud" \(fields: pid, comm, ret, filename\)/, 0],
    ['pid = 1', /unexpected character "="/, 4],
    ['pid == 1 &&', /expected a field name but found end of expression/, 11],
    ['(pid == 1', /expected "\)" but found end of expression/, 9],
    ['pid == 1)', /unexpected "\)"/, 8],
    ['pid == bash', /field "pid" is a number; "bash" is not/, 7],
    ['comm ~ "("', /invalid regular expression/, 7],
    ['comm == "bash', /unterminated string/, 8],
    ['pid 1', /expected a comparison/, 4],
    ['', /empty filter/, 0],
    ['pid == 1 || || pid == 2', /expected a field name but found "\|\|"/, 12],
  ];
  for (const [expr, re, pos] of cases) {
    assert.throws(
      () => compileFilter(expr, FIELDS),
      (e: unknown) => {
        assert.ok(e instanceof FilterSyntaxError, expr);
        assert.match(e.message, re, expr);
        assert.equal(e.position, pos, `${expr}: position`);
        const lines = e.message.split('\n');
        assert.equal(lines[1], `  ${expr}`);
        assert.equal(lines[2], `  ${' '.repeat(pos)}^`);
        return true;
      },
    );
  }
});

test('the filter never evaluates code: a field named like a global is just an unknown field', () => {
  assert.throws(() => compileFilter('process.exit == 1', FIELDS), /unknown field "process.exit"/);
  assert.throws(() => compileFilter('constructor == 1', FIELDS), /unknown field "constructor"/);
});
