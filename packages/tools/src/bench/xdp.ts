/**
 * Suite `xdp`: Lab 12.1's naive / optimized / ultra packet counters.
 * 1. ns/packet by test-run over a realistic packet mix, tsbpf-assembled vs the same programs built
 *    from C by clang -O2 (bench/xdp/*.bpf.c), ratios within one run, interleaved repeats;
 * 2. instructions executed per packet (traced) and the kernel's xlated/JITed sizes;
 * 3. live Mpps on a veth pair in a private network namespace, driven by an in-kernel generator
 *    (test-run with BPF_F_TEST_XDP_LIVE_FRAMES returning XDP_TX), counters returning XDP_DROP and
 *    XDP_PASS, next to the lab's 5/15/20 Mpps.
 */
import { execFileSync, spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type BpfMap, onlineCpus, probeKernel, Program } from 'tsbpf';
import { COUNTER_VARIANTS, counterProgram, type CounterVariant } from '../labs/packet-counter-programs.js';
import { assemble } from 'tsbpf';
import { clangVersion, compileBpfC, linkProgramSection } from './clang-reference.js';
import { traceXdp } from './insn-trace.js';
import { measureCounterFeatures } from './xdp-features.js';
import { median, spread, type BenchContext, type BenchSuite, type Chart, type Row, type SuiteResult } from './suite.js';
import type { LiveRun, LiveWorkerMessage, LiveWorkerRequest } from './xdp-live-worker.js';
import {
  createCounterMap,
  readCounters,
  returnOnlyProgram,
  templateFrame,
  TRAFFIC_MIX,
  type CounterTotals,
} from './xdp-traffic.js';

const XDP_PASS = 2;
const XDP_DROP = 1;
/** The C map symbol of each variant (bench/xdp/<variant>.bpf.c). */
const C_MAP_SYMBOL: Record<CounterVariant, string> = {
  naive: 'naive_counter',
  optimized: 'optimized_stats',
  ultra: 'ultra_stats',
};
/** Lab 12.1's expected Mpps per variant ("Expected Results" table). */
const SEED_MPPS: Record<CounterVariant, number> = { naive: 5, optimized: 15, ultra: 20 };

interface LoadedCounter {
  key: string;
  variant: CounterVariant | null;
  impl: 'tsbpf' | 'clang' | 'baseline';
  prog: Program;
  map: BpfMap | null;
  insns: Uint8Array;
}

/** `variant`'s counter map for one implementation (named e.g. `tsbpf_ultra`, `clang_naive`). */
function implCounterMap(variant: CounterVariant, impl: string): BpfMap {
  return createCounterMap(variant, `${impl.slice(0, 5)}_${variant}`);
}

function loadCounters(): LoadedCounter[] {
  const out: LoadedCounter[] = [];
  try {
    for (const variant of COUNTER_VARIANTS) {
      const tsMap = implCounterMap(variant, 'tsbpf');
      const tsInsns = assemble(counterProgram(variant, tsMap));
      out.push({
        key: `tsbpf ${variant}`,
        variant,
        impl: 'tsbpf',
        map: tsMap,
        insns: tsInsns,
        prog: Program.load({ type: 'xdp', name: `ts_${variant}`, instructions: tsInsns }),
      });
      const cMap = implCounterMap(variant, 'clang');
      const cInsns = linkProgramSection(compileBpfC('xdp', variant), 'xdp', { [C_MAP_SYMBOL[variant]]: cMap });
      out.push({
        key: `clang ${variant}`,
        variant,
        impl: 'clang',
        map: cMap,
        insns: cInsns,
        prog: Program.load({ type: 'xdp', name: `c_${variant}`, instructions: cInsns }),
      });
    }
    const base = assemble(returnOnlyProgram(XDP_PASS));
    out.push({
      key: 'baseline',
      variant: null,
      impl: 'baseline',
      map: null,
      insns: base,
      prog: Program.load({ type: 'xdp', name: 'base_pass', instructions: base }),
    });
  } catch (e) {
    for (const c of out) {
      c.prog.close();
      c.map?.close();
    }
    throw e;
  }
  return out;
}

