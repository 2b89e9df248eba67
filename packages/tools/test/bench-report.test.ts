/**
 * The bench HTML report renders in a real headless Chromium, offline, with every chart drawn:
 * the page counts canvases holding pixels after Chart.js ran and writes the count into the DOM.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { renderReport } from '../src/bench/report.js';
import type { BenchDocument } from '../src/bench/runner.js';
import type { SuiteResult } from '../src/bench/suite.js';

const CHROMIUM = '/usr/bin/chromium';

function sampleDoc(): BenchDocument {
  const xdp: SuiteResult = {
    suite: 'xdp',
    title: 'Lab 12.1 packet counters',
    rows: [
      {
        name: 'ultra ns/packet',
        value: 12.3,
        unit: 'ns/packet',
        spread: [11.9, 13.1],
        claim: '~20 Mpps',
        verdict: 'holds',
        ratio: { value: 0.98, against: 'clang -O2' },
      },
      {
        name: 'naive <script>alert(1)</script>',
        value: 41,
        unit: 'ns/packet',
        verdict: 'does not hold',
        note: 'escaped & safe',
      },
    ],
    charts: [
      {
        kind: 'bar',
        title: 'ns/packet per variant',
        yLabel: 'ns/packet',
        labels: ['naive', 'optimized', 'ultra'],
        series: [
          { name: 'tsbpf', data: [40, 20, 12] },
          { name: 'clang', data: [41, 19, 12.5] },
        ],
      },
      {
        kind: 'line',
        title: 'loss vs ring size',
        xLabel: 'bytes',
        yLabel: 'loss %',
        logX: true,
        labels: [65536, 262144, 1048576, 4194304],
        series: [{ name: 'loss', data: [50, 12, 0.5, 0] }],
      },
      {
        kind: 'bar',
        title: 'latency distribution',
        xLabel: 'µs',
        yLabel: 'events',
        labels: ['<10', '<100', '<1000'],
        series: [{ name: 'events', data: [1000, 200, null] }],
      },
    ],
    notes: ['a note'],
    checks: { 'counts equal': true },
    durationMs: 1234,
  };
  const other: SuiteResult = {
    suite: 'sizing',
    title: 'sizing',
    rows: [],
    charts: [
      {
        kind: 'line',
        title: 'p99 vs budget',
        yLabel: 'ms',
        labels: [0, 1, 2],
        series: [{ name: 'p99', data: [0.1, 0.9, 1.8] }],
      },
    ],
    notes: [],
    checks: {},
  };
  return {
    tool: 'tsbpf bench',
    version: '0.0.0-test',
    command: 'tsbpf bench xdp',
    startedAt: new Date(0).toISOString(),
    durationMs: 1,
    quick: true,
    repeats: 1,
    machine: { kernel: 'test', cpuModel: 'test cpu', onlineCpus: 2, node: process.versions.node, memTotalMiB: 1 },
    suites: [xdp, other],
    errors: { helpers: 'Error: boom </pre><b>' },
    ok: false,
  };
}

function dumpDom(file: string, profile: string): string {
  return execFileSync(
    CHROMIUM,
    [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--no-first-run',
      '--disable-dev-shm-usage',
      `--user-data-dir=${profile}`,
      '--virtual-time-budget=5000',
      '--dump-dom',
      `file://${file}`,
    ],
    { encoding: 'utf8', timeout: 60_000, stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 64 * 1024 * 1024 },
  );
}

test('report is self-contained: Chart.js inlined, no external references', () => {
  const html = renderReport(sampleDoc());
  assert.match(html, /Chart\.js v4/);
  assert.doesNotMatch(html, /<script[^>]+src=/);
  assert.doesNotMatch(html, /<link[^>]+href=/);
  assert.doesNotMatch(html, /sourceMappingURL/);
  // Suite text is escaped, never injected.
  assert.doesNotMatch(html, /<script>alert\(1\)<\/script>/);
  assert.match(html, /naive &lt;script&gt;/);
});

test('report renders in headless Chromium with every chart drawn', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tsbpf-report-'));
  try {
    const file = join(dir, 'report.html');
    writeFileSync(file, renderReport(sampleDoc()));
    const dom = dumpDom(file, join(dir, 'profile'));
    const m = /id="charts-status"[^>]*/.exec(dom);
    assert.ok(m, 'status marker present');
    const attr = (name: string) => new RegExp(`${name}="([^"]*)"`).exec(m[0])?.[1];
    assert.equal(attr('data-expected'), '4');
    assert.equal(attr('data-drawn'), '4', `all charts drawn (failed: ${attr('data-failed')})`);
    assert.match(dom, /data-charts-drawn="4"/);
    assert.equal((dom.match(/<canvas/g) ?? []).length, 4);
    assert.match(dom, /ultra ns\/packet/);
    assert.match(dom, /helpers: failed/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
