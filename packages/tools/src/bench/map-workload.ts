/**
 * The user-space map workload shared by the `maps` and `batch` suites, identical on both sides of
 * the comparison: bench/c/map_ops.c (libbpf) and this file (tsbpf) build a u32 → u64 map with keys
 * 0..entries-1 and value(key, cpu) = key × 3 + 1 + cpu, then time the same operations. Values are
 * decoded on both sides (C sums the u64s it read; tsbpf returns numbers via t.u64num).
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { BpfMap, PerCpuArray, PerCpuHash, type ArrayMap, type HashMap } from 'tsbpf';
import { t } from 'tsbpf';
import { runCReference } from './c-reference.js';

/** The map types Lab 16.1 compares. */
export const MAP_TYPES = ['hash', 'array', 'percpu_array', 'percpu_hash', 'lru_hash'] as const;
export type BenchMapType = (typeof MAP_TYPES)[number];

/** The maps the workload builds: u32 → u64 as a number (per CPU for the per-CPU types). */
export type BenchMap = HashMap<number, number> | ArrayMap<number> | PerCpuArray<number> | PerCpuHash<number, number>;

/** True for the per-CPU bench maps (values are one number per CPU). */
export function isPerCpu(m: BenchMap): m is PerCpuArray<number> | PerCpuHash<number, number> {
  return m instanceof PerCpuArray || m instanceof PerCpuHash;
}

/** A filled u32 → u64 (number) map, as map_ops.c builds it. */
export function filledMap(type: BenchMapType, entries: number): BenchMap {
  // LRU maps evict before they are full (per-CPU free lists): headroom keeps every key present (map_ops.c does the same).
  const maxEntries = type === 'lru_hash' ? entries * 2 : entries;
  const m = BpfMap.create({ type, key: t.u32, value: t.u64num, maxEntries, name: `bench_${type}`.slice(0, 15) });
  try {
    const keys = Array.from({ length: entries }, (_, k) => k);
    if (isPerCpu(m))
      m.updateBatch(
        keys,
        keys.map((k) => perCpuValueOf(m, k)),
      );
    else
      m.updateBatch(
        keys,
        keys.map((k) => k * 3 + 1),
      );
  } catch (e) {
    m.close();
    throw e;
  }
  return m;
}

/** The values map_ops.c stores for `key` in a per-CPU map (one per CPU; key × 3 + 1 in the others). */
export function perCpuValueOf(m: BpfMap, key: number): number[] {
  const v = new Array<number>(m.cpus);
  for (let c = 0; c < m.cpus; c++) v[c] = key * 3 + 1 + c;
  return v;
}

/** Sum of all values a full pass over keys 0..n-1 reads (what both sides check). */
export function expectedValueSum(entries: number, cpus: number, ops = entries): number {
  let s = 0;
  for (let i = 0; i < ops; i++) {
    const k = i % entries;
    s += cpus * (k * 3 + 1) + (cpus * (cpus - 1)) / 2;
  }
  return s;
}

/**
 * Process CPU time (user + system) in ns. Both sides of every comparison time with CPU time, not
 * wall time: on a shared machine wall time counts whoever else held the CPU.
 */
export function cpuNowNs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) * 1000;
}

/**
 * Pins this process (all its threads) to one CPU for a tsbpf-vs-C comparison, unless it already
 * runs on a single CPU (e.g. under `taskset -c 1`). The C reference children inherit the affinity,
 * so both sides share one core's caches and see the same neighbours. `restore()` puts the original
 * CPU list back (other suites in the same run pin their own way).
 */
export function pinForComparison(): { cpus: string; restore(): void } {
  const list = /Cpus_allowed_list:\s*(\S+)/.exec(readFileSync('/proc/self/status', 'utf8'))?.[1] ?? '';
  const single = /^\d+$/.test(list);
  const last = list.split(',').at(-1)?.split('-').at(-1);
  const set = (cpus: string) => {
    try {
      execFileSync('taskset', ['-a', '-p', '-c', cpus, String(process.pid)], { stdio: 'ignore' });
      return true;
    } catch {
      return false;
    }
  };
  if (single || last === undefined || last === '' || !set(last)) return { cpus: list, restore() {} };
  return {
    cpus: last,
    restore: () => {
      set(list);
    },
  };
}

/** One round of single-op timings from tsbpf: ns per lookup (decoded) and per update, plus the sum read. */
export function tsSingleOps(
  m: BenchMap,
  entries: number,
  ops: number,
): { lookupNs: number; updateNs: number; sum: number } {
  let sum = 0;
  let t0 = cpuNowNs();
  if (isPerCpu(m)) {
    for (let i = 0; i < ops; i++) {
      const v = m.lookup(i % entries)!;
      for (let c = 0; c < v.length; c++) sum += v[c]!;
    }
  } else {
    for (let i = 0; i < ops; i++) sum += m.lookup(i % entries)!;
  }
  const lookupNs = (cpuNowNs() - t0) / ops;
  const per = new Array<number>(m.cpus);
  t0 = cpuNowNs();
  if (isPerCpu(m)) {
    for (let i = 0; i < ops; i++) {
      const k = i % entries;
      for (let c = 0; c < per.length; c++) per[c] = k * 3 + 1 + c;
      m.update(k, per);
    }
  } else {
    for (let i = 0; i < ops; i++) {
      const k = i % entries;
      m.update(k, k * 3 + 1);
    }
  }
  const updateNs = (cpuNowNs() - t0) / ops;
  return { lookupNs, updateNs, sum };
}

/** What map_ops.c --mode single prints. */
export interface CSingle {
  cpus: number;
  entries: number;
  ops: number;
  lookupNs: number[];
  updateNs: number[];
  sink: number;
}
/** What map_ops.c --mode batch prints. */
export interface CBatch {
  cpus: number;
  entries: number;
  count: number;
  keySum: number;
  valueSum: number;
  lookupBatchNs: number[];
  lookupEachNs: number[];
  updateBatchNs: number[];
  updateEachNs: number[];
  deleteBatchNs: number[];
  deleteEachNs: number[];
}
/** What map_ops.c --mode check prints. */
export interface CCheck {
  count: number;
  keySum: number;
  valueSum: number;
}

/**
 * One round of C single-op timings (its own identical map). `threads` idle threads make it a
 * multi-threaded process like Node (attribution only: the kernel's fdget costs more then).
 */
export function cSingleOps(type: BenchMapType, entries: number, ops: number, repeats = 1, threads = 0): CSingle {
  return runCReference<CSingle>('map_ops', [
    '--mode',
    'single',
    '--type',
    type,
    '--entries',
    String(entries),
    '--ops',
    String(ops),
    '--repeats',
    String(repeats),
    '--threads',
    String(threads),
  ]);
}

/** C batch vs one-at-a-time timings (its own identical map). */
export function cBatchOps(type: BenchMapType, entries: number, repeats = 1): CBatch {
  return runCReference<CBatch>('map_ops', [
    '--mode',
    'batch',
    '--type',
    type,
    '--entries',
    String(entries),
    '--repeats',
    String(repeats),
  ]);
}

/** C reads a tsbpf map (by id) with bpf_map_lookup_batch: count and checksums. */
export function cCheckMap(id: number): CCheck {
  return runCReference<CCheck>('map_ops', ['--mode', 'check', '--map-id', String(id)]);
}
