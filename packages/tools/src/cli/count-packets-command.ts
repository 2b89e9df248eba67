/**
 * `tsbpf count packets`: Lab 12.1's XDP counters on an interface, a per-second table of packets and
 * packets/s by IP protocol (summed over CPUs), JSON lines, and a Prometheus endpoint.
 */
import { type Command, Option } from 'commander';
import {
  PacketCounter,
  packetMetrics,
  type CounterMode,
  type FlowStats,
  type ProtocolCounts,
} from '../labs/count-packets.js';
import { sampledEstimate } from '../labs/packet-counter-features.js';
import { COUNTER_VARIANTS, type CounterVariant } from '../labs/packet-counter-programs.js';
import { parseListenAddress, renderMetrics, serveMetrics, type Exporter } from '../labs/prometheus.js';
import { untilStopped } from '../labs/stop-signal.js';
import { monotonicNowNs } from '../labs/latency.js';
import { InvalidArgumentError } from 'commander';
import { clockTime, formatCount, formatRate, formatTable, paintFor, writeJsonLine } from './output.js';
import { durationOption, intIn, jsonOption, nonEmpty, parseSeconds } from './options.js';
import { runAction, UsageError } from './run.js';

interface CountOptions {
  iface: string;
  variant: CounterVariant;
  mode: CounterMode;
  interval: number;
  duration?: number;
  json?: boolean;
  prometheus?: { host: string; port: number };
  bytes?: boolean;
  flows?: boolean;
  top: number;
  flowEntries: number;
  sample?: number;
}

/** Adds `count packets`. */
export function registerCountCommand(program: Command): void {
  const count = program.command('count').description('count things in the kernel (see: count packets)');
  count
    .command('packets')
    .description(
      'count packets by IP protocol with XDP (Lab 12.1): naive hash map, per-CPU array, or one per-CPU struct',
    )
    .requiredOption('-i, --iface <name>', 'network interface to attach XDP to', nonEmpty('interface name', 15))
    .addOption(
      new Option(
        '--variant <variant>',
        'counter implementation: naive (hash map; drops non-IPv4 frames, ARP included, as the lab does), optimized (per-CPU array by protocol), ultra (per-CPU {tcp,udp,icmp,other})',
      )
        .choices(COUNTER_VARIANTS as string[])
        .default('ultra'),
    )
    .addOption(
      new Option('--mode <mode>', 'XDP attach mode: skb (generic, any driver) or native (driver support needed)')
        .choices(['skb', 'native'])
        .default('skb'),
    )
    .addOption(new Option('--interval <seconds>', 'seconds between table rows').argParser(parseSeconds).default(1))
    .addOption(durationOption())
    .addOption(jsonOption('JSON lines: attached, one interval record per --interval, summary (docs/cli.md)'))
    .addOption(
      new Option(
        '--prometheus <[host:]port>',
        'serve counters at http://HOST:PORT/metrics (host defaults to 127.0.0.1; port 0 picks one)',
      ).argParser((v) => {
        try {
          return parseListenAddress(v);
        } catch (e) {
          throw new InvalidArgumentError(`${(e as Error).message}.`);
        }
      }),
    )
    .addOption(
      new Option(
        '--bytes',
        'also count bytes per IP protocol (frame length, Ethernet header included); JSON "bytes", Prometheus tsbpf_bytes_total',
      ),
    )
    .addOption(
      new Option(
        '--flows',
        'keep per-flow packets and bytes (IPv4 5-tuple) in an LRU per-CPU hash; print the top flows each interval',
      ),
    )
    .addOption(new Option('--top <n>', 'with --flows: how many flows to print').argParser(intIn(1, 10_000)).default(10))
    .addOption(
      new Option(
        '--flow-entries <n>',
        'with --flows: size of the flow table; beyond it the least recently seen flows are evicted (counted)',
      )
        .argParser(intIn(1, 1 << 24))
        .default(16384),
    )
    .addOption(
      new Option(
        '--sample <n>',
        'count 1 packet in N (bpf_get_prandom_u32) and report estimates with a 95% confidence interval',
      ).argParser(intIn(2, 0x7fffffff)),
    )
    .addHelpText(
      'after',
      `
Counts IPv4 packets arriving on the interface (XDP sees ingress only). Packets/s are per interval;
per-CPU counters are summed. The program is detached on exit, Ctrl-C or SIGTERM.

Examples:
  tsbpf count packets --iface eth0
  tsbpf count packets --iface eth0 --variant optimized --duration 10 --json
  tsbpf count packets --iface eth0 --prometheus :9464     # curl 127.0.0.1:9464/metrics
  tsbpf count packets --iface eth0 --bytes --flows --top 5 --json
  tsbpf count packets --iface eth0 --sample 100`,
    )
    .action((opts: CountOptions) => runAction('tsbpf count packets', 'networking', () => countPackets(opts)));
}

