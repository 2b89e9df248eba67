/**
 * `node packages/tools/dist/bench/fuzz.js [--cases N] [--parsers elf,btf,btf-ext,disasm,asm,codegen] [--workers W]`:
 * the large fuzz run (not part of `npm test`; the unit tests run 100k-case versions). Each parser gets N
 * inputs (default 1,000,000), mutations of real objects — the checked-in fixture objects' ELF files,
 * .BTF and .BTF.ext sections, program bytes, and their disassembly text for the assembler — plus some
 * random bytes. `codegen` is `tsbpf gen types` (`ObjectSpec.parse` + `generateTypes`) on whole objects with
 * one section (.BTF, .BTF.ext, .maps, global data) mutated in place, or the whole file mutated. A case passes
 * when it parses or throws a typed error: an instance of the library's error base class, `TsbpfError`.
 * Anything else is untyped (even a `TypeError`/`RangeError` whose message starts `tsbpf:`: those are for
 * bad arguments, not bad input), and a crash unless it is at least a deliberate error (a Syntax/Range/
 * TypeError whose message is not the engine's); a case over 1 s is a hang
 * (a worker silent for 10 s is terminated and counted as hung). Deterministic: case i of a parser always
 * sees the same input, so a failure names a reproducible case.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { availableParallelism } from 'node:os';
import {
  assemble,
  Btf,
  BtfExt,
  btfLayout,
  disassemble,
  decodeProgram,
  Elf,
  generateTypes,
  ObjectSpec,
  parseAsm,
  parseBtfMaps,
  TsbpfError,
} from 'tsbpf';

export const PARSERS = ['elf', 'btf', 'btf-ext', 'disasm', 'asm', 'codegen'] as const;
export type Parser = (typeof PARSERS)[number];

/** A case slower than this is a hang. */
const HANG_MS = 1000;
/** A worker silent this long is stuck in one case: terminated, counted hung. */
const STUCK_MS = 10_000;
const PROGRESS_EVERY = 2000;

/** The fixture objects (clang output) in the library's test tree. */
export const DEFAULT_CORPUS = resolve(dirname(fileURLToPath(import.meta.url)), '../../../tsbpf/test/fixtures/obj');

export interface FuzzCounts {
  parser: Parser;
  cases: number;
  /** Parsed without error. */
  accepted: number;
  /** Rejected with a typed error, by class name. */
  rejected: Record<string, number>;
  /** Exceptions that are not typed rejections, by class name (a failure of the contract). */
  untyped: Record<string, number>;
  /** Of those, the ones that are not even a deliberate parse error: internal failures (null access, stack overflow...). */
  crashes: number;
  hangs: number;
  slowestMs: number;
  seconds: number;
  /** The first few crash descriptions (case number and stack top). */
  examples: string[];
}

/** mulberry32. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let x = a;
    x = Math.imul(x ^ (x >>> 15), x | 1);
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61);
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

const INTERESTING = [
  0, 1, 2, 7, 8, 12, 16, 24, 64, 0x7f, 0x80, 0xff, 0x100, 0xffff, 0x10000, 0x7fffffff, 0x80000000, 0xfffffffe,
  0xffffffff,
];

/** Byte mutations of a real input: random bytes, bit flips, interesting u32/u64 values, truncation, splices. */
function mutate(base: Uint8Array, r: () => number, hot: number): Uint8Array {
  if (r() < 0.02) {
    const b = new Uint8Array(Math.floor(r() * 512));
    for (let i = 0; i < b.length; i++) b[i] = Math.floor(r() * 256);
    return b;
  }
  let b = Uint8Array.from(base);
  const pos = (): number => (r() < 0.5 ? Math.floor(r() * Math.min(hot, b.length)) : Math.floor(r() * b.length));
  const n = 1 + Math.floor(r() * 4);
  for (let i = 0; i < n && b.length > 0; i++) {
    const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
    const op = r();
    if (op < 0.3) b[pos()] = Math.floor(r() * 256);
    else if (op < 0.4) b[pos()]! ^= 1 << Math.floor(r() * 8);
    else if (op < 0.75) {
      const p = pos() & ~3;
      if (p + 4 <= b.length) v.setUint32(p, INTERESTING[Math.floor(r() * INTERESTING.length)]!, true);
    } else if (op < 0.85) {
      const p = pos() & ~7;
      if (p + 8 <= b.length)
        v.setBigUint64(p, r() < 0.5 ? 0xffffffffffffffffn : BigInt(Math.floor(r() * 2 ** 40)), true);
    } else if (op < 0.92) {
      // duplicate a chunk elsewhere (structure-shaped garbage)
      const from = pos(),
        to = pos(),
        len = Math.min(Math.floor(r() * 64), b.length - Math.max(from, to));
      if (len > 0) b.copyWithin(to, from, from + len);
    } else b = b.subarray(0, Math.floor(r() * b.length));
  }
  return b;
}