function weighted(perClass: number[]): number {
  return TRAFFIC_MIX.reduce((s, c, i) => s + (c.percent / 100) * perClass[i]!, 0);
}

/** The static half: test-run ns/packet, instruction counts, consistency of counters and verdicts. */
function measureTestRun(
  ctx: BenchContext,
  rows: Row[],
  charts: Chart[],
  notes: string[],
  checks: Record<string, boolean>,
  extra: Record<string, unknown>,
): Map<string, number> {
  const iterations = ctx.quick ? 50_000 : 200_000;
  const warmup = 1000;
  const frames = TRAFFIC_MIX.map((c) => templateFrame(c));
  const counters = loadCounters();
  const nsByKey = new Map<string, number>();
  try {
    // Kernel verdict vs traced verdict, and path lengths, per program and class.
    let verdictsAgree = true;
    const executed = new Map<string, number[]>();
    for (const c of counters) {
      const perClass: number[] = [];
      for (const f of frames) {
        const k = c.prog.testRun({ data: f, repeat: warmup, dataOutSize: 0 });
        const tr = traceXdp(c.insns, f);
        if (k.retval !== tr.retval) verdictsAgree = false;
        perClass.push(tr.executed);
      }
      executed.set(c.key, perClass);
    }
    checks['kernel verdicts equal traced verdicts (every program × packet class)'] = verdictsAgree;

    // Timing: repeats outermost, program order rotated each repeat, so drift hits all alike.
    const samples = new Map<string, number[][]>(counters.map((c) => [c.key, TRAFFIC_MIX.map(() => [])]));
    const total = ctx.repeats * counters.length * frames.length;
    let done = 0;
    for (let rep = 0; rep < ctx.repeats; rep++) {
      const order = counters.map((_, i) => counters[(i + rep) % counters.length]!);
      for (const [ci, f] of frames.entries()) {
        for (const c of order) {
          // The kernel's own per-run average: wall time would add the ~20 ms each repeated XDP
          // test-run spends swapping the program into the XDP dispatcher, and preemptions.
          const ns = c.prog.testRun({ data: f, repeat: iterations, dataOutSize: 0 }).durationNs;
          samples.get(c.key)![ci]!.push(ns);
          ctx.progress((++done / total) * 0.45, `test-run ${c.key} ${TRAFFIC_MIX[ci]!.name}`);
        }
      }
    }
    // Per repeat: the mix-weighted ns/packet of each program.
    const mixByRep = (key: string) =>
      Array.from({ length: ctx.repeats }, (_, r) => weighted(samples.get(key)!.map((s) => s[r]!)));
    const base = mixByRep('baseline');
    nsByKey.set('baseline', median(base));
    rows.push({
      name: 'empty XDP program (r0 = XDP_PASS; exit)',
      value: median(base),
      unit: 'ns/packet',
      spread: spread(base),
      verdict: 'info',
      note: "test-run loop overhead: subtract it to get a program's own cost",
    });
    for (const v of COUNTER_VARIANTS) {
      const ts = mixByRep(`tsbpf ${v}`);
      const cl = mixByRep(`clang ${v}`);
      const ratios = ts.map((x, i) => x / cl[i]!);
      const netRatios = ts.map((x, i) => (x - base[i]!) / Math.max(0.01, cl[i]! - base[i]!));
      const r = median(ratios);
      nsByKey.set(`tsbpf ${v}`, median(ts));
      nsByKey.set(`clang ${v}`, median(cl));
      rows.push({
        name: `${v}: tsbpf-assembled, test-run, mix`,
        value: median(ts),
        unit: 'ns/packet',
        spread: spread(ts),
        claim: 'within 10% of clang -O2 (issue 8)',
        verdict: r <= 1.1 ? 'holds' : 'does not hold',
        ratio: { value: r, against: 'clang -O2' },
        note: `net of the empty program: ${(median(ts) - median(base)).toFixed(1)} vs ${(median(cl) - median(base)).toFixed(1)} ns (ratio ${median(netRatios).toFixed(2)}); ≈${(1000 / median(ts)).toFixed(0)} Mpps of program time on one core`,
      });
      rows.push({
        name: `${v}: clang -O2 from bench/xdp/${v}.bpf.c`,
        value: median(cl),
        unit: 'ns/packet',
        spread: spread(cl),
        verdict: 'info',
      });
    }
    // Instruction counts: traced path length over the mix, and the typical (TCP) case.
    const path = (key: string) => executed.get(key)!;
    for (const v of COUNTER_VARIANTS) {
      const ts = counters.find((c) => c.key === `tsbpf ${v}`)!;
      const cl = counters.find((c) => c.key === `clang ${v}`)!;
      const info = ts.prog.info();
      const cInfo = cl.prog.info();
      const tcp = path(ts.key)[0]!;
      const claim =
        v === 'ultra'
          ? '~15 per packet (typical case); < 50 budget'
          : v === 'optimized'
            ? '20 instructions; < 50 budget'
            : '< 50 per packet (lab budget)';
      const target = v === 'ultra' ? 15 * 1.2 : v === 'optimized' ? 20 : 50;
      rows.push({
        name: `${v}: instructions executed, TCP/IPv4 (typical)`,
        value: tcp,
        unit: 'insns',
        claim,
        verdict: tcp <= target ? 'holds' : 'does not hold',
        note: `mix average ${weighted(path(ts.key)).toFixed(1)} (clang: TCP ${path(cl.key)[0]}, mix ${weighted(path(cl.key)).toFixed(1)}); program ${ts.insns.length / 8} slots (clang ${cl.insns.length / 8}); xlated ${info.xlatedLength / 8} insns, JIT ${info.jitedLength} bytes (clang ${cInfo.jitedLength})`,
      });
    }
    extra.instructionsExecuted = Object.fromEntries(
      [...executed].map(([k, v]) => [k, Object.fromEntries(TRAFFIC_MIX.map((c, i) => [c.name, v[i]]))]),
    );
    extra.testRunNsPerClass = Object.fromEntries(
      [...samples].map(([k, v]) => [k, Object.fromEntries(TRAFFIC_MIX.map((c, i) => [c.name, median(v[i]!)]))]),
    );

    // Every run added `warmup + repeats × iterations` to its class's counter.
    const perClass = warmup + ctx.repeats * iterations;
    const expect: CounterTotals = {
      tcp: perClass,
      udp: perClass,
      icmp: perClass,
      other: perClass,
      total: 4 * perClass,
    };
    let countsOk = true;
    for (const c of counters) {
      if (!c.variant || !c.map) continue;
      const got = readCounters(c.variant, c.map);
      if (got.tcp !== expect.tcp || got.udp !== expect.udp || got.icmp !== expect.icmp || got.other !== expect.other) {
        countsOk = false;
        notes.push(`${c.key} counted ${JSON.stringify(got)}, expected ${JSON.stringify(expect)}`);
      }
    }
    checks['test-run counters equal runs × repeat (tsbpf and clang, every variant)'] = countsOk;

    charts.push({
      kind: 'bar',
      title: 'Test-run ns/packet over the mix: tsbpf vs clang -O2',
      yLabel: 'ns/packet',
      labels: [...COUNTER_VARIANTS, 'empty'],
      series: [
        { name: 'tsbpf', data: [...COUNTER_VARIANTS.map((v) => nsByKey.get(`tsbpf ${v}`)!), nsByKey.get('baseline')!] },
        { name: 'clang -O2', data: [...COUNTER_VARIANTS.map((v) => nsByKey.get(`clang ${v}`)!), null] },
      ],
    });
    charts.push({
      kind: 'bar',
      title: 'Test-run ns/packet by packet class (tsbpf)',
      yLabel: 'ns/packet',
      labels: TRAFFIC_MIX.map((c) => c.name),
      series: COUNTER_VARIANTS.map((v) => ({ name: v, data: samples.get(`tsbpf ${v}`)!.map((s) => median(s)) })),
    });
    charts.push({
      kind: 'bar',
      title: 'Instructions executed per packet class',
      yLabel: 'instructions',
      labels: TRAFFIC_MIX.map((c) => c.name),
      series: COUNTER_VARIANTS.flatMap((v) => [
        { name: `${v} (tsbpf)`, data: path(`tsbpf ${v}`) },
        { name: `${v} (clang)`, data: path(`clang ${v}`) },
      ]),
    });
    extra.clang = clangVersion();
    extra.mix = TRAFFIC_MIX;
    extra.testRunIterations = iterations;
  } finally {
    for (const c of counters) {
      c.prog.close();
      c.map?.close();
    }
  }
  return nsByKey;
}

