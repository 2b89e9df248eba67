/**
 * Option parsers shared by the subcommands: each throws commander's InvalidArgumentError, so a bad
 * value becomes a one-line usage error (exit 2) naming the option.
 */
import { InvalidArgumentError, Option } from 'commander';

/** A number of seconds > 0 (fractions allowed). */
export function parseSeconds(v: string): number {
  const n = Number(v);
  if (v.trim() === '' || !Number.isFinite(n) || n <= 0)
    throw new InvalidArgumentError('expected a positive number of seconds.');
  return n;
}

/** An integer in [min, max]. */
export function intIn(min: number, max: number): (v: string) => number {
  return (v) => {
    if (!/^\s*\d+\s*$/.test(v)) throw new InvalidArgumentError(`expected an integer in ${min}..${max}.`);
    const n = Number(v);
    if (n < min || n > max) throw new InvalidArgumentError(`expected an integer in ${min}..${max}.`);
    return n;
  };
}

/** A non-empty string of at most `max` bytes. */
export function nonEmpty(what: string, max = 4096): (v: string) => string {
  return (v) => {
    if (v.length === 0) throw new InvalidArgumentError(`expected a non-empty ${what}.`);
    if (Buffer.byteLength(v) > max) throw new InvalidArgumentError(`${what} is longer than ${max} bytes.`);
    return v;
  };
}

/** `--duration <seconds>`. */
export function durationOption(): Option {
  return new Option(
    '-d, --duration <seconds>',
    'stop after this many seconds (default: until Ctrl-C / SIGTERM)',
  ).argParser(parseSeconds);
}

/** `--json`. */
export function jsonOption(what = 'one JSON object per line (see docs/cli.md for the shapes)'): Option {
  return new Option('--json', what);
}
