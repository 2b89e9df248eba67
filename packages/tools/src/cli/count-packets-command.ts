/**
 * `tsbpf count packets`: Lab 12.1's XDP counters on an interface, a per-second table of packets and
 * packets/s by IP protocol (summed over CPUs), JSON lines, and a Prometheus endpoint.
 */
import { Command, Option } from 'commander';
import { PacketCounter, packetMetrics, type CounterMode, type ProtocolCounts } from '../labs/count-packets.js';
import { COUNTER_VARIANTS, type CounterVariant } from '../labs/packet-counter-programs.js';
import { parseListenAddress, renderMetrics, serveMetrics, type Exporter } from '../labs/prometheus.js';
import { untilStopped } from '../labs/stop-signal.js';
import { monotonicNowNs } from '../labs/latency.js';
import { InvalidArgumentError } from 'commander';
import { clockTime, formatCount, formatRate, formatTable, paintFor, writeJsonLine } from './output.js';
import { durationOption, jsonOption, nonEmpty, parseSeconds } from './options.js';
import { runAction } from './run.js';

interface CountOptions {
  iface: string;
  variant: CounterVariant;
  mode: CounterMode;
  interval: number;
  duration?: number;
  json?: boolean;
  prometheus?: { host: string; port: number };
}

/** Adds `count packets`. */
export function registerCountCommand(program: Command): void {
  const count = program.command('count').description('count things in the kernel (see: count packets)');
  count
    .command('packets')
    .description('count packets by IP protocol with XDP (Lab 12.1): naive hash map, per-CPU array, or one per-CPU struct')
    .requiredOption('-i, --iface <name>', 'network interface to attach XDP to', nonEmpty('interface name', 15))
    .addOption(new Option('--variant <variant>', 'counter implementation: naive (hash map; drops non-IPv4 frames, ARP included, as the lab does), optimized (per-CPU array by protocol), ultra (per-CPU {tcp,udp,icmp,other})').choices(COUNTER_VARIANTS as string[]).default('ultra'))
    .addOption(new Option('--mode <mode>', 'XDP attach mode: skb (generic, any driver) or native (driver support needed)').choices(['skb', 'native']).default('skb'))
    .addOption(new Option('--interval <seconds>', 'seconds between table rows').argParser(parseSeconds).default(1))
    .addOption(durationOption())
    .addOption(jsonOption('JSON lines: attached, one interval record per --interval, summary (docs/cli.md)'))
    .addOption(new Option('--prometheus <[host:]port>', 'serve counters at http://HOST:PORT/metrics (host defaults to 127.0.0.1; port 0 picks one)').argParser((v) => {
      try { return parseListenAddress(v); } catch (e) { throw new InvalidArgumentError(`${(e as Error).message}.`); }
    }))
    .addHelpText('after', `
Counts IPv4 packets arriving on the interface (XDP sees ingress only). Packets/s are per interval;
per-CPU counters are summed. The program is detached on exit, Ctrl-C or SIGTERM.

Examples:
  tsbpf count packets --iface eth0
  tsbpf count packets --iface eth0 --variant optimized --duration 10 --json
  tsbpf count packets --iface eth0 --prometheus :9464     # curl 127.0.0.1:9464/metrics`)
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
  const counter = PacketCounter.attach({ iface: opts.iface, variant: opts.variant, mode: opts.mode });
  const startNs = monotonicNowNs();
  let exporter: Exporter | undefined;
  let timer: NodeJS.Timeout | undefined;
  try {
    if (opts.prometheus) {
      exporter = await serveMetrics(opts.prometheus, () => renderMetrics(packetMetrics(counter, counter.read(), (monotonicNowNs() - startNs) / 1e9)));
    }
    const attached = { type: 'attached', iface: counter.iface, variant: counter.variant, mode: counter.mode, programId: counter.programId, prometheus: exporter?.url ?? null };
    if (opts.json) writeJsonLine(attached);
    process.stderr.write(`Counting packets on ${counter.iface} (${counter.variant}, ${counter.mode} mode)${exporter ? `, metrics at ${exporter.url}` : ''}; Ctrl-C to stop.\n`);
    if (opts.variant === 'naive') process.stderr.write(`Note: the naive counter drops non-IPv4 frames (ARP, IPv6) on ${counter.iface}, as Lab 12.1's version 1 does.\n`);

    let prev = counter.read();
    let prevNs = startNs;
    let redraw = 0; // lines to overwrite on a terminal
    const tick = () => {
      const now = monotonicNowNs();
      const cur = counter.read();
      const dt = (now - prevNs) / 1e9;
      const protocols: Record<string, { packets: number; pps: number }> = {};
      for (const k of Object.keys(cur)) protocols[k] = { packets: cur[k]!, pps: round1((cur[k]! - (prev[k] ?? 0)) / dt) };
      const total = sumCounts(cur);
      const totalPps = round1((total - sumCounts(prev)) / dt);
      if (opts.json) {
        writeJsonLine({ type: 'interval', time: new Date().toISOString(), elapsedS: round3((now - startNs) / 1e9), intervalS: round3(dt), protocols, total: { packets: total, pps: totalPps } });
      } else {
        const rows = Object.entries(protocols).map(([k, v]) => [k, formatCount(v.packets), formatRate(v.pps)]);
        rows.push([paint('bold', 'total'), paint('bold', formatCount(total)), paint('bold', formatRate(totalPps))]);
        const table = `${paint('dim', clockTime())}  ${counter.iface} ${counter.variant}\n` +
          formatTable([{ header: 'PROTOCOL' }, { header: 'PACKETS', align: 'right', width: 10 }, { header: 'PACKETS/S', align: 'right', width: 10 }], rows, paint);
        if (out.isTTY && redraw > 0) out.write(`\x1b[${redraw}A\x1b[J`);
        out.write(table + '\n' + (out.isTTY ? '' : '\n'));
        redraw = out.isTTY ? table.split('\n').length : 0;
      }
      prev = cur;
      prevNs = now;
    };
    timer = setInterval(tick, opts.interval * 1000);
    const stop = untilStopped(opts.duration);
    const reason = await stop.done;
    clearInterval(timer);
    timer = undefined;

    const totals = counter.read();
    const elapsedS = (monotonicNowNs() - startNs) / 1e9;
    counter.close(); // detach before reporting
    const totalPackets = sumCounts(totals);
    const summary = { type: 'summary', iface: counter.iface, variant: counter.variant, mode: counter.mode, reason, durationS: round3(elapsedS), protocols: totals, totalPackets, avgPps: round1(totalPackets / elapsedS) };
    if (opts.json) writeJsonLine(summary);
    else {
      const parts = Object.entries(totals).map(([k, v]) => `${k} ${formatCount(v)}`).join(', ');
      process.stderr.write(`\n${paint('bold', 'Summary')}: ${formatCount(totalPackets)} packets in ${elapsedS.toFixed(1)} s on ${counter.iface} (${counter.variant}, ${counter.mode}): ${parts}; ${formatRate(totalPackets / elapsedS)} packets/s. Detached.\n`);
    }
  } finally {
    if (timer) clearInterval(timer);
    counter.close();
    await exporter?.close();
  }
}

function round1(n: number): number {
  return Math.round(n * 10) / 10;
}
function round3(n: number): number {
  return Math.round(n * 1000) / 1000;
}
