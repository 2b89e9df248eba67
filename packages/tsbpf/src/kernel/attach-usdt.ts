/**
 * USDT attach: one uprobe per probe site, each carrying a spec id that libbpf's `<bpf/usdt.bpf.h>` uses to find
 * the site's argument locations in its `__bpf_usdt_specs` map (BPF cookie = spec id; on kernels where the
 * uprobe cannot carry a cookie, the `__bpf_usdt_ip_to_spec_id` map keyed by the site's run-time address).
 * Semaphores: the site's `.probes` counter offset goes in the uprobe's ref_ctr_offset, so the kernel bumps it
 * while attached. The pure half (notes, argument specs, spec bytes) is pure/usdt.ts.
 */
import { readFileSync, statSync } from 'node:fs';
import { Elf, ET_DYN } from '../pure/elf.js';
import { NotSupportedError } from '../pure/errors.js';
import { BPF_CMD } from '../pure/uapi.js';
import {
  encodeUsdtSpec,
  parseUsdtArgs,
  usdtArchOf,
  usdtRuntimeAddress,
  UsdtError,
  usdtSites,
  usdtSpecLayout,
  type UsdtSite,
} from '../pure/usdt.js';
import { dynamicPmu, resolveBinary } from './attach-uprobe.js';
import { AttachError, Link, type LinkPart, requireProgramType } from './link.js';
import { BpfMap } from './map.js';
import { native } from './native.js';
import { attachToPerfEvent, perfEventOpen } from './perf-event.js';
import type { Program } from './program.js';
import { Attr, argError, bpf, bpfFail, bpfRaw, cString } from './syscall.js';

/** Where attachUsdt attaches. */
export interface UsdtOptions {
  /** Executable or shared library with the probe (bare library names are searched like uprobe binaries). */
  binary: string;
  /** Probe provider (`libstdcxx`). */
  provider: string;
  /** Probe name (`throw`). */
  name: string;
  /** Only this process (default: every process running the binary). */
  pid?: number;
  /** Value the BPF program reads with bpf_usdt_cookie(ctx). */
  cookie?: bigint;
  /**
   * The program's usdt.bpf.h maps. Default: found among the maps the program uses, by their kernel names
   * (`__bpf_usdt_spec`, `__bpf_usdt_ip_t`: 15-character truncations of `__bpf_usdt_specs`, `__bpf_usdt_ip_to_spec_id`).
   */
  maps?: { specs: { fd: number }; ipToSpecId?: { fd: number } };
}

const SPECS_MAP_NAME = '__bpf_usdt_specs'.slice(0, 15);
const IP_MAP_NAME = '__bpf_usdt_ip_to_spec_id'.slice(0, 15);
const BPF_NOEXIST = 1n;
const REF_CTR_FORMAT = '/sys/bus/event_source/devices/uprobe/format/ref_ctr_offset';
const EEXIST = 17;

/** Spec ids in use per specs map (by kernel map id), shared by every USDT link on that map, as libbpf's usdt_manager. */
const specIds = new Map<number, { next: number; free: number[] }>();

function mapInfo(fd: number, what: string): { id: number; valueSize: number; maxEntries: number } {
  const info = new Uint8Array(88);
  bpf(BPF_CMD.obj_get_info_by_fd, new Attr(16).u32(0, fd).u32(4, info.byteLength).ptr(8, info).bytes, what);
  const v = new DataView(info.buffer);
  return { id: v.getUint32(4, true), valueSize: v.getUint32(12, true), maxEntries: v.getUint32(16, true) };
}

function mapUpdate(fd: number, key: Uint8Array, value: Uint8Array, flags: bigint): number {
  return bpfRaw(BPF_CMD.map_update_elem, new Attr(32).u32(0, fd).ptr(8, key).ptr(16, value).u64n(24, flags).bytes);
}

function mapDelete(fd: number, key: Uint8Array): void {
  bpfRaw(BPF_CMD.map_delete_elem, new Attr(32).u32(0, fd).ptr(8, key).bytes);
}

/** The program's usdt.bpf.h maps, opened by id from the maps it uses. The caller closes them. */
function findUsdtMaps(program: Program, what: string): { specs: BpfMap; ip?: BpfMap } {
  let specs: BpfMap | undefined;
  let ip: BpfMap | undefined;
  for (const id of program.info().mapIds) {
    const m = BpfMap.fromId(id);
    const name = m.info().name;
    if (name === SPECS_MAP_NAME && !specs) specs = m;
    else if (name === IP_MAP_NAME && !ip) ip = m;
    else m.close();
  }
  if (!specs) {
    ip?.close();
    throw argError(
      `${what}: program "${program.name}" uses no __bpf_usdt_specs map; write it with <bpf/usdt.bpf.h> (BPF_USDT, bpf_usdt_arg) or pass opts.maps`,
    );
  }
  return { specs, ip };
}

