/**
 * Counts the instructions an XDP program executes on one packet: a small eBPF interpreter over the
 * packet, a stack and one map value, enough for packet counters (loads, stores, ALU, jumps, map
 * lookup/update helpers). The kernel has no per-run instruction counter, and the seeds' claims
 * ("~15 instructions per packet", "< 50 instructions") are about exactly this path length.
 * Pure: no kernel, no filesystem. Not a hot path (BigInt arithmetic is fine here).
 */
import { decodeProgram } from 'tsbpf';
import { ALU_OP, CLASS, JMP_OP, MODE, SIZE } from 'tsbpf/insn';

/** What one traced run did. */
export interface TraceResult {
  /** Instructions executed (an ld_imm64 counts once). */
  executed: number;
  /** r0 at exit. */
  retval: number;
  /** Helper ids called, in order. */
  helpers: number[];
}

// Address-space layout of the trace: each region at its own 256 MiB base, all below 2^32 so 32-bit
// context loads of data/data_end stay exact.
const CTX = 0x1000_0000n;
const PKT = 0x2000_0000n;
const STACK = 0x3000_0000n;
const STACK_SIZE = 512;
const VALUE = 0x4000_0000n;
const VALUE_SIZE = 4096;
const MAP_PTR = 0x5000_0000n;
const M64 = (1n << 64n) - 1n;
const HELPER_MAP_LOOKUP = 1;

const SIZE_BYTES: Record<number, number> = { [SIZE.b]: 1, [SIZE.h]: 2, [SIZE.w]: 4, [SIZE.dw]: 8 };

function sx(v: bigint, bits: number): bigint {
  return BigInt.asIntN(bits, v);
}

/**
 * Runs `program` (encoded instructions, map references may be unresolved) on `packet` as an XDP
 * program. `lookupHit` decides whether bpf_map_lookup_elem finds an entry (steady state: yes).
 */
