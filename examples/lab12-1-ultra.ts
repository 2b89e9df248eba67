/**
 * Lab 12.1 (high-performance packet counter), the seeds' XDP programs written with tsbpf's assembler,
 * almost line for line. Two deliberate departures from the seed, both required by the verifier:
 * - `struct xdp_md`'s `data`/`data_end` are u32 fields, so they are loaded with `'w'` (the seed's `:dw`
 *   context loads are rejected);
 * - `bpf_map_lookup_elem` returns "pointer or NULL" even for arrays, so the ultra counter checks R0
 *   before dereferencing it (the seed's "no null check needed" is rejected as a possible NULL access).
 */
import { asm, R0, R1, R2, R3, R4, R6, R7, R10, t, type AsmItem, type MapRef } from '../src/index.js';

/** XDP return codes: `(bpf/xdp-action :pass)`. */
export const XDP = { aborted: 0, drop: 1, pass: 2, tx: 3, redirect: 4 } as const;
/** `struct xdp_md` offsets used here. */
const XDP_MD = { data: 0, dataEnd: 4 } as const;

/** The ultra counter's value: `{tcp:u64, udp:u64, icmp:u64, other:u64}`, one per CPU. */
export const UltraStats = t.struct({ tcp: t.u64, udp: t.u64, icmp: t.u64, other: t.u64 });
/** `{:type :percpu_array :key-type :u32 :value-type :struct :max-entries 1}`. */
export const ultraStatsMapSpec = { type: 'percpu_array', keySize: 4, valueSize: UltraStats.size, maxEntries: 1 } as const;
/** `{:type :percpu_array :key-type :u32 :value-type :u64 :max-entries 256}`. */
export const optimizedStatsMapSpec = { type: 'percpu_array', keySize: 4, valueSize: 8, maxEntries: 256 } as const;

/** Version 2: per-CPU array indexed by IP protocol. */
export function optimizedPacketCounter(statsMap: MapRef): AsmItem[] {
  return [
    // Load packet pointers
    asm.loadCtx('w', R2, XDP_MD.data), //             data
    asm.loadCtx('w', R3, XDP_MD.dataEnd), //          data_end

    // **OPTIMIZATION 1: Early bounds check** (Ethernet + IP headers, 34 bytes)
    asm.movReg(R4, R2),
    asm.add(R4, 34),
    asm.jmpReg('jgt', R4, R3, 'pass'), //             Too small, pass it

    // **OPTIMIZATION 2: Quick EtherType check**
    asm.loadMem('h', R6, R2, 12),
    asm.endianBe('h', R6),
    asm.jmpImm('jne', R6, 0x0800, 'pass'), //         Not IPv4, pass

    // **OPTIMIZATION 3: Direct protocol extraction**
    asm.loadMem('b', R7, R2, 23), //                  IP protocol field

    // **OPTIMIZATION 4: Array map (no hashing, direct index)**
    asm.storeMem('w', R10, -4, R7),
    asm.ldMapFd(R1, statsMap),
    asm.movReg(R2, R10),
    asm.add(R2, -4),
    asm.call('map_lookup_elem'),
    asm.jmpImm('jeq', R0, 0, 'pass'), //              (verifier: lookup may return NULL)

    // **OPTIMIZATION 6: Single instruction increment**
    asm.loadMem('dw', R1, R0, 0),
    asm.add(R1, 1),
    asm.storeMem('dw', R0, 0, R1),

    asm.label('pass'),
    asm.mov(R0, XDP.pass),
    asm.exit(),
  ];
}

/** Version 3: one per-CPU struct of four counters and an unrolled protocol switch. */
export function ultraPacketCounter(statsMap: MapRef): AsmItem[] {
  const field = (name: 'tcp' | 'udp' | 'icmp' | 'other') => UltraStats.offsetOf(name);
  return [
    // Load packet pointers
    asm.loadCtx('w', R2, XDP_MD.data),
    asm.loadCtx('w', R3, XDP_MD.dataEnd),

    // Quick bounds check (single comparison)
    asm.movReg(R4, R2),
    asm.add(R4, 34),
    asm.jmpReg('jgt', R4, R3, 'pass'),

    // Quick protocol check
    asm.loadMem('h', R6, R2, 12),
    asm.endianBe('h', R6),
    asm.jmpImm('jne', R6, 0x0800, 'pass'),

    // Get protocol
    asm.loadMem('b', R7, R2, 23),

    // Get stats structure (key = 0, always succeeds)
    asm.mov(R1, 0),
    asm.storeMem('w', R10, -4, R1),
    asm.ldMapFd(R1, statsMap),
    asm.movReg(R2, R10),
    asm.add(R2, -4),
    asm.call('map_lookup_elem'),
    asm.jmpImm('jeq', R0, 0, 'pass'), //              (verifier: lookup may return NULL)

    // **OPTIMIZATION 7: Unrolled protocol switch**
    // TCP = 6
    asm.jmpImm('jne', R7, 6, 'check-udp'),
    asm.loadMem('dw', R1, R0, field('tcp')), //       tcp counter (offset 0)
    asm.add(R1, 1),
    asm.storeMem('dw', R0, field('tcp'), R1),
    asm.jmp('pass'),

    // UDP = 17
    asm.label('check-udp'),
    asm.jmpImm('jne', R7, 17, 'check-icmp'),
    asm.loadMem('dw', R1, R0, field('udp')), //       udp counter (offset 8)
    asm.add(R1, 1),
    asm.storeMem('dw', R0, field('udp'), R1),
    asm.jmp('pass'),

    // ICMP = 1
    asm.label('check-icmp'),
    asm.jmpImm('jne', R7, 1, 'other'),
    asm.loadMem('dw', R1, R0, field('icmp')), //      icmp counter (offset 16)
    asm.add(R1, 1),
    asm.storeMem('dw', R0, field('icmp'), R1),
    asm.jmp('pass'),

    // Other protocols
    asm.label('other'),
    asm.loadMem('dw', R1, R0, field('other')), //     other counter (offset 24)
    asm.add(R1, 1),
    asm.storeMem('dw', R0, field('other'), R1),

    asm.label('pass'),
    asm.mov(R0, XDP.pass),
    asm.exit(),
  ];
}