/** The mappings of `path` in process `pid` (for run-time addresses of a shared library's sites). */
function processMappings(pid: number, path: string): { start: number; end: number; offset: number; exec: boolean }[] {
  const ino = statSync(path).ino;
  const out: { start: number; end: number; offset: number; exec: boolean }[] = [];
  for (const line of readFileSync(`/proc/${pid}/maps`, 'utf8').split('\n')) {
    const m = /^([0-9a-f]+)-([0-9a-f]+) (\S+) ([0-9a-f]+) \S+ (\d+)\s+(.*)$/.exec(line);
    if (!m || Number(m[5]) !== ino) continue;
    out.push({
      start: parseInt(m[1]!, 16),
      end: parseInt(m[2]!, 16),
      offset: parseInt(m[4]!, 16),
      exec: m[3]!.includes('x'),
    });
  }
  return out;
}

// Set by UsdtLink's static block: attachUsdt() makes them; users cannot.
let newUsdtLink: (parts: LinkPart[], what: string, sites: UsdtSite[], release: () => void) => UsdtLink;

/**
 * A USDT attachment: one uprobe per probe site. Closing it detaches every site and frees its spec ids (and
 * ip-map entries) for reuse by later attachments on the same maps.
 */
export class UsdtLink extends Link {
  /** The probe sites attached, in note order. */
  readonly sites: readonly UsdtSite[];
  readonly #release: () => void;

  static {
    newUsdtLink = (parts, what, sites, release) => new UsdtLink(parts, what, sites, release);
  }

  private constructor(parts: LinkPart[], what: string, sites: UsdtSite[], release: () => void) {
    super(parts, what);
    this.sites = sites;
    this.#release = release;
  }

  override close(): void {
    if (this.closed) return;
    super.close();
    this.#release();
  }
}