// ---------------------------------------------------------------------------------------------
// Live

function sh(cmd: string, args: string[]): void {
  execFileSync(cmd, args, { stdio: 'pipe' });
}

/** A private network namespace with one veth pair, both ends up; removed by `close()`. */
function createVethNamespace(): { ns: string; tx: string; rx: string; close(): void } {
  const id = `${process.pid % 100000}${Math.floor(Math.random() * 100)}`;
  const ns = `tsbpf-xdp-${id}`;
  const tx = `xg${id}`;
  const rx = `xc${id}`;
  sh('ip', ['netns', 'add', ns]);
  const close = () => {
    try {
      sh('ip', ['netns', 'del', ns]);
    } catch {
      /* already gone */
    }
  };
  try {
    sh('ip', ['-n', ns, 'link', 'add', tx, 'type', 'veth', 'peer', 'name', rx]);
    for (const dev of [tx, rx, 'lo']) sh('ip', ['-n', ns, 'link', 'set', dev, 'up']);
  } catch (e) {
    close();
    throw e;
  }
  return { ns, tx, rx, close };
}

/** Node flags that load TypeScript (tsx) or similar, to start the worker the way we were started. */
function loaderArgs(): string[] {
  const out: string[] = [];
  const a = process.execArgv;
  for (let i = 0; i < a.length; i++) {
    const x = a[i]!;
    if (/^--(import|require|loader|experimental-loader)$/.test(x) && i + 1 < a.length) out.push(x, a[++i]!);
    else if (
      /^--(import|require|loader|experimental-loader)=/.test(x) ||
      /^--(experimental|no-warnings|enable-source-maps)/.test(x)
    )
      out.push(x);
  }
  return out;
}

