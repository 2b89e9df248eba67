/**
 * The `tsbpf bench --report` page: one self-contained, offline HTML file with every suite's table
 * (claim beside measurement, verdict) and its charts, drawn by Chart.js inlined from node_modules.
 * Once the charts are drawn, the page writes a marker (`#charts-status`) that tests read back from
 * a headless browser's DOM.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { BenchDocument } from './runner.js';
import type { Chart, Row, SuiteResult } from './suite.js';
import { fmt } from './runner.js';

const require = createRequire(import.meta.url);

/** The Chart.js UMD bundle's source (its source-map comment removed so the page never fetches). */
export function chartJsSource(): string {
  // The package exports only its ESM/CJS entry points; the UMD bundle sits next to them in dist/.
  const entry = require.resolve('chart.js');
  const src = readFileSync(join(dirname(entry), 'chart.umd.min.js'), 'utf8');
  return src.replace(/\/\/# sourceMappingURL=.*$/m, '');
}

/** Escapes text for HTML element content and attribute values. */
function esc(s: unknown): string {
  return String(s).replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!,
  );
}

/** JSON safe to embed inside a <script> element. */
function scriptJson(v: unknown): string {
  return JSON.stringify(v)
    .replace(/</g, '\\u003c')
    .replace(/\u2028/g, '\\u2028')
    .replace(/\u2029/g, '\\u2029');
}

const VERDICT_CLASS: Record<string, string> = {
  holds: 'ok',
  'does not hold': 'bad',
  'not comparable': 'nc',
  info: 'info',
};

function rowHtml(r: Row): string {
  const v = r.verdict ?? '';
  return (
    `<tr><td>${esc(r.name)}</td><td class="num">${esc(fmt(r.value))} <span class="unit">${esc(r.unit)}</span></td>` +
    `<td class="num">${r.spread ? `${esc(fmt(r.spread[0]))}–${esc(fmt(r.spread[1]))}` : ''}</td>` +
    `<td>${esc(r.claim ?? '')}</td><td class="verdict ${VERDICT_CLASS[v] ?? ''}">${esc(v === 'info' ? '' : v)}</td>` +
    `<td class="num">${r.ratio ? `${esc(fmt(r.ratio.value))}× vs ${esc(r.ratio.against)}` : ''}</td>` +
    `<td class="note">${esc(r.note ?? '')}</td></tr>`
  );
}

function suiteHtml(s: SuiteResult, chartBase: number): string {
  const checks = Object.entries(s.checks);
  const charts = s.charts
    .map(
      (c: Chart, i: number) =>
        `<figure class="chart"><div class="canvas-box"><canvas id="chart-${chartBase + i}" aria-label="${esc(c.title)}"></canvas></div></figure>`,
    )
    .join('');
  return (
    `<section id="suite-${esc(s.suite)}"><h2>${esc(s.suite)} <small>${esc(s.title)}</small>` +
    `${s.durationMs !== undefined ? ` <span class="dur">${(s.durationMs / 1000).toFixed(1)} s</span>` : ''}</h2>` +
    `<table><thead><tr><th>measurement</th><th>median</th><th>spread</th><th>seed claim</th><th>verdict</th><th>ratio</th><th>note</th></tr></thead>` +
    `<tbody>${s.rows.map(rowHtml).join('')}</tbody></table>` +
    (s.notes.length ? `<ul class="notes">${s.notes.map((n) => `<li>${esc(n)}</li>`).join('')}</ul>` : '') +
    (checks.length
      ? `<p class="checks">checks: ${checks.map(([k, ok]) => `<span class="${ok ? 'ok' : 'bad'}">${ok ? '✔' : '✘'} ${esc(k)}</span>`).join(' ')}</p>`
      : '') +
    (charts ? `<div class="charts">${charts}</div>` : '') +
    '</section>'
  );
}