/** Text mutations of real assembly: token swaps, deleted/inserted characters, numbers, duplicated/dropped lines. */
const TOKENS = [
  'r0',
  'r1',
  'r10',
  'r11',
  'w3',
  '+=',
  '=',
  '<<=',
  's>>=',
  'goto',
  'if',
  'call',
  'exit',
  '*(u64 *)',
  '*(u8 *)',
  '(',
  ')',
  '[',
  ']',
  '0x',
  '-',
  '+',
  'll',
  'lock',
  'map',
  ':',
  'L1',
  '-2147483649',
  '4294967296',
  '99999999999999999999',
  '\n',
  ';',
  ' ',
  'bswap64',
  'be16',
  'may_goto',
  'callx',
  'ld_abs',
  'atomic_fetch_add',
  '',
];
function mutateText(base: string[], r: () => number): string[] {
  let lines = base.slice(Math.floor((r() * base.length) / 2));
  lines = lines.slice(0, 1 + Math.floor(r() * Math.min(lines.length, 40)));
  const n = 1 + Math.floor(r() * 3);
  for (let i = 0; i < n && lines.length; i++) {
    const li = Math.floor(r() * lines.length);
    let s = lines[li]!;
    const op = r();
    const at = Math.floor(r() * (s.length + 1));
    if (op < 0.3) s = s.slice(0, at) + TOKENS[Math.floor(r() * TOKENS.length)] + s.slice(at);
    else if (op < 0.5) s = s.slice(0, at) + s.slice(at + 1 + Math.floor(r() * 4));
    else if (op < 0.65)
      s = s.replace(/-?\d+/, () => String(INTERESTING[Math.floor(r() * INTERESTING.length)]! * (r() < 0.3 ? -1 : 1)));
    else if (op < 0.75) s = s.slice(0, at) + String.fromCharCode(Math.floor(r() * 128)) + s.slice(at);
    else if (op < 0.85) {
      lines.splice(li, 0, lines[Math.floor(r() * lines.length)]!);
      continue;
    } else {
      lines.splice(li, 1);
      continue;
    }
    lines[li] = s;
  }
  return lines;
}

/** Messages V8 itself produces: a parser bug, not a deliberate rejection. */
const ENGINE_ERROR =
  /Cannot read prop|Cannot set prop|is not a function|is not iterable|is not defined|Invalid (typed )?array length|Maximum call stack|outside the bounds|Cannot convert|Invalid string length|out of memory|Unexpected token|JSON/;

/** A typed rejection: what the library promises for bad input. */
export function typedError(e: unknown): string | undefined {
  return e instanceof TsbpfError ? e.constructor.name : undefined;
}

/** An object for the codegen target: its bytes, where its sections are, and the type names its BTF has. */
interface GenBase {
  bytes: Uint8Array;
  regions: { offset: number; size: number; hot: number }[];
  typeNames: string[];
}

interface Corpus {
  elfs: Uint8Array[];
  btfs: Uint8Array[];
  exts: { ext: Uint8Array; btf: Btf }[];
  progs: Uint8Array[];
  texts: string[][];
  gens: GenBase[];
}