function runLiveWorker(
  ns: string,
  cpu: number,
  req: LiveWorkerRequest,
  onProgress: (f: number, label: string) => void,
): Promise<LiveWorkerMessage[]> {
  const self = fileURLToPath(import.meta.url);
  const worker = join(dirname(self), `xdp-live-worker${self.endsWith('.ts') ? '.ts' : '.js'}`);
  const child = spawn(
    'taskset',
    ['-c', String(cpu), 'ip', 'netns', 'exec', ns, process.execPath, ...loaderArgs(), worker, JSON.stringify(req)],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const msgs: LiveWorkerMessage[] = [];
  let buf = '';
  let err = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => {
    buf += d;
    let nl: number;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      if (!line.trim()) continue;
      const m = JSON.parse(line) as LiveWorkerMessage;
      if (m.type === 'progress') onProgress(m.fraction, m.label);
      else msgs.push(m);
    }
  });
  child.stderr.setEncoding('utf8').on('data', (d: string) => {
    err += d;
  });
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => {
      const e = msgs.find((m) => m.type === 'error');
      if (code !== 0 || e)
        reject(new Error(`xdp live worker failed (exit ${code}): ${e && e.type === 'error' ? e.message : ''}${err}`));
      else resolve(msgs);
    });
  });
}

