/**
 * Terminal output for the CLI: colors only on a tty (NO_COLOR / FORCE_COLOR respected), aligned
 * columns, human units, and JSON lines.
 */

/** Whether a stream should get ANSI colors. */
export function colorsEnabled(stream: NodeJS.WriteStream = process.stdout): boolean {
  if (process.env.NO_COLOR !== undefined && process.env.NO_COLOR !== '') return false;
  const force = process.env.FORCE_COLOR;
  if (force !== undefined) return force !== '0' && force !== 'false';
  return stream.isTTY === true && process.env.TERM !== 'dumb';
}

const CODES = {
  bold: [1, 22],
  dim: [2, 22],
  red: [31, 39],
  green: [32, 39],
  yellow: [33, 39],
  cyan: [36, 39],
} as const;
export type Style = keyof typeof CODES;

/** A styler bound to a stream's color support. */
export interface Paint {
  (style: Style, text: string): string;
  readonly enabled: boolean;
}

/** Returns a function that wraps text in ANSI styles when `stream` supports colors, else returns it unchanged. */
export function paintFor(stream: NodeJS.WriteStream = process.stdout): Paint {
  const enabled = colorsEnabled(stream);
  const f = ((style: Style, text: string) =>
    enabled ? `\x1b[${CODES[style][0]}m${text}\x1b[${CODES[style][1]}m` : text) as Paint;
  Object.defineProperty(f, 'enabled', { value: enabled });
  return f;
}

/** Column alignment. */
export type Align = 'left' | 'right';
/** A column of a {@link Table}. */
export interface Column {
  header: string;
  align?: Align;
  /** Minimum width (characters). */
  width?: number;
}

// biome-ignore lint/suspicious/noControlCharactersInRegex: matches the ESC that starts an ANSI colour sequence.
const ANSI = /\x1b\[[0-9;]*m/g;
function visibleLength(s: string): number {
  return s.replace(ANSI, '').length;
}
function pad(s: string, width: number, align: Align): string {
  const gap = Math.max(0, width - visibleLength(s));
  return align === 'right' ? ' '.repeat(gap) + s : s + ' '.repeat(gap);
}

/** Formats rows as aligned columns (widths from the content), with an optional styled header. */
export function formatTable(columns: Column[], rows: string[][], paint?: Paint): string {
  const widths = columns.map((c, i) =>
    Math.max(c.width ?? 0, c.header.length, ...rows.map((r) => visibleLength(r[i] ?? ''))),
  );
  const line = (cells: string[]) =>
    cells
      .map((c, i) => pad(c, widths[i]!, columns[i]!.align ?? 'left'))
      .join('  ')
      .trimEnd();
  const header = line(columns.map((c) => c.header));
  return [paint ? paint('bold', header) : header, ...rows.map(line)].join('\n');
}

/** A fixed-width row formatter for streaming output (events arrive one at a time). */
export function rowFormatter(columns: Column[]): { header: string; row(cells: string[]): string } {
  const widths = columns.map((c) => Math.max(c.width ?? 0, c.header.length));
  const line = (cells: string[]) =>
    cells
      .map((c, i) =>
        i === cells.length - 1 && (columns[i]!.align ?? 'left') === 'left'
          ? c
          : pad(c, widths[i]!, columns[i]!.align ?? 'left'),
      )
      .join('  ');
  return { header: line(columns.map((c) => c.header)), row: line };
}

/** "1.23 ms", "850 ns", "12.0 s". */
export function formatNs(ns: number | null): string {
  if (ns === null || !Number.isFinite(ns)) return '-';
  const a = Math.abs(ns);
  if (a < 1e3) return `${Math.round(ns)} ns`;
  if (a < 1e6) return `${(ns / 1e3).toFixed(1)} µs`;
  if (a < 1e9) return `${(ns / 1e6).toFixed(2)} ms`;
  return `${(ns / 1e9).toFixed(2)} s`;
}

/** Thousands-separated integer. */
export function formatCount(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}

/** Rate with one decimal below 100, else an integer. */
export function formatRate(n: number): string {
  return n < 100 ? n.toFixed(1) : formatCount(n);
}

/** Wall-clock time of day with milliseconds ("14:03:07.123"), local time. */
export function clockTime(date = new Date()): string {
  const p = (n: number, w = 2) => String(n).padStart(w, '0');
  return `${p(date.getHours())}:${p(date.getMinutes())}:${p(date.getSeconds())}.${p(date.getMilliseconds(), 3)}`;
}

/** Writes one JSON object as a line. */
export function writeJsonLine(value: unknown, stream: NodeJS.WritableStream = process.stdout): void {
  stream.write(`${JSON.stringify(value)}\n`);
}
