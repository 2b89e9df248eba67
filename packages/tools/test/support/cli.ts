/**
 * Test helper: run `tsbpf` as a child process (through tsx, so no build is needed), watch its
 * stderr for readiness, and collect its JSON lines.
 */
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const MAIN = join(REPO, 'src', 'cli', 'main.ts');
/** argv prefix that runs the CLI: node --import tsx src/cli/main.ts. */
export const CLI = [process.execPath, '--import', 'tsx', MAIN];

export interface CliRun {
  child: ChildProcess;
  stdout: string;
  stderr: string;
  /** Resolves when stderr matches (rejects if the process exits first or after timeoutMs). */
  waitForStderr(re: RegExp, timeoutMs?: number): Promise<void>;
  /** Resolves when stdout has a line matching. */
  waitForStdout(re: RegExp, timeoutMs?: number): Promise<void>;
  /** Exit code (or 128+signal). */
  exited: Promise<number>;
  /** stdout parsed as JSON lines. */
  json(): any[];
}

/** Starts the CLI with `args`; `prefix` wraps the command (e.g. ['ip', 'netns', 'exec', ns]). */
export function startCli(args: string[], opts: { prefix?: string[]; env?: NodeJS.ProcessEnv } = {}): CliRun {
  const argv = [...(opts.prefix ?? []), ...CLI, ...args];
  const spawnOpts: SpawnOptions = {
    cwd: REPO,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, NO_COLOR: '1', ...opts.env },
  };
  const child = spawn(argv[0]!, argv.slice(1), spawnOpts);
  const run: CliRun = {
    child,
    stdout: '',
    stderr: '',
    exited: new Promise((res) =>
      child.on('exit', (code, sig) => res(code ?? 128 + (sig === 'SIGINT' ? 2 : sig === 'SIGTERM' ? 15 : 9))),
    ),
    waitForStderr: (re, t) => waitFor(() => re.test(run.stderr), t, `stderr ${re}`),
    waitForStdout: (re, t) => waitFor(() => run.stdout.split('\n').some((l) => re.test(l)), t, `stdout ${re}`),
    json: () =>
      run.stdout
        .split('\n')
        .filter((l) => l.trim())
        .map((l) => JSON.parse(l)),
  };
  child.stdout!.on('data', (d: Buffer) => {
    run.stdout += d.toString();
  });
  child.stderr!.on('data', (d: Buffer) => {
    run.stderr += d.toString();
  });
  let done = false;
  void run.exited.then(() => {
    done = true;
  });
  function waitFor(cond: () => boolean, timeoutMs = 20_000, what = ''): Promise<void> {
    return new Promise((res, rej) => {
      const t0 = Date.now();
      const tick = () => {
        if (cond()) return res();
        if (done) return rej(new Error(`tsbpf exited before ${what}; stderr: ${run.stderr}`));
        if (Date.now() - t0 > timeoutMs) return rej(new Error(`timed out waiting for ${what}; stderr: ${run.stderr}`));
        setTimeout(tick, 20);
      };
      tick();
    });
  }
  return run;
}

/** Runs the CLI to completion. */
export async function runCli(
  args: string[],
  opts: { prefix?: string[]; env?: NodeJS.ProcessEnv } = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  const r = startCli(args, opts);
  const code = await r.exited;
  // Let the pipes flush.
  await new Promise((res) => setImmediate(res));
  return { code, stdout: r.stdout, stderr: r.stderr };
}
