/**
 * The shape every `tsbpf bench` suite returns: measured rows next to the seeds' claims, with a
 * verdict, plus chart data for the HTML report. Suites measure; the CLI prints and reports.
 */

/** How a measurement compares with what the seed claims. */
export type Verdict = 'holds' | 'does not hold' | 'not comparable' | 'info';

/** One measured quantity. Medians over `samples`, with their spread. */
export interface Row {
  /** What was measured, e.g. "zero-copy consumer". */
  name: string;
  /** The median. */
  value: number;
  /** "Mevents/s", "ns/event", "ns/op", "%", "x"... */
  unit: string;
  /** Min and max over the repeats. */
  spread?: [number, number];
  /** The seed's (or issue's) claim this row answers, verbatim-ish: "~200 ns/event". */
  claim?: string;
  verdict?: Verdict;
  /** Why the verdict, or what else to know. */
  note?: string;
  /** Ratio against the same run's reference (e.g. vs the libbpf C consumer). */
  ratio?: { value: number; against: string };
}

/** Chart data for the report (rendered with the inlined charting library). */
export interface Chart {
  /** "bar" for throughput per variant, "line" for curves (loss vs size, latency vs budget). */
  kind: 'bar' | 'line';
  title: string;
  xLabel?: string;
  yLabel: string;
  /** Category labels (bar) or x values (line). */
  labels: (string | number)[];
  series: { name: string; data: (number | null)[] }[];
  logX?: boolean;
}

/** What a suite returns. */
export interface SuiteResult {
  suite: string;
  title: string;
  rows: Row[];
  charts: Chart[];
  /** Findings in prose: what held, what did not, and why. */
  notes: string[];
  /** Internal consistency checks (checksums equal, counts equal): name → passed. */
  checks: Record<string, boolean>;
  /** Anything else machine-readable. */
  extra?: Record<string, unknown>;
  durationMs?: number;
}

/** What the runner gives a suite. */
export interface BenchContext {
  /** Short runs for tests: fewer events and repeats, same code paths. */
  quick: boolean;
  /** Repeats per measurement (median reported). */
  repeats: number;
  /** Progress for a tty progress bar: fraction 0..1 and a label. */
  progress(fraction: number, label: string): void;
  /** Log a line (suppressed with --json on stdout). */
  log(line: string): void;
  /** `--counters`: read CPU performance counters (or software counters without a PMU) where a suite can. */
  counters?: boolean;
  /** soak: minutes of steady collection (`tsbpf bench soak --minutes N`; default 10). */
  minutes?: number;
}

/** A benchmark suite. */
export interface BenchSuite {
  name: string;
  title: string;
  run(ctx: BenchContext): Promise<SuiteResult>;
}

/** Median of numbers. */
export function median(xs: number[]): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** Min and max. */
export function spread(xs: number[]): [number, number] {
  return [Math.min(...xs), Math.max(...xs)];
}

/** The p-th percentile (0..100) of sorted-or-not numbers. */
export function percentile(xs: ArrayLike<number>, p: number): number {
  const s = Array.from(xs).sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  const i = Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1));
  return s[i]!;
}