async function measureLive(
  ctx: BenchContext,
  rows: Row[],
  charts: Chart[],
  notes: string[],
  checks: Record<string, boolean>,
  extra: Record<string, unknown>,
): Promise<void> {
  const frames = ctx.quick ? 200_000 : 500_000;
  const repeats = ctx.quick ? 1 : Math.min(ctx.repeats, 3);
  const runs: LiveRun[] = [];
  for (const [action, an] of [
    [XDP_DROP, 'XDP_DROP'],
    [XDP_PASS, 'XDP_PASS'],
  ] as const) {
    runs.push({ label: `no counter, ${an}`, variant: null, action });
    for (const v of COUNTER_VARIANTS) runs.push({ label: `${v}, ${an}`, variant: v, action });
  }
  const cpus = onlineCpus();
  const cpu = cpus[cpus.length - 1]!;
  const net = createVethNamespace();
  let msgs: LiveWorkerMessage[];
  try {
    msgs = await runLiveWorker(
      net.ns,
      cpu,
      { txIface: net.tx, rxIface: net.rx, frames, repeats, batchSize: 64, runs },
      (f, label) => ctx.progress(0.45 + 0.55 * f, label),
    );
  } finally {
    net.close();
  }
  const samples = msgs.filter((m): m is Extract<LiveWorkerMessage, { type: 'sample' }> => m.type === 'sample');
  const mpps = new Map<string, number[]>();
  let exact = true;
  let neverOver = true;
  let lostInVeth = 0;
  for (const s of samples) {
    const list = mpps.get(s.label) ?? [];
    list.push((s.frames / s.elapsedNs) * 1000);
    mpps.set(s.label, list);
    if (!s.counted) continue;
    const c = s.counted;
    const e = s.expected;
    if (c.total !== e.total || c.tcp !== e.tcp || c.udp !== e.udp || c.icmp !== e.icmp) exact = false;
    // A frame counted twice, or a protocol count above what was generated, is a counter bug; fewer
    // is veth dropping frames under load before XDP ran (possible when the machine is busy).
    if (c.total > e.total || c.tcp > e.tcp || c.udp > e.udp || c.icmp > e.icmp) neverOver = false;
    lostInVeth += e.total - c.total;
  }
  checks['live: no frame counted twice or as the wrong protocol'] = neverOver;
  if (!exact)
    notes.push(
      `live: ${lostInVeth} generated frames never reached the counter (dropped by veth under load); the rest were counted exactly once.`,
    );
  else notes.push('live: every generated IPv4 frame was counted exactly once, by protocol.');
  const med = (label: string) => median(mpps.get(label) ?? []);
  for (const an of ['XDP_DROP', 'XDP_PASS'] as const) {
    const ceiling = med(`no counter, ${an}`);
    rows.push({
      name: `live veth one core, no counter, ${an}`,
      value: ceiling,
      unit: 'Mpps',
      spread: spread(mpps.get(`no counter, ${an}`)!),
      verdict: 'info',
      note: "generator + veth + a 2-instruction program: this setup's ceiling on one core",
    });
    for (const v of COUNTER_VARIANTS) {
      const m = med(`${v}, ${an}`);
      const claim = SEED_MPPS[v];
      rows.push({
        name: `live veth one core, ${v}, ${an}`,
        value: m,
        unit: 'Mpps',
        spread: spread(mpps.get(`${v}, ${an}`)!),
        claim: `${v === 'naive' ? '~' : v === 'optimized' ? '' : '~'}${claim}${v === 'optimized' ? '+' : ''} Mpps`,
        verdict: m >= claim ? 'holds' : 'does not hold',
        note: `counter adds ${(1000 / m - 1000 / ceiling).toFixed(0)} ns/frame over the no-counter ceiling (${ceiling.toFixed(2)} Mpps)`,
      });
    }
    for (const v of ['optimized', 'ultra'] as const) {
      const sp = med(`${v}, ${an}`) / med(`naive, ${an}`);
      const claim = SEED_MPPS[v] / SEED_MPPS.naive;
      rows.push({
        name: `live speedup one core, ${v} vs naive, ${an}`,
        value: sp,
        unit: '×',
        claim: `${claim.toFixed(2)}×`,
        verdict: sp >= claim * 0.9 ? 'holds' : 'does not hold',
      });
    }
  }
  charts.push({
    kind: 'bar',
    title: 'Live Mpps on a veth pair (one core, in-kernel generator)',
    yLabel: 'Mpps',
    labels: [...COUNTER_VARIANTS, 'no counter'],
    series: [
      { name: 'XDP_DROP', data: [...COUNTER_VARIANTS.map((v) => med(`${v}, XDP_DROP`)), med('no counter, XDP_DROP')] },
      { name: 'XDP_PASS', data: [...COUNTER_VARIANTS.map((v) => med(`${v}, XDP_PASS`)), med('no counter, XDP_PASS')] },
      { name: 'Lab 12.1 claim', data: [...COUNTER_VARIANTS.map((v) => SEED_MPPS[v]), null] },
    ],
  });
  notes.push(
    `Live: frames are generated by test-run in BPF_F_TEST_XDP_LIVE_FRAMES mode (XDP_TX → veth → peer's native XDP counter), ${frames.toLocaleString('en-US')} frames × ${repeats}, the whole path on CPU ${cpu}. The lab's 5/15/20 Mpps assume a 10 Gbps NIC with its own cores; here one core pays for generation, veth transmit and the counter, so the ceiling without any counter bounds every row, and with XDP_PASS the kernel's receive path (skb allocation, IP input) dominates.`,
  );
  extra.live = { frames, repeats, cpu, samples };
}

