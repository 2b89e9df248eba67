#!/usr/bin/env node
/**
 * `tsbpf`: the seeds' labs as real tools. Subcommands live in *-command.ts files; this file wires
 * them into one commander program, and turns every usage error into one line on stderr with exit 2.
 */
import { readFileSync, realpathSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command, CommanderError } from 'commander';
import { registerBenchCommand } from './bench-command.js';
import { registerCountCommand } from './count-packets-command.js';
import { registerGenCommand } from './gen-command.js';
import { registerProbeCommand } from './probe-command.js';
import { registerTraceCommand } from './trace-command.js';
import { paintFor } from './output.js';
import { EXIT } from './run.js';

function packageVersion(): string {
  // Same relative path from src/cli (tsx) and dist/cli (compiled).
  try {
    const here = dirname(fileURLToPath(import.meta.url));
    return (JSON.parse(readFileSync(join(here, '..', '..', 'package.json'), 'utf8')) as { version: string }).version;
  } catch {
    return '0.0.0';
  }
}

/** Builds the `tsbpf` command tree (exported for tests of the help text). */
export function buildProgram(): Command {
  const errPaint = paintFor(process.stderr);
  const program = new Command('tsbpf')
    .description('eBPF for Node.js: trace exec and syscalls, count packets with XDP, probe kernel BPF features.')
    .version(packageVersion(), '-V, --version', 'print the tsbpf version')
    .helpOption('-h, --help', 'show help for a command')
    .exitOverride()
    .configureOutput({
      // One line per error: commander's "(Did you mean --json?)" joins the message.
      outputError: (str, write) =>
        write(
          `${errPaint('red', 'error:')}${str
            .replace(/^error:/, '')
            .replace(/\s*\n\s*/g, ' ')
            .trimEnd()}\n`,
        ),
    })
    .addHelpText(
      'after',
      `
Exit status: 0 success, 1 failure, 2 usage error, 77 missing privileges.
Commands that load BPF need root, or CAP_BPF plus CAP_PERFMON (tracing) / CAP_NET_ADMIN (XDP).
JSON output shapes: docs/cli.md. Colors only on a terminal (NO_COLOR / FORCE_COLOR respected).`,
    );

  registerTraceCommand(program);
  registerCountCommand(program);
  registerProbeCommand(program);
  registerGenCommand(program);
  // `tsbpf bench` is owned by the benchmark suite (src/cli/bench-command.ts).
  registerBenchCommand(program);
  return program;
}

/** Runs the CLI on `argv` (process.argv form); resolves to the exit status. */
export async function main(argv: string[] = process.argv): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
  } catch (e) {
    if (e instanceof CommanderError) {
      // Help and version exit 0; a missing subcommand (help shown as an error) and bad flags exit 2.
      return e.exitCode === 0 ? EXIT.ok : EXIT.usage;
    }
    throw e;
  }
  return typeof process.exitCode === 'number' ? process.exitCode : EXIT.ok;
}

// Run when executed (node dist/cli/main.js, the npm bin symlink, tsx), not when imported by tests.
const invokedDirectly = (() => {
  try {
    return process.argv[1] !== undefined && fileURLToPath(import.meta.url) === realpathSync(process.argv[1]);
  } catch {
    return false;
  }
})();

if (invokedDirectly) {
  main().then(
    (code) => {
      process.exitCode = code;
    },
    (e: unknown) => {
      process.stderr.write(`tsbpf: ${(e as Error)?.stack ?? String(e)}\n`);
      process.exitCode = EXIT.failure;
    },
  );
}
