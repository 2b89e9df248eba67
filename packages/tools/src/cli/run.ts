/**
 * The frame around every subcommand's action: privilege check first (exit 77 naming the missing
 * capabilities), then the action; kernel and argument failures become one clear line on stderr.
 */
import { BpfError, VerifierError } from 'tsbpf';
import { paintFor } from './output.js';
import { EXIT_NOPERM, privilegeProblem, type Need } from './privileges.js';

/** Exit statuses: 0 ok, 1 failure, 2 usage, 77 missing privileges. */
export const EXIT = { ok: 0, failure: 1, usage: 2, noPerm: EXIT_NOPERM } as const;

/** A usage problem found after parsing (conflicting flags, ...): reported like a bad flag, exit 2. */
export class UsageError extends Error {
  override name = 'UsageError';
}

/** Runs `action` for `command` (e.g. "tsbpf trace exec") after checking `need`. Sets process.exitCode. */
export async function runAction(
  command: string,
  need: Need | undefined,
  action: () => Promise<void> | void,
): Promise<void> {
  const paint = paintFor(process.stderr);
  if (need) {
    const problem = privilegeProblem(command, need);
    if (problem) {
      process.stderr.write(`${paint('red', 'error:')} ${problem}\n`);
      process.exitCode = EXIT.noPerm;
      return;
    }
  }
  try {
    await action();
  } catch (e) {
    const err = e as Error;
    if (err instanceof UsageError) {
      process.stderr.write(`${paint('red', 'error:')} ${command}: ${err.message}\n`);
      process.exitCode = EXIT.usage;
      return;
    }
    process.stderr.write(`${paint('red', 'error:')} ${command}: ${err.message ?? String(e)}\n`);
    if (err instanceof VerifierError && process.env.TSBPF_DEBUG) process.stderr.write(`${err.log}\n`);
    if (process.env.TSBPF_DEBUG && err.stack && !(err instanceof BpfError)) process.stderr.write(`${err.stack}\n`);
    process.exitCode = EXIT.failure;
  }
}