/** Renders the report page for a bench document. */
export function renderReport(doc: BenchDocument): string {
  const charts: Chart[] = [];
  const sections: string[] = [];
  for (const s of doc.suites) {
    sections.push(suiteHtml(s, charts.length));
    charts.push(...s.charts);
  }
  const errors = Object.entries(doc.errors);
  const summary = doc.suites
    .map((s) => {
      const count = (v: string) => s.rows.filter((r) => r.verdict === v).length;
      const failed = Object.values(s.checks).filter((x) => !x).length;
      return (
        `<tr><td><a href="#suite-${esc(s.suite)}">${esc(s.suite)}</a></td><td class="num ok">${count('holds')}</td><td class="num bad">${count('does not hold')}</td>` +
        `<td class="num nc">${count('not comparable')}</td><td class="num">${Object.keys(s.checks).length - failed}/${Object.keys(s.checks).length}</td></tr>`
      );
    })
    .join('');
  const m = doc.machine;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>tsbpf bench — ${esc(m.cpuModel)} — ${esc(doc.startedAt)}</title>
<style>
body{font:14px/1.45 system-ui,sans-serif;margin:0 auto;max-width:1200px;padding:1em 2em;color:#1d1d1f}
h1{margin-bottom:.2em} h2{border-bottom:2px solid #ddd;padding-bottom:.2em;margin-top:2em} h2 small{font-weight:normal;color:#555}
.dur{font-size:60%;color:#888;font-weight:normal} .meta{color:#555}
table{border-collapse:collapse;width:100%;margin:.5em 0} th,td{border-bottom:1px solid #eee;padding:3px 6px;text-align:left;vertical-align:top}
th{background:#f6f6f6} td.num{text-align:right;white-space:nowrap} .unit{color:#777} td.note{color:#555;font-size:90%}
.ok{color:#1a7f37} .bad{color:#cf222e} .nc{color:#9a6700} .verdict{font-weight:600;white-space:nowrap}
.charts{display:grid;grid-template-columns:repeat(auto-fill,minmax(520px,1fr));gap:1em} .chart{margin:0}
.canvas-box{position:relative;height:320px} .notes li{margin:.2em 0} pre{background:#f6f6f6;padding:.5em;overflow:auto}
#charts-status{color:#888;font-size:90%}
</style></head><body>
<h1>tsbpf bench</h1>
<p class="meta">${esc(m.cpuModel)} · ${m.onlineCpus} CPUs · ${m.memTotalMiB} MiB · Linux ${esc(m.kernel)} · Node ${esc(m.node)} · tsbpf ${esc(doc.version)}<br>
<code>${esc(doc.command)}</code> · ${esc(doc.startedAt)} · ${(doc.durationMs / 1000).toFixed(1)} s · ${doc.quick ? 'quick mode · ' : ''}median of ${doc.repeats} ·
<b class="${doc.ok ? 'ok' : 'bad'}">${doc.ok ? 'all suites ran, all checks passed' : 'some suites failed or checks did not pass'}</b></p>
<table class="summary"><thead><tr><th>suite</th><th>holds</th><th>does not hold</th><th>not comparable</th><th>checks passed</th></tr></thead><tbody>${summary}</tbody></table>
${errors.map(([n, e]) => `<section><h2 class="bad">${esc(n)}: failed</h2><pre>${esc(e)}</pre></section>`).join('\n')}
${sections.join('\n')}
<p id="charts-status" data-expected="${charts.length}" data-drawn="0">charts: not drawn (scripts disabled?)</p>
<script type="application/json" id="bench-data">${scriptJson(doc)}</script>
<script type="application/json" id="chart-specs">${scriptJson(charts)}</script>
<script>${chartJsSource()}</script>
<script>${DRAW_SCRIPT}</script>
</body></html>
`;
}

/** Draws every chart spec onto its canvas, then records how many canvases really hold pixels. */
const DRAW_SCRIPT = `
(function () {
  var specs = JSON.parse(document.getElementById('chart-specs').textContent);
  var palette = ['#0969da', '#cf222e', '#1a7f37', '#9a6700', '#8250df', '#bf3989', '#1b7c83', '#57606a'];
  var status = document.getElementById('charts-status');
  var drawn = 0, failed = [];
  specs.forEach(function (spec, i) {
    var canvas = document.getElementById('chart-' + i);
    try {
      var line = spec.kind === 'line';
      var datasets = spec.series.map(function (s, k) {
        var color = palette[k % palette.length];
        var data = line ? s.data.map(function (y, j) { return { x: Number(spec.labels[j]), y: y }; }) : s.data;
        return { label: s.name, data: data, backgroundColor: line ? color : color + 'cc', borderColor: color, borderWidth: line ? 2 : 1, pointRadius: 3, spanGaps: true };
      });
      new Chart(canvas, {
        type: line ? 'line' : 'bar',
        data: { labels: line ? undefined : spec.labels.map(String), datasets: datasets },
        options: {
          animation: false, responsive: true, maintainAspectRatio: false,
          plugins: { title: { display: true, text: spec.title }, legend: { display: spec.series.length > 1 } },
          scales: {
            x: line ? { type: spec.logX ? 'logarithmic' : 'linear', title: { display: !!spec.xLabel, text: spec.xLabel || '' } }
                    : { title: { display: !!spec.xLabel, text: spec.xLabel || '' } },
            y: { beginAtZero: true, title: { display: true, text: spec.yLabel } }
          }
        }
      });
      // A chart counts as drawn only if its canvas holds non-transparent pixels.
      var ctx = canvas.getContext('2d');
      var px = ctx.getImageData(0, 0, canvas.width, canvas.height).data, ink = 0;
      for (var p = 3; p < px.length; p += 16) if (px[p] !== 0) ink++;
      if (ink > 50) drawn++; else failed.push(i + ':blank');
    } catch (e) { failed.push(i + ':' + e); }
  });
  status.dataset.drawn = String(drawn);
  status.dataset.failed = failed.join(' ');
  status.textContent = 'charts drawn: ' + drawn + '/' + specs.length + (failed.length ? ' (failed: ' + failed.join(', ') + ')' : '');
  document.body.setAttribute('data-charts-drawn', String(drawn));
})();
`;