/**
 * Live, threaded: the generator on one CPU, the counter side's NAPI as a kernel thread pinned to
 * the other, so the counter's own cost shows. Per-packet cost = the NAPI thread's CPU time
 * (/proc/<pid>/schedstat, ns) over the frames it handled; each variant's is reported over the
 * empty program's, next to the test-run cost over the empty program.
 */
async function measureLiveThreaded(
  ctx: BenchContext,
  testRunNs: Map<string, number>,
  rows: Row[],
  charts: Chart[],
  notes: string[],
  checks: Record<string, boolean>,
  extra: Record<string, unknown>,
): Promise<void> {
  const cpus = onlineCpus();
  if (cpus.length < 2) {
    notes.push('live threaded: needs two CPUs; skipped.');
    return;
  }
  const frames = ctx.quick ? 500_000 : 2_000_000;
  const repeats = ctx.quick ? 1 : Math.min(ctx.repeats, 5);
  const runs: LiveRun[] = [
    { label: 'no counter', variant: null, action: XDP_DROP },
    { label: 'headers read', variant: null, action: XDP_DROP, readHeaders: true },
    ...COUNTER_VARIANTS.map((v) => ({ label: v, variant: v, action: XDP_DROP })),
  ];
  const genCpu = cpus[cpus.length - 1]!,
    napiCpu = cpus[0]!;
  const net = createVethNamespace();
  let msgs: LiveWorkerMessage[];
  try {
    msgs = await runLiveWorker(
      net.ns,
      genCpu,
      { txIface: net.tx, rxIface: net.rx, frames, repeats, batchSize: 64, runs, napiCpu },
      (f, label) => ctx.progress(f, `threaded ${label}`),
    );
  } finally {
    net.close();
  }
  const samples = msgs.filter((m): m is Extract<LiveWorkerMessage, { type: 'sample' }> => m.type === 'sample');
  const by = (label: string) => samples.filter((s) => s.label === label);
  /**
   * Frames the counter side handled: with a counter, the generated frames scaled by the share it
   * counted (it counts IPv4 only); without one, all generated frames, which holds while the NAPI
   * thread was not saturated (veth drops only when its ring is full; the busy share is reported).
   */
  const handled = (s: (typeof samples)[number]) =>
    s.counted ? s.frames * (s.counted.total / s.expected.total) : s.frames;
  const busy = (s: (typeof samples)[number]) => (s.napiNs ?? NaN) / s.elapsedNs;
  const mppsOf = (s: (typeof samples)[number]) => (handled(s) / s.elapsedNs) * 1000;
  const napiPer = (s: (typeof samples)[number]) => (s.napiNs ?? NaN) / handled(s);
  checks['live threaded: no frame counted twice'] = samples.every(
    (s) => !s.counted || s.counted.total <= s.expected.total,
  );
  const empty = by('no counter');
  const emptyNapi = median(empty.map(napiPer));
  const emptyMpps = empty.map(mppsOf);
  rows.push({
    name: 'live veth threaded, no counter, XDP_DROP',
    value: median(emptyMpps),
    unit: 'Mpps',
    spread: spread(emptyMpps),
    verdict: 'info',
    note: `generator on CPU ${genCpu}, NAPI thread on CPU ${napiCpu}; NAPI thread ${emptyNapi.toFixed(1)} ns/frame, busy ${(median(empty.map(busy)) * 100).toFixed(0)}% of the run (below ~95%: it kept up, so every generated frame was handled)`,
  });
  // The first read of a frame made on the other CPU is a cross-CPU cache miss that every counter
  // pays and the empty program does not: measured alone, so each counter's own cost shows over it.
  const hdr = by('headers read');
  const hdrNapi = median(hdr.map(napiPer));
  const hdrMpps = hdr.map(mppsOf);
  const hdrOver = hdr.map((s) => napiPer(s) - emptyNapi);
  rows.push({
    name: 'live veth threaded, headers read, XDP_DROP',
    value: median(hdrMpps),
    unit: 'Mpps',
    spread: spread(hdrMpps),
    verdict: 'info',
    note: `no counter; reads EtherType and the IPv4 protocol byte (as every counter does first): NAPI thread ${hdrNapi.toFixed(1)} ns/frame, busy ${(median(hdr.map(busy)) * 100).toFixed(0)}%`,
  });
  rows.push({
    name: 'live threaded, headers read: cost per packet over the empty program',
    value: median(hdrOver),
    unit: 'ns/packet',
    spread: spread(hdrOver),
    verdict: 'info',
    note: 'the first touch of a frame written on the other CPU (a cross-CPU cache miss); test-run, on one CPU, does not pay it',
  });
  const base = testRunNs.get('baseline') ?? NaN;
  const mppsByVariant: number[] = [];
  for (const v of COUNTER_VARIANTS) {
    const ss = by(v);
    const m = ss.map(mppsOf);
    const over = ss.map((s) => napiPer(s) - emptyNapi);
    const tr = (testRunNs.get(`tsbpf ${v}`) ?? NaN) - base;
    mppsByVariant.push(median(m));
    rows.push({
      name: `live veth threaded, ${v}, XDP_DROP`,
      value: median(m),
      unit: 'Mpps',
      spread: spread(m),
      claim: `${SEED_MPPS[v]} Mpps`,
      verdict: median(m) >= SEED_MPPS[v] ? 'holds' : 'does not hold',
      note: `counted ${median(ss.map((s) => s.counted?.total ?? 0)).toLocaleString('en-US')} of ${median(ss.map((s) => s.expected.total)).toLocaleString('en-US')} IPv4 frames (the rest dropped by veth when the counter side fell behind)`,
    });
    rows.push({
      name: `live threaded, ${v}: cost per packet over the empty program`,
      value: median(over),
      unit: 'ns/packet',
      spread: spread(over),
      verdict: 'info',
      note: `NAPI thread CPU time per frame ${median(ss.map(napiPer)).toFixed(1)} ns (busy ${(median(ss.map(busy)) * 100).toFixed(0)}%) vs ${emptyNapi.toFixed(1)} ns empty; test-run cost over the empty program: ${tr.toFixed(1)} ns/packet`,
    });
    const overHdr = ss.map((s) => napiPer(s) - hdrNapi);
    rows.push({
      name: `live threaded, ${v}: cost per packet over the headers-read program`,
      value: median(overHdr),
      unit: 'ns/packet',
      spread: spread(overHdr),
      verdict: 'info',
      note: `the counter's own cost once the frame is in this CPU's cache; test-run cost over the empty program: ${tr.toFixed(1)} ns/packet`,
    });
  }
  for (const [i, v] of (['optimized', 'ultra'] as const).entries()) {
    const sp = mppsByVariant[i + 1]! / mppsByVariant[0]!;
    rows.push({
      name: `live speedup threaded, ${v} vs naive, XDP_DROP`,
      value: sp,
      unit: '×',
      claim: `${(SEED_MPPS[v] / SEED_MPPS.naive).toFixed(2)}×`,
      verdict: sp >= (SEED_MPPS[v] / SEED_MPPS.naive) * 0.9 ? 'holds' : 'does not hold',
    });
  }
  charts.push({
    kind: 'bar',
    title: 'Live Mpps, threaded NAPI on the other CPU (XDP_DROP)',
    yLabel: 'Mpps',
    labels: [...COUNTER_VARIANTS, 'no counter'],
    series: [
      { name: 'threaded', data: [...mppsByVariant, median(emptyMpps)] },
      { name: 'Lab 12.1 claim', data: [...COUNTER_VARIANTS.map((v) => SEED_MPPS[v]), null] },
    ],
  });
  notes.push(
    `Live threaded: the peer's NAPI runs as a kernel thread (sysfs threaded = 1) pinned to CPU ${napiCpu}; the in-kernel generator (test-run, BPF_F_TEST_XDP_LIVE_FRAMES, XDP_TX) runs on CPU ${genCpu}; ${frames.toLocaleString('en-US')} frames × ${repeats}. Mpps = frames the counter side handled / time until it went idle. Per-packet cost = the NAPI thread's CPU time (schedstat) per handled frame, minus the empty program's, and minus the headers-read program's (which pays the cross-CPU miss of the first packet read, as every counter does).`,
  );
  extra.liveThreaded = { frames, repeats, genCpu, napiCpu, samples };
}