function loadCorpus(dir: string): Corpus {
  const files = readdirSync(dir)
    .filter((f) => f.endsWith('.o'))
    .sort();
  if (files.length === 0) throw new Error(`fuzz: no .o files in ${dir}`);
  const c: Corpus = { elfs: [], btfs: [], exts: [], progs: [], texts: [], gens: [] };
  for (const f of files) {
    const bytes = new Uint8Array(readFileSync(join(dir, f)));
    const elf = Elf.parse(bytes);
    // Debug sections are large and irrelevant to these parsers; the ELF cases mutate the whole file anyway.
    c.elfs.push(bytes);
    const btfSec = elf.section('.BTF');
    if (btfSec) {
      const raw = btfSec.data.slice();
      c.btfs.push(raw);
      const ext = elf.section('.BTF.ext');
      if (ext) c.exts.push({ ext: ext.data.slice(), btf: Btf.parse(raw) });
      // Codegen: the sections `gen types` reads (.BTF above all, then .maps, the global data and .BTF.ext),
      // mutated in place inside the whole object, and the struct/union/enum/typedef names for `--type`.
      const btf = Btf.parse(raw);
      const typeNames = btf.types
        .filter((ty) => ty.name !== '' && [4, 5, 6, 8, 19].includes(ty.kind))
        .map((ty) => ty.name);
      const regions = elf.sections
        .filter(
          (sec) =>
            sec.type !== 8 &&
            sec.size > 0 &&
            (sec.name === '.BTF' ||
              sec.name === '.BTF.ext' ||
              sec.name === '.maps' ||
              sec.name === 'maps' ||
              /^\.(rodata|data|bss|kconfig)/.test(sec.name)),
        )
        .map((sec) => ({ offset: sec.offset, size: sec.size, hot: sec.name === '.BTF' ? 24 : 64 }));
      const btfRegion = regions.find((x) => x.offset === btfSec.offset)!;
      // .BTF gets half the cases by itself: it is what the generator reads.
      c.gens.push({ bytes, regions: [...regions, ...regions.map(() => btfRegion)], typeNames });
    }
    for (const s of elf.sections) {
      if ((s.flags & 0x4) === 0 || s.size === 0 || s.size % 8 !== 0) continue; // SHF_EXECINSTR
      const prog = s.data.slice(0, Math.min(s.size, 4096));
      c.progs.push(prog);
      for (const style of ['readable', 'llvm'] as const) {
        try {
          c.texts.push(disassemble(prog, { style }));
        } catch {
          /* relocations unresolved: still a byte corpus */
        }
      }
    }
  }
  return c;
}

function exerciseBtf(btf: Btf, r: () => number): void {
  btf.findByName('event');
  for (let i = 0; i < 6 && btf.types.length > 0; i++) {
    const id = btf.startId + Math.floor(r() * btf.types.length);
    const ty = btf.type(id);
    const sized = ty.kind !== 7 && ty.kind !== 12 && ty.kind !== 13 && ty.kind !== 17;
    const ops = sized
      ? [() => btf.resolve(id), () => btf.sizeOf(id), () => btf.describe(id)]
      : [() => btf.describe(id)];
    for (const f of ops) {
      try {
        f();
      } catch (e) {
        if (!typedError(e)) throw e;
      }
    }
    if ((ty.kind === 4 || ty.kind === 5) && r() < 0.3) {
      try {
        const l = btfLayout(btf, id);
        if (l.size <= 65536) l.fromBytes(new Uint8Array(l.size));
      } catch (e) {
        if (!typedError(e)) throw e;
      }
    }
  }
  try {
    parseBtfMaps(btf);
  } catch (e) {
    if (!typedError(e)) throw e;
  }
  if (r() < 0.1) Btf.parse(btf.encode(), { base: btf.base });
}

/** One case: builds the input for case `i` of `parser` and runs the parser (and its users) on it. */
function runCase(parser: Parser, c: Corpus, i: number): boolean {
  const r = rng(Math.imul(i + 1, 2654435761) ^ (PARSERS.indexOf(parser) * 0x9e3779b9));
  const pick = <T>(xs: T[]): T => xs[Math.floor(r() * xs.length)]!;
  switch (parser) {
    case 'elf': {
      const base = pick(c.elfs);
      const elf = Elf.parse(mutate(base, r, r() < 0.4 ? 64 : base.length));
      elf.symbols();
      elf.relocationSections();
      return true;
    }
    case 'btf': {
      const base = pick(c.btfs);
      exerciseBtf(Btf.parse(mutate(base, r, r() < 0.3 ? 24 : base.length)), r);
      return true;
    }
    case 'btf-ext': {
      const { ext, btf } = pick(c.exts);
      const parsed = BtfExt.parse(mutate(ext, r, r() < 0.5 ? 64 : ext.length), btf);
      for (const s of parsed.coreRelos)
        for (const rel of s.records) {
          try {
            btf.resolve(rel.typeId);
          } catch (e) {
            if (!typedError(e)) throw e;
          }
        }
      return true;
    }
    case 'disasm': {
      const bytes = mutate(pick(c.progs), r, 64);
      decodeProgram(bytes);
      disassemble(bytes, { style: r() < 0.5 ? 'readable' : 'llvm', hex: r() < 0.5 });
      return true;
    }
    case 'asm': {
      const items = parseAsm(mutateText(pick(c.texts), r));
      assemble(items, { maps: { m: { fd: 3 } } });
      return true;
    }
    case 'codegen': {
      // `tsbpf gen types`: ObjectSpec.parse then generateTypes, on the object with one of its sections (most
      // often .BTF) mutated in place, or (15%) the whole file mutated; --type names from the object's BTF,
      // sometimes a wrong one; each of the three wrapper modes.
      const g = pick(c.gens);
      let bytes: Uint8Array;
      if (r() < 0.15) bytes = mutate(g.bytes, r, r() < 0.4 ? 64 : g.bytes.length);
      else {
        const reg = pick(g.regions);
        const sec = g.bytes.subarray(reg.offset, reg.offset + reg.size);
        const m = mutate(sec, r, r() < 0.4 ? reg.hot : sec.length);
        bytes = Uint8Array.from(g.bytes);
        bytes.fill(0, reg.offset, reg.offset + reg.size); // a truncated section reads as zeros to its end
        bytes.set(m.subarray(0, reg.size), reg.offset);
      }
      const types: string[] = [];
      for (let k = Math.floor(r() * 3); k > 0 && g.typeNames.length; k--)
        types.push(r() < 0.1 ? 'no_such_type' : pick(g.typeNames));
      const spec = ObjectSpec.parse(bytes, { name: 'fuzz' });
      const mode = r();
      const out = generateTypes(spec, {
        name: 'fuzz',
        types,
        object: mode < 0.4 ? false : mode < 0.8 ? { path: './fuzz.bpf.o' } : { embed: bytes },
      });
      if (typeof out.source !== 'string' || out.source.length === 0) throw new Error('codegen: empty module');
      return true;
    }
  }
}

