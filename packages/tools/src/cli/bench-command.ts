/**
 * `tsbpf bench [suite...]`: measures the seeds' performance claims on this machine (see
 * src/bench/runner.ts), prints one table per suite, writes `--json` and `--report` files.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { InvalidArgumentError, type Command } from 'commander';
import { runBench, SUITE_NAMES } from '../bench/runner.js';
import { renderReport } from '../bench/report.js';
import { intIn } from './options.js';
import { privilegeProblem } from './privileges.js';
import { EXIT, runAction } from './run.js';

/** Parsed `tsbpf bench` flags. */
export interface BenchFlags {
  quick?: boolean;
  repeats?: number;
  /** true: to stdout; a string: to that file. */
  json?: string | boolean;
  report?: string;
  counters?: boolean;
  minutes?: number;
}

function suiteName(v: string, prev: string[] = []): string[] {
  if (!(SUITE_NAMES as readonly string[]).includes(v))
    throw new InvalidArgumentError(`unknown suite "${v}" (suites: ${SUITE_NAMES.join(', ')}).`);
  return [...prev, v];
}

/** Adds the `bench` subcommand to `program`. */
export function registerBenchCommand(program: Command): void {
  program
    .command('bench')
    .description(
      `measure every performance claim in the seeds on this machine, next to the claim, with a verdict (suites: ${SUITE_NAMES.join(', ')}; default all)`,
    )
    .argument('[suite...]', 'suites to run (default: all)', suiteName)
    .option('--quick', 'short runs (fewer events and repeats), the same code paths')
    .option(
      '--repeats <n>',
      'repeats per measurement; medians are reported with their spread (default 5, quick 3)',
      intIn(1, 1000),
    )
    .option('--json [file]', 'write one JSON document to FILE, or to stdout (tables then go to stderr)')
    .option('--report <file.html>', 'write a self-contained HTML report with charts (opens offline)')
    .option('--minutes <n>', 'soak: minutes of steady 1M events/s collection (default 10)', intIn(1, 24 * 60))
    .option(
      '--counters',
      "xdp: cycles and instructions per packet from the CPU's performance counters (software counters where the machine has no PMU)",
    )
    .action(async (suites: string[] | undefined, flags: BenchFlags) => {
      // Suites both trace (live, wakeup, sizing) and attach XDP (xdp): check both capability sets.
      const net = privilegeProblem('tsbpf bench', 'networking');
      if (net) {
        process.stderr.write(`error: ${net}\n`);
        process.exitCode = EXIT.noPerm;
        return;
      }
      await runAction('tsbpf bench', 'tracing', async () => {
        process.exitCode = await benchAction(suites ?? [], flags);
      });
    });
}

/** Also exported under the shorter name. */
export const registerBench = registerBenchCommand;

/** Runs the command; returns the exit status (0 when every suite ran and every check passed). */
export async function benchAction(suites: string[], flags: BenchFlags): Promise<number> {
  const jsonToStdout = flags.json === true;
  const human = jsonToStdout ? process.stderr : process.stdout;
  const doc = await runBench({
    suites,
    quick: flags.quick,
    repeats: flags.repeats,
    out: human,
    command: `tsbpf ${process.argv.slice(2).join(' ') || 'bench'}`,
    counters: flags.counters,
    minutes: flags.minutes,
  });
  if (jsonToStdout) process.stdout.write(`${JSON.stringify(doc, null, 2)}\n`);
  else if (typeof flags.json === 'string') {
    writeOut(flags.json, `${JSON.stringify(doc, null, 2)}\n`);
    human.write(`JSON written to ${flags.json}\n`);
  }
  if (flags.report) {
    writeOut(flags.report, renderReport(doc));
    human.write(`report written to ${flags.report}\n`);
  }
  return doc.ok ? EXIT.ok : EXIT.failure;
}

function writeOut(path: string, text: string): void {
  const abs = resolve(path);
  mkdirSync(dirname(abs), { recursive: true });
  writeFileSync(abs, text);
}