/** Suite `xdp`. */
export const suite: BenchSuite = {
  name: 'xdp',
  title: 'Lab 12.1 packet counters: naive / optimized / ultra (test-run, clang reference, live veth)',
  async run(ctx: BenchContext): Promise<SuiteResult> {
    const t0 = Date.now();
    const rows: Row[] = [];
    const charts: Chart[] = [];
    const notes: string[] = [];
    const checks: Record<string, boolean> = {};
    const extra: Record<string, unknown> = {};
    const ns = measureTestRun(ctx, rows, charts, notes, checks, extra);
    const sp = (v: CounterVariant) => ns.get('tsbpf naive')! / ns.get(`tsbpf ${v}`)!;
    rows.push({
      name: 'test-run speedup optimized vs naive',
      value: sp('optimized'),
      unit: '×',
      claim: '3.00× (15 vs 5 Mpps)',
      verdict: 'not comparable',
      note: "program time only; the lab's speedups are whole-path Mpps (see the live rows)",
    });
    rows.push({
      name: 'test-run speedup ultra vs naive',
      value: sp('ultra'),
      unit: '×',
      claim: '4.00× (20 vs 5 Mpps)',
      verdict: 'not comparable',
    });
    notes.push(
      `Test-run: each packet class run ${ctx.quick ? '50k' : '200k'} times per repeat, the kernel's average ns per run (integer ns; includes the test-run loop and the XDP dispatcher call, ≈ the empty program's row), weighted by the mix ${TRAFFIC_MIX.map((c) => `${c.name} ${c.percent}%`).join(', ')}. clang reference: bench/xdp/*.bpf.c, compiled with clang -O2 -target bpf, the "xdp" section taken from the object by tsbpf's ELF reader and its map relocations linked to maps created here (no loader, no BTF).`,
    );
    const features = measureCounterFeatures(ctx, { hardwareCounters: ctx.counters });
    rows.push(...features.rows);
    charts.push(...features.charts);
    notes.push(...features.notes);
    Object.assign(checks, features.checks);
    extra.counterFeatures = features.extra;
    // The live rows need the in-kernel frame generator (BPF_F_TEST_XDP_LIVE_FRAMES, Linux 5.18+);
    // without it the suite reports the test-run rows and says why the live ones are missing.
    const liveFrames = probeKernel().testRunFlags.xdpLiveFrames;
    extra.liveFrames = liveFrames.supported;
    if (liveFrames.supported) {
      await measureLive(ctx, rows, charts, notes, checks, extra);
      await measureLiveThreaded(ctx, ns, rows, charts, notes, checks, extra);
    } else {
      notes.push(
        `live veth rows skipped: this kernel cannot test-run XDP with live frames (${liveFrames.error ?? 'not supported'}).`,
      );
    }
    return { suite: 'xdp', title: this.title, rows, charts, notes, checks, extra, durationMs: Date.now() - t0 };
  },
};