function sumCounts(c: ProtocolCounts): number {
  let s = 0;
  for (const k in c) s += c[k]!;
  return s;
}

async function countPackets(opts: CountOptions): Promise<void> {
  const out = process.stdout;
  const paint = paintFor(out);
  const featureFlags = [
    opts.bytes && '--bytes',
    opts.flows && '--flows',
    opts.sample !== undefined && '--sample',
  ].filter(Boolean);
  if (featureFlags.length && opts.variant !== 'ultra')
    throw new UsageError(
      `${featureFlags.join(', ')} build on the ultra counter (the default), not --variant ${opts.variant}`,
    );
  if (!opts.flows && process.argv.some((a) => /^--(top|flow-entries)(=|$)/.test(a)))
    throw new UsageError('--top and --flow-entries only apply with --flows');
  const counter = PacketCounter.attach({
    iface: opts.iface,
    variant: opts.variant,
    mode: opts.mode,
    bytes: opts.bytes,
    sampleEvery: opts.sample,
    flows: opts.flows ? { maxEntries: opts.flowEntries } : undefined,
  });
  const sampleEvery = opts.sample ?? 1;
  /** Counts as reported: sampled counts scaled to estimates. */
  const scaled = (c: ProtocolCounts): ProtocolCounts => {
    if (sampleEvery === 1) return c;
    const out: ProtocolCounts = {};
    for (const k of Object.keys(c)) out[k] = c[k]! * sampleEvery;
    return out;
  };
  const readCounts = () => scaled(counter.read());
  const readBytes = () => (opts.bytes ? scaled(counter.readBytes()) : undefined);
  const estimates = (raw: ProtocolCounts) => {
    const out: Record<string, { estimate: number; ci95: [number, number] }> = {};
    for (const k of Object.keys(raw)) {
      const e = sampledEstimate(raw[k]!, sampleEvery);
      out[k] = { estimate: e.estimate, ci95: [e.low, e.high] };
    }
    return out;
  };
  const startNs = monotonicNowNs();
  let exporter: Exporter | undefined;
  let timer: NodeJS.Timeout | undefined;
  try {
    if (opts.prometheus) {
      exporter = await serveMetrics(opts.prometheus, () =>
        renderMetrics(packetMetrics(counter, readCounts(), (monotonicNowNs() - startNs) / 1e9, readBytes())),
      );
    }
    const attached = {
      type: 'attached',
      iface: counter.iface,
      variant: counter.variant,
      mode: counter.mode,
      programId: counter.programId,
      prometheus: exporter?.url ?? null,
      bytes: opts.bytes === true,
      flows: opts.flows ? { entries: opts.flowEntries, top: opts.top } : null,
      sampleEvery,
    };
    if (opts.json) writeJsonLine(attached);
    process.stderr.write(
      `Counting packets on ${counter.iface} (${counter.variant}, ${counter.mode} mode)${exporter ? `, metrics at ${exporter.url}` : ''}; Ctrl-C to stop.\n`,
    );
    if (opts.variant === 'naive')
      process.stderr.write(
        `Note: the naive counter drops non-IPv4 frames (ARP, IPv6) on ${counter.iface}, as Lab 12.1's version 1 does.\n`,
      );

    let prev = readCounts();
    let prevBytes = readBytes();
    let prevNs = startNs;
    let redraw = 0; // lines to overwrite on a terminal
    const tick = () => {
      const now = monotonicNowNs();
      const raw = counter.read();
      const cur = scaled(raw);
      const curBytes = readBytes();
      const dt = (now - prevNs) / 1e9;
      const protocols: Record<
        string,
        { packets: number; pps: number; bytes?: number; bps?: number; ci95?: [number, number] }
      > = {};
      const est = sampleEvery > 1 ? estimates(raw) : undefined;
      for (const k of Object.keys(cur)) {
        protocols[k] = { packets: cur[k]!, pps: round1((cur[k]! - (prev[k] ?? 0)) / dt) };
        if (curBytes) {
          protocols[k]!.bytes = curBytes[k] ?? 0;
          protocols[k]!.bps = round1(((curBytes[k] ?? 0) - (prevBytes?.[k] ?? 0)) / dt);
        }
        if (est) protocols[k]!.ci95 = est[k]!.ci95;
      }
      const total = sumCounts(cur);
      const totalPps = round1((total - sumCounts(prev)) / dt);
      const totalBytes = curBytes ? sumCounts(curBytes) : undefined;
      const totalBps = curBytes ? round1((sumCounts(curBytes) - sumCounts(prevBytes!)) / dt) : undefined;
      const totalCi =
        sampleEvery > 1
          ? (() => {
              const e = sampledEstimate(sumCounts(raw), sampleEvery);
              return [e.low, e.high] as [number, number];
            })()
          : undefined;
      const flowTable = opts.flows ? counter.readFlows() : undefined;
      if (opts.json) {
        writeJsonLine({
          type: 'interval',
          time: new Date().toISOString(),
          elapsedS: round3((now - startNs) / 1e9),
          intervalS: round3(dt),
          protocols,
          total: {
            packets: total,
            pps: totalPps,
            ...(curBytes ? { bytes: totalBytes, bps: totalBps } : {}),
            ...(totalCi ? { ci95: totalCi } : {}),
          },
          ...(sampleEvery > 1 ? { sampleEvery, sampledPackets: sumCounts(raw) } : {}),
        });
        if (flowTable)
          writeJsonLine({
            type: 'flows',
            time: new Date().toISOString(),
            ...flowSummary(flowTable.flows, opts.top),
            inserted: flowTable.inserted,
            evicted: flowTable.evicted,
          });
      } else {
        const approx = sampleEvery > 1 ? '≈' : '';
        const rows = Object.entries(protocols).map(([k, v]) => [
          k,
          approx + formatCount(v.packets),
          formatRate(v.pps),
          ...(curBytes ? [formatCount(v.bytes ?? 0), formatRate(v.bps ?? 0)] : []),
          ...(v.ci95 ? [`${formatCount(v.ci95[0])}–${formatCount(v.ci95[1])}`] : []),
        ]);
        rows.push([
          paint('bold', 'total'),
          paint('bold', approx + formatCount(total)),
          paint('bold', formatRate(totalPps)),
          ...(curBytes ? [paint('bold', formatCount(totalBytes!)), paint('bold', formatRate(totalBps!))] : []),
          ...(totalCi ? [`${formatCount(totalCi[0])}–${formatCount(totalCi[1])}`] : []),
        ]);
        let table =
          `${paint('dim', clockTime())}  ${counter.iface} ${counter.variant}${sampleEvery > 1 ? ` (1 in ${sampleEvery} sampled; estimates)` : ''}\n` +
          formatTable(
            [
              { header: 'PROTOCOL' },
              { header: 'PACKETS', align: 'right', width: 10 },
              { header: 'PACKETS/S', align: 'right', width: 10 },
              ...(curBytes
                ? [
                    { header: 'BYTES', align: 'right' as const, width: 10 },
                    { header: 'BYTES/S', align: 'right' as const, width: 10 },
                  ]
                : []),
              ...(sampleEvery > 1 ? [{ header: '95% CI', align: 'right' as const }] : []),
            ],
            rows,
            paint,
          );
        if (flowTable) {
          const top = flowSummary(flowTable.flows, opts.top).byPackets;
          table +=
            `\n${paint('bold', `top ${top.length} of ${flowTable.flows.length} flows`)} (${formatCount(flowTable.inserted)} inserted, ${formatCount(flowTable.evicted)} evicted)\n` +
            formatTable(
              [
                { header: 'SOURCE' },
                { header: 'DESTINATION' },
                { header: 'PROTO' },
                { header: 'PACKETS', align: 'right' },
                { header: 'BYTES', align: 'right' },
              ],
              top.map((f) => [
                `${f.src}:${f.sport}`,
                `${f.dst}:${f.dport}`,
                f.protocol,
                formatCount(f.packets),
                formatCount(f.bytes),
              ]),
              paint,
            );
        }
        if (out.isTTY && redraw > 0) out.write(`\x1b[${redraw}A\x1b[J`);
        out.write(`${table}\n${out.isTTY ? '' : '\n'}`);
        redraw = out.isTTY ? table.split('\n').length : 0;
      }
      prev = cur;
      prevBytes = curBytes;
      prevNs = now;
    };
    timer = setInterval(tick, opts.interval * 1000);
    const stop = untilStopped(opts.duration);
    const reason = await stop.done;
    clearInterval(timer);
    timer = undefined;

    const rawTotals = counter.read();
    const totals = scaled(rawTotals);
    const byteTotals = readBytes();
    const finalFlows = opts.flows ? counter.readFlows() : undefined;
    const elapsedS = (monotonicNowNs() - startNs) / 1e9;
    counter.close(); // detach before reporting
    const totalPackets = sumCounts(totals);
    const summary = {
      type: 'summary',
      iface: counter.iface,
      variant: counter.variant,
      mode: counter.mode,
      reason,
      durationS: round3(elapsedS),
      protocols: totals,
      totalPackets,
      avgPps: round1(totalPackets / elapsedS),
      ...(byteTotals ? { bytes: byteTotals, totalBytes: sumCounts(byteTotals) } : {}),
      ...(sampleEvery > 1
        ? { sampleEvery, sampledPackets: sumCounts(rawTotals), estimates: estimates(rawTotals) }
        : {}),
      ...(finalFlows
        ? { flows: { present: finalFlows.flows.length, inserted: finalFlows.inserted, evicted: finalFlows.evicted } }
        : {}),
    };
    if (opts.json) writeJsonLine(summary);
    else {
      const parts = Object.entries(totals)
        .map(([k, v]) => `${k} ${formatCount(v)}`)
        .join(', ');
      process.stderr.write(
        `\n${paint('bold', 'Summary')}: ${formatCount(totalPackets)} packets in ${elapsedS.toFixed(1)} s on ${counter.iface} (${counter.variant}, ${counter.mode}): ${parts}${byteTotals ? `; ${formatCount(sumCounts(byteTotals))} bytes` : ''}${sampleEvery > 1 ? ` (estimated from ${formatCount(sumCounts(rawTotals))} packets sampled 1 in ${sampleEvery})` : ''}${finalFlows ? `; ${formatCount(finalFlows.inserted)} flows, ${formatCount(finalFlows.evicted)} evicted` : ''}; ${formatRate(totalPackets / elapsedS)} packets/s. Detached.\n`,
      );
    }
  } finally {
    if (timer) clearInterval(timer);
    counter.close();
    await exporter?.close();
  }
}

/** The top `n` flows by packets and by bytes. */
function flowSummary(flows: FlowStats[], n: number): { entries: number; byPackets: FlowStats[]; byBytes: FlowStats[] } {
  return {
    entries: flows.length,
    byPackets: [...flows].sort((a, b) => b.packets - a.packets || b.bytes - a.bytes).slice(0, n),
    byBytes: [...flows].sort((a, b) => b.bytes - a.bytes || b.packets - a.packets).slice(0, n),
  };
}

function round1(n: number): number {
  return Math.round(n * 10) / 10;
}
function round3(n: number): number {
  return Math.round(n * 1000) / 1000;
}