/** Attaches a `kprobe`-type program written with usdt.bpf.h to every site of `provider:name` in `binary`. */
export function attachUsdt(program: Program, opts: UsdtOptions): UsdtLink {
  if (!opts || typeof opts !== 'object') throw argError('attachUsdt needs { binary, provider, name }');
  requireProgramType(program, ['kprobe'], 'usdt');
  if (typeof opts.provider !== 'string' || !opts.provider) throw argError('usdt provider must be a non-empty string');
  if (typeof opts.name !== 'string' || !opts.name) throw argError('usdt name must be a non-empty string');
  if (opts.pid !== undefined && (!Number.isInteger(opts.pid) || opts.pid <= 0))
    throw argError(`usdt pid must be a positive integer, got ${opts.pid}`);
  if (opts.cookie !== undefined && typeof opts.cookie !== 'bigint') throw argError('usdt cookie must be a bigint');
  const path = resolveBinary(opts.binary);
  const what = `usdt ${path}:${opts.provider}:${opts.name}${opts.pid ? ` (pid ${opts.pid})` : ''}`;
  let elf: Elf;
  try {
    elf = Elf.parse(readFileSync(path));
  } catch (e) {
    throw new AttachError('ENOENT', what, `not a readable ELF file (${(e as Error).message})`);
  }
  const sites = usdtSites(elf, opts.provider, opts.name);
  if (sites.length === 0)
    throw new AttachError(
      'ENOENT',
      what,
      `no USDT probe ${opts.provider}:${opts.name} in ${path} (readelf -n lists its .note.stapsdt)`,
    );
  const arch = usdtArchOf(elf);
  const args = sites.map((s) => parseUsdtArgs(s.args, arch)); // decode all before touching the kernel
  const pmu = dynamicPmu('uprobe');
  if (!pmu)
    throw new NotSupportedError(
      'uprobes',
      'the kernel has no uprobe PMU (/sys/bus/event_source/devices/uprobe): CONFIG_UPROBE_EVENTS is off',
    );
  let refCtrShift: number | undefined;
  if (sites.some((s) => s.semaphoreOffset)) {
    // Format "config:32-63": the counter's file offset goes in config from bit 32.
    try {
      refCtrShift = Number(/^config:(\d+)-\d+$/.exec(readFileSync(REF_CTR_FORMAT, 'utf8').trim())?.[1] ?? NaN);
    } catch {
      refCtrShift = undefined;
    }
    if (refCtrShift === undefined || Number.isNaN(refCtrShift))
      throw new NotSupportedError(
        'USDT semaphores',
        `${what} has a semaphore, and this kernel's uprobe PMU has no ref_ctr_offset (Linux 4.20+)`,
      );
  }

  const owned = opts.maps ? undefined : findUsdtMaps(program, what);
  const specsFd = opts.maps?.specs.fd ?? owned!.specs.fd;
  const ipFd = opts.maps ? opts.maps.ipToSpecId?.fd : owned!.ip?.fd;
  const specsInfo = mapInfo(specsFd, `${what}: __bpf_usdt_specs`);
  const layout = usdtSpecLayout(specsInfo.valueSize);
  let ids = specIds.get(specsInfo.id);
  if (!ids) specIds.set(specsInfo.id, (ids = { next: 0, free: [] }));
  const pool = ids;

  const mine: number[] = [];
  const ipKeys: Uint8Array[] = [];
  const parts: LinkPart[] = [];
  const release = (): void => {
    if (ipFd !== undefined)
      for (const k of ipKeys.splice(0)) {
        try {
          mapDelete(ipFd, k);
        } catch {
          /* map gone */
        }
      }
    pool.free.push(...mine.splice(0));
    owned?.specs.close();
    owned?.ip?.close();
  };
  const pathBuf = cString(path);
  const pid = opts.pid ?? -1;
  const bySpec = new Map<string, number>(); // identical spec strings share an id within one attachment
  let mappings: ReturnType<typeof processMappings> | undefined;
  try {
    sites.forEach((site, i) => {
      let id = bySpec.get(site.args);
      if (id === undefined) {
        id = pool.free.pop() ?? (pool.next < specsInfo.maxEntries ? pool.next++ : undefined);
        if (id === undefined)
          throw new AttachError(
            'ENOSPC',
            what,
            `__bpf_usdt_specs is full (${specsInfo.maxEntries} specs); define BPF_USDT_MAX_SPEC_CNT larger`,
          );
        mine.push(id);
        bySpec.set(site.args, id);
        const key = new Uint8Array(4);
        new DataView(key.buffer).setUint32(0, id, true);
        const r = mapUpdate(specsFd, key, encodeUsdtSpec(args[i]!, opts.cookie ?? 0n, layout), 0n);
        if (r < 0) bpfFail(BPF_CMD.map_update_elem, r, `${what}: __bpf_usdt_specs[${id}]`);
      }
      const config = BigInt(site.semaphoreOffset) << BigInt(refCtrShift ?? 0);
      const siteWhat = `${what} site 0x${site.fileOffset.toString(16)}`;
      const perf = perfEventOpen(
        {
          type: pmu.type,
          config,
          sample: 1,
          wakeupEvents: 1,
          config1: native.addressOf(pathBuf),
          config2: site.fileOffset,
        },
        pid,
        pid === -1 ? 0 : -1,
        siteWhat,
        undefined,
        pathBuf,
      );
      const part = attachToPerfEvent(program, perf, siteWhat, BigInt(id));
      parts.push(part);
      if (!part.link) {
        // Attached through PERF_EVENT_IOC_SET_BPF: no cookie reaches the program, so usdt.bpf.h finds the spec by IP.
        if (ipFd === undefined)
          throw new NotSupportedError(
            'BPF cookies',
            `${what}: this kernel attaches uprobes without BPF cookies and the program has no __bpf_usdt_ip_to_spec_id map`,
          );
        let ip = site.address;
        if (elf.header.type === ET_DYN) {
          if (opts.pid === undefined)
            throw new NotSupportedError(
              'BPF cookies',
              `${what}: without BPF cookies a shared library's USDT needs a pid (its run-time addresses)`,
            );
          mappings ??= processMappings(opts.pid, path);
          const abs = usdtRuntimeAddress(site.fileOffset, mappings);
          if (abs === undefined) throw new UsdtError(`tsbpf: ${what}: process ${opts.pid} has not mapped ${path}`);
          ip = abs;
        }
        const key = new Uint8Array(8);
        new DataView(key.buffer).setBigUint64(0, BigInt(ip), true);
        const val = new Uint8Array(4);
        new DataView(val.buffer).setUint32(0, id, true);
        const r = mapUpdate(ipFd, key, val, BPF_NOEXIST);
        if (r === -EEXIST)
          throw new AttachError(
            'EEXIST',
            what,
            `another USDT attachment already maps IP 0x${ip.toString(16)} in __bpf_usdt_ip_to_spec_id`,
          );
        if (r < 0) bpfFail(BPF_CMD.map_update_elem, r, `${what}: __bpf_usdt_ip_to_spec_id`);
        ipKeys.push(key);
      }
    });
  } catch (e) {
    for (const p of parts) {
      p.link?.close();
      p.perf?.close();
    }
    release();
    throw e;
  }
  return newUsdtLink(parts, what, sites, release);
}