interface Msg {
  kind: 'progress' | 'done';
  done: number;
  accepted: number;
  rejected: Record<string, number>;
  untyped: Record<string, number>;
  crashes: number;
  hangs: number;
  slowestMs: number;
  examples: string[];
}

function workerMain(): void {
  const { parser, from, to, corpus } = workerData as { parser: Parser; from: number; to: number; corpus: string };
  const c = loadCorpus(corpus);
  Error.stackTraceLimit = 4; // most cases end in an expected error: keep them cheap
  const m: Msg = {
    kind: 'progress',
    done: 0,
    accepted: 0,
    rejected: {},
    untyped: {},
    crashes: 0,
    hangs: 0,
    slowestMs: 0,
    examples: [],
  };
  let lastPost = performance.now();
  for (let i = from; i < to; i++) {
    const t0 = performance.now();
    try {
      runCase(parser, c, i);
      m.accepted++;
    } catch (e) {
      const typed = typedError(e);
      if (typed) m.rejected[typed] = (m.rejected[typed] ?? 0) + 1;
      else {
        const name = (e as Error)?.constructor?.name ?? typeof e;
        m.untyped[name] = (m.untyped[name] ?? 0) + 1;
        // Deliberate but untyped (an argument check's "RangeError: tsbpf: ..." reached from input) versus a
        // crash: an engine error from a bug (null access, bad length, stack overflow).
        const deliberate =
          (e instanceof SyntaxError || e instanceof RangeError || e instanceof TypeError) &&
          !ENGINE_ERROR.test(e.message);
        if (!deliberate) m.crashes++;
        if (m.examples.length < 5)
          m.examples.push(`case ${i}: ${(e as Error)?.stack?.split('\n').slice(0, 3).join(' | ') ?? String(e)}`);
      }
    }
    const ms = performance.now() - t0;
    if (ms > m.slowestMs) m.slowestMs = ms;
    if (ms > HANG_MS) {
      m.hangs++;
      if (m.examples.length < 5) m.examples.push(`case ${i}: ${ms.toFixed(0)} ms`);
    }
    m.done++;
    // Every PROGRESS_EVERY cases, and at least every second (the codegen cases are slow): the watchdog's heartbeat.
    if (m.done % PROGRESS_EVERY === 0 || t0 + ms - lastPost > 1000) {
      parentPort!.postMessage(m);
      lastPost = t0 + ms;
    }
  }
  m.kind = 'done';
  parentPort!.postMessage(m);
}