export function traceXdp(
  program: Uint8Array,
  packet: Uint8Array,
  opts: { lookupHit?: boolean; maxSteps?: number } = {},
): TraceResult {
  const insns = decodeProgram(program);
  const bySlot = new Map(insns.map((d, i) => [d.index, i]));
  const pkt = new DataView(packet.buffer, packet.byteOffset, packet.byteLength);
  const stack = new DataView(new ArrayBuffer(STACK_SIZE));
  const value = new DataView(new ArrayBuffer(VALUE_SIZE));
  const r: bigint[] = new Array<bigint>(11).fill(0n);
  r[1] = CTX;
  r[10] = STACK + BigInt(STACK_SIZE);
  const helpers: number[] = [];
  let executed = 0;
  const maxSteps = opts.maxSteps ?? 100_000;

  const region = (addr: bigint, size: number): { view: DataView; off: number } | 'ctx' => {
    const inside = (base: bigint, len: number) => addr >= base && addr + BigInt(size) <= base + BigInt(len);
    if (inside(PKT, packet.byteLength)) return { view: pkt, off: Number(addr - PKT) };
    if (inside(STACK, STACK_SIZE)) return { view: stack, off: Number(addr - STACK) };
    if (inside(VALUE, VALUE_SIZE)) return { view: value, off: Number(addr - VALUE) };
    if (inside(CTX, 24)) return 'ctx';
    throw new RangeError(
      `trace: access of ${size} bytes at 0x${addr.toString(16)} is outside packet, stack and map value`,
    );
  };
  const load = (addr: bigint, size: number): bigint => {
    const where = region(addr, size);
    if (where === 'ctx') {
      const off = Number(addr - CTX);
      if (off === 0) return PKT; // xdp_md.data
      if (off === 4) return PKT + BigInt(packet.byteLength); // xdp_md.data_end
      return 0n;
    }
    const { view, off } = where;
    switch (size) {
      case 1:
        return BigInt(view.getUint8(off));
      case 2:
        return BigInt(view.getUint16(off, true));
      case 4:
        return BigInt(view.getUint32(off, true));
      default:
        return view.getBigUint64(off, true);
    }
  };
  const store = (addr: bigint, size: number, v: bigint): void => {
    const where = region(addr, size);
    if (where === 'ctx') throw new RangeError('trace: store into the context');
    const { view, off } = where;
    switch (size) {
      case 1:
        view.setUint8(off, Number(v & 0xffn));
        break;
      case 2:
        view.setUint16(off, Number(v & 0xffffn), true);
        break;
      case 4:
        view.setUint32(off, Number(v & 0xffffffffn), true);
        break;
      default:
        view.setBigUint64(off, v & M64, true);
    }
  };

  let pc = 0;
  for (;;) {
    if (++executed > maxSteps) throw new RangeError(`trace: more than ${maxSteps} steps (loop?)`);
    const d = insns[pc];
    if (!d) throw new RangeError(`trace: fell off the program at instruction ${pc}`);
    const { code, dst, src, off, imm } = d.raw;
    const cls = code & 0x07;
    const op = code & 0xf0;
    const useReg = (code & 0x08) !== 0;
    let next = pc + 1;
    if (code === 0x18) {
      // ld_imm64: a map reference (src 1/2/5/6) becomes an opaque map pointer.
      r[dst] = d.raw.src !== 0 ? MAP_PTR : (d.imm64 ?? 0n);
    } else if (cls === CLASS.alu64 || cls === CLASS.alu) {
      const is64 = cls === CLASS.alu64;
      const bits = is64 ? 64 : 32;
      const mask = is64 ? M64 : 0xffffffffn;
      const a = r[dst]! & mask;
      const b = (useReg ? r[src]! : BigInt.asUintN(64, BigInt(imm))) & mask;
      let v: bigint;
      switch (op) {
        case ALU_OP.add:
          v = a + b;
          break;
        case ALU_OP.sub:
          v = a - b;
          break;
        case ALU_OP.mul:
          v = a * b;
          break;
        case ALU_OP.div:
          v = b === 0n ? 0n : a / b;
          break;
        case ALU_OP.mod:
          v = b === 0n ? a : a % b;
          break;
        case ALU_OP.or:
          v = a | b;
          break;
        case ALU_OP.and:
          v = a & b;
          break;
        case ALU_OP.xor:
          v = a ^ b;
          break;
        case ALU_OP.lsh:
          v = a << (b & BigInt(bits - 1));
          break;
        case ALU_OP.rsh:
          v = a >> (b & BigInt(bits - 1));
          break;
        case ALU_OP.arsh:
          v = sx(a, bits) >> (b & BigInt(bits - 1));
          break;
        case ALU_OP.neg:
          v = -a;
          break;
        case ALU_OP.mov:
          v = off === 0 ? b : sx(useReg ? r[src]! : b, off);
          break;
        case ALU_OP.end: {
          const n = imm / 8;
          const toBe = (code & 0x08) !== 0 || is64; // BPF_TO_BE, or bswap (ALU64) which always swaps
          let x = r[dst]! & ((1n << BigInt(imm)) - 1n);
          if (toBe) {
            let y = 0n;
            for (let i = 0; i < n; i++) {
              y = (y << 8n) | (x & 0xffn);
              x >>= 8n;
            }
            x = y;
          }
          r[dst] = x;
          pc = next;
          continue;
        }
        default:
          throw new RangeError(`trace: unsupported ALU op 0x${code.toString(16)} at ${pc}`);
      }
      r[dst] = BigInt.asUintN(bits, v);
    } else if (cls === CLASS.ldx) {
      const size = SIZE_BYTES[code & 0x18]!;
      const v = load(r[src]! + BigInt(off), size);
      r[dst] = (code & 0xe0) === MODE.memsx ? BigInt.asUintN(64, sx(v, size * 8)) : v;
    } else if (cls === CLASS.stx || cls === CLASS.st) {
      const size = SIZE_BYTES[code & 0x18]!;
      const addr = r[dst]! + BigInt(off);
      if ((code & 0xe0) === MODE.atomic) {
        if (imm !== 0) throw new RangeError(`trace: unsupported atomic op ${imm} at ${pc}`);
        store(addr, size, load(addr, size) + r[src]!);
      } else {
        store(addr, size, cls === CLASS.stx ? r[src]! : BigInt.asUintN(64, BigInt(imm)));
      }
    } else if (cls === CLASS.jmp || cls === CLASS.jmp32) {
      if (op === JMP_OP.exit) return { executed, retval: Number(r[0]! & 0xffffffffn), helpers };
      if (op === JMP_OP.call) {
        helpers.push(imm);
        r[0] = imm === HELPER_MAP_LOOKUP ? (opts.lookupHit === false ? 0n : VALUE) : 0n;
        for (let i = 1; i <= 5; i++) r[i] = 0xdead_beefn; // clobbered
      } else if (op === JMP_OP.ja) {
        next = pc + 1 + (cls === CLASS.jmp32 ? imm : off);
      } else {
        const bits = cls === CLASS.jmp ? 64 : 32;
        const a = BigInt.asUintN(bits, r[dst]!);
        const b = BigInt.asUintN(bits, useReg ? r[src]! : BigInt(imm));
        const as = sx(a, bits),
          bs = sx(b, bits);
        let taken: boolean;
        switch (op) {
          case JMP_OP.jeq:
            taken = a === b;
            break;
          case JMP_OP.jne:
            taken = a !== b;
            break;
          case JMP_OP.jgt:
            taken = a > b;
            break;
          case JMP_OP.jge:
            taken = a >= b;
            break;
          case JMP_OP.jlt:
            taken = a < b;
            break;
          case JMP_OP.jle:
            taken = a <= b;
            break;
          case JMP_OP.jset:
            taken = (a & b) !== 0n;
            break;
          case JMP_OP.jsgt:
            taken = as > bs;
            break;
          case JMP_OP.jsge:
            taken = as >= bs;
            break;
          case JMP_OP.jslt:
            taken = as < bs;
            break;
          case JMP_OP.jsle:
            taken = as <= bs;
            break;
          default:
            throw new RangeError(`trace: unsupported jump 0x${code.toString(16)} at ${pc}`);
        }
        if (taken) next = pc + 1 + off;
      }
      // Jump offsets count slots; translate a slot target back to an instruction index.
      if (next !== pc + 1) {
        const slot = d.index + 1 + (op === JMP_OP.ja && cls === CLASS.jmp32 ? imm : off);
        const idx = bySlot.get(slot);
        if (idx === undefined) throw new RangeError(`trace: jump into the middle of an instruction at ${pc}`);
        next = idx;
      }
    } else {
      throw new RangeError(`trace: unsupported instruction 0x${code.toString(16)} at ${pc}`);
    }
    pc = next;
  }
}