/** Runs `cases` inputs through `parser` on `workers` threads. */
export async function fuzzParser(
  parser: Parser,
  cases: number,
  workers: number,
  corpus = DEFAULT_CORPUS,
  log: (s: string) => void = () => {},
): Promise<FuzzCounts> {
  const t0 = performance.now();
  const per = Math.ceil(cases / workers);
  const results = await Promise.all(
    Array.from(
      { length: workers },
      (_, w) =>
        new Promise<Msg & { stuck: boolean }>((resolveRun) => {
          const from = w * per,
            to = Math.min(cases, from + per);
          const worker = new Worker(new URL(import.meta.url), { workerData: { parser, from, to, corpus } });
          let last: Msg = {
            kind: 'progress',
            done: 0,
            accepted: 0,
            rejected: {},
            untyped: {},
            crashes: 0,
            hangs: 0,
            slowestMs: 0,
            examples: [],
          };
          let lastAt = performance.now();
          let finished = false;
          const watchdog = setInterval(() => {
            if (performance.now() - lastAt > STUCK_MS) {
              // Stuck in one case: record it as a hang (and crash the rest of the range as unexplored).
              finished = true;
              clearInterval(watchdog);
              void worker.terminate();
              resolveRun({
                ...last,
                hangs: last.hangs + 1,
                examples: [...last.examples, `worker ${w}: silent ${STUCK_MS} ms after case ${from + last.done}`],
                stuck: true,
              });
            }
          }, 1000);
          worker.on('message', (m: Msg) => {
            last = m;
            lastAt = performance.now();
            if (w === 0 && m.done > 0 && m.done % (PROGRESS_EVERY * 25) === 0)
              log(`  ${parser}: ${(m.done * workers).toLocaleString('en-US')} of ${cases.toLocaleString('en-US')}`);
            if (m.kind === 'done' && !finished) {
              finished = true;
              clearInterval(watchdog);
              resolveRun({ ...m, stuck: false });
            }
          });
          worker.on('error', (e) => {
            if (finished) return;
            finished = true;
            clearInterval(watchdog);
            resolveRun({
              ...last,
              crashes: last.crashes + 1,
              examples: [...last.examples, `worker ${w} died: ${e.message}`],
              stuck: false,
            });
          });
          worker.on('exit', () => {
            if (finished) return;
            finished = true;
            clearInterval(watchdog);
            resolveRun({
              ...last,
              crashes: last.crashes + 1,
              examples: [...last.examples, `worker ${w} exited early`],
              stuck: false,
            });
          });
        }),
    ),
  );
  const out: FuzzCounts = {
    parser,
    cases: 0,
    accepted: 0,
    rejected: {},
    untyped: {},
    crashes: 0,
    hangs: 0,
    slowestMs: 0,
    seconds: (performance.now() - t0) / 1000,
    examples: [],
  };
  for (const m of results) {
    out.cases += m.done;
    out.accepted += m.accepted;
    for (const [k, n] of Object.entries(m.rejected)) out.rejected[k] = (out.rejected[k] ?? 0) + n;
    for (const [k, n] of Object.entries(m.untyped)) out.untyped[k] = (out.untyped[k] ?? 0) + n;
    out.crashes += m.crashes;
    out.hangs += m.hangs;
    out.slowestMs = Math.max(out.slowestMs, m.slowestMs);
    out.examples.push(...m.examples);
  }
  return out;
}

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

async function main(): Promise<void> {
  const cases = Number(arg('cases') ?? 1_000_000);
  const workers = Number(arg('workers') ?? Math.max(1, availableParallelism()));
  const parsers = (arg('parsers')?.split(',') ?? [...PARSERS]) as Parser[];
  for (const p of parsers)
    if (!PARSERS.includes(p)) throw new RangeError(`fuzz: unknown parser ${p} (${PARSERS.join(', ')})`);
  const corpus = arg('corpus') ?? DEFAULT_CORPUS;
  const all: FuzzCounts[] = [];
  for (const p of parsers) {
    const r = await fuzzParser(p, cases, workers, corpus, (s) => process.stderr.write(`${s}\n`));
    all.push(r);
    const list = (o: Record<string, number>) =>
      Object.entries(o)
        .map(([k, n]) => `${k} ${n}`)
        .join(', ') || 'none';
    console.log(
      `${p}: ${r.cases} inputs in ${r.seconds.toFixed(0)} s: ${r.accepted} accepted, typed rejections ${list(r.rejected)}; untyped ${list(r.untyped)}; crashes ${r.crashes}, hangs ${r.hangs}, slowest ${r.slowestMs.toFixed(1)} ms`,
    );
    for (const e of r.examples) console.log(`  ${e}`);
  }
  if (arg('json')) (await import('node:fs')).writeFileSync(arg('json')!, `${JSON.stringify(all, null, 2)}\n`);
  process.exitCode = all.every(
    (r) => r.crashes === 0 && r.hangs === 0 && Object.keys(r.untyped).length === 0 && r.cases === cases,
  )
    ? 0
    : 1;
}

if (!isMainThread && (workerData as { parser?: string } | null)?.parser) workerMain();
else if (isMainThread && process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) void main();
