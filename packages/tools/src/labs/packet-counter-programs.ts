/**
 * Lab 12.1 (high-performance packet counter): the seed's three XDP programs, written with tsbpf's
 * assembler almost line for line — each seed vector item `[(bpf/...)]` is one `asm.*` call and
 * `[:pass]` is `asm.label('pass')`. The single definition used by `tsbpf count packets`, the `xdp`
 * bench suite and `examples/lab12-1-ultra.ts`.
 *
 * Two deliberate departures from the seed, both required by the verifier:
 * - `struct xdp_md`'s `data`/`data_end` are u32 fields at offsets 0 and 4, so they are loaded with
 *   `'w'` (the seed's `:dw` loads at 0 and 8 are rejected as invalid context access);
 * - `bpf_map_lookup_elem` returns "pointer or NULL" even for arrays, so the optimized and ultra
 *   counters check R0 before dereferencing it (the seed's "no null check needed" is rejected).
 * The naive version keeps the seed's behaviour of dropping every non-IPv4 or runt frame (ARP too).
 */
import { asm, R0, R1, R2, R3, R4, R6, R7, R10, type AsmInput, type MapRef } from 'tsbpf';
import { t } from 'tsbpf';
import { XDP } from 'tsbpf';

export type CounterVariant = 'naive' | 'optimized' | 'ultra';
export const COUNTER_VARIANTS: readonly CounterVariant[] = ['naive', 'optimized', 'ultra'];

/** `struct xdp_md` offsets: `data` and `data_end` are u32 (see the header comment). */
export const XDP_MD = { data: 0, dataEnd: 4 } as const;

/** Ultra's per-CPU value `{tcp:u64, udp:u64, icmp:u64, other:u64}`, decoded as numbers. */
export const UltraStats = t.struct({ tcp: t.u64num, udp: t.u64num, icmp: t.u64num, other: t.u64num });

/** The map each variant counts into. */
export const COUNTER_MAPS = {
  /** `naive-counter-map`: `{:type :hash :key-type :u32 :value-type :u64 :max-entries 256}`, key = IP protocol. */
  naive: { type: 'hash', keySize: 4, valueSize: 8, maxEntries: 256 },
  /** `optimized-stats-map`: `{:type :percpu_array :key-type :u32 :value-type :u64 :max-entries 256}`, index = protocol. */
  optimized: { type: 'percpu_array', keySize: 4, valueSize: 8, maxEntries: 256 },
  /** `ultra-stats-map`: `{:type :percpu_array :key-type :u32 :value-type :struct :max-entries 1}`. */
  ultra: { type: 'percpu_array', keySize: 4, valueSize: UltraStats.size, maxEntries: 1 },
} as const;

// ============================================================================
// Version 1: Naive Implementation (DON'T USE IN PRODUCTION)
// ============================================================================

/** `naive-packet-counter`: hash map, lookup then update-or-insert; drops non-IPv4. */
export function naivePacketCounter(naiveCounterMap: MapRef): AsmInput[] {
  return [
    // Load packet pointers
    asm.loadCtx('w', R2, XDP_MD.data), //             data      (verifier: u32 field, not the seed's :dw 0)
    asm.loadCtx('w', R3, XDP_MD.dataEnd), //          data_end  (verifier: u32 field, not the seed's :dw 8)

    // Bounds check Ethernet header
    asm.movReg(R4, R2),
    asm.add(R4, 14),
    asm.jmpReg('jgt', R4, R3, 'drop'),

    // Parse EtherType
    asm.loadMem('h', R6, R2, 12),
    asm.endianBe('h', R6),
    asm.jmpImm('jne', R6, 0x0800, 'drop'), //         Not IPv4

    // Bounds check IP header
    asm.add(R4, 20),
    asm.jmpReg('jgt', R4, R3, 'drop'),

    // Parse IP protocol
    asm.loadMem('b', R7, R2, 23),
    asm.storeMem('w', R10, -4, R7), //                Key = protocol

    // **EXPENSIVE**: Map lookup
    asm.ldMapFd(R1, naiveCounterMap),
    asm.movReg(R2, R10),
    asm.add(R2, -4),
    asm.call('map_lookup_elem'),

    // **EXPENSIVE**: Update or insert
    asm.jmpImm('jeq', R0, 0, 'init-counter'),
    asm.loadMem('dw', R1, R0, 0),
    asm.add(R1, 1),
    asm.storeMem('dw', R0, 0, R1),
    asm.jmp('pass'),

    asm.label('init-counter'),
    asm.mov(R1, 1),
    asm.storeMem('dw', R10, -16, R1),
    asm.ldMapFd(R1, naiveCounterMap),
    asm.movReg(R2, R10),
    asm.add(R2, -4),
    asm.movReg(R3, R10),
    asm.add(R3, -16),
    asm.mov(R4, 0),
    asm.call('map_update_elem'),

    asm.label('pass'),
    asm.mov(R0, XDP.pass),
    asm.exit(),

    asm.label('drop'),
    asm.mov(R0, XDP.drop),
    asm.exit(),
  ];
}

// ============================================================================
// Version 2: Optimized Implementation
// ============================================================================

/** `optimized-packet-counter`: per-CPU array indexed by IP protocol, early exit, no update call. */
export function optimizedPacketCounter(optimizedStatsMap: MapRef): AsmInput[] {
  return [
    // Load packet pointers
    asm.loadCtx('w', R2, XDP_MD.data), //             data      (verifier: u32 field, not the seed's :dw 0)
    asm.loadCtx('w', R3, XDP_MD.dataEnd), //          data_end  (verifier: u32 field, not the seed's :dw 8)

    // **OPTIMIZATION 1: Early bounds check**
    // Check if we have at least Ethernet + IP headers (34 bytes)
    asm.movReg(R4, R2),
    asm.add(R4, 34),
    asm.jmpReg('jgt', R4, R3, 'pass'), //             Too small, pass it

    // **OPTIMIZATION 2: Quick EtherType check**
    asm.loadMem('h', R6, R2, 12),
    asm.endianBe('h', R6),
    asm.jmpImm('jne', R6, 0x0800, 'pass'), //         Not IPv4, pass

    // **OPTIMIZATION 3: Direct protocol extraction**
    asm.loadMem('b', R7, R2, 23), //                  IP protocol field
    // r7 is now 0-255 (protocol number)

    // **OPTIMIZATION 4: Array map (no hashing, direct index)**
    asm.storeMem('w', R10, -4, R7),
    asm.ldMapFd(R1, optimizedStatsMap),
    asm.movReg(R2, R10),
    asm.add(R2, -4),
    asm.call('map_lookup_elem'),

    // **OPTIMIZATION 5** ("no null check needed for array maps") does not pass the verifier:
    // lookup is typed "pointer or NULL" whatever the map, so R0 is checked.
    asm.jmpImm('jeq', R0, 0, 'pass'),

    // **OPTIMIZATION 6: Single instruction increment**
    asm.loadMem('dw', R1, R0, 0),
    asm.add(R1, 1),
    asm.storeMem('dw', R0, 0, R1),

    asm.label('pass'),
    asm.mov(R0, XDP.pass),
    asm.exit(),
  ];
}

// ============================================================================
// Version 3: Ultra-Optimized (Loop Unrolling)
// ============================================================================

/** `ultra-packet-counter`: one per-CPU `{tcp udp icmp other}` struct and an unrolled protocol switch. */
export function ultraPacketCounter(ultraStatsMap: MapRef): AsmInput[] {
  const field = (name: 'tcp' | 'udp' | 'icmp' | 'other') => UltraStats.offsetOf(name);
  return [
    // Load packet pointers
    asm.loadCtx('w', R2, XDP_MD.data), //             (verifier: u32 field, not the seed's :dw 0)
    asm.loadCtx('w', R3, XDP_MD.dataEnd), //          (verifier: u32 field, not the seed's :dw 8)

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
    asm.ldMapFd(R1, ultraStatsMap),
    asm.movReg(R2, R10),
    asm.add(R2, -4),
    asm.call('map_lookup_elem'),
    asm.jmpImm('jeq', R0, 0, 'pass'), //              (verifier: lookup may return NULL, even here)

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

/** The program for `variant`. */
export function counterProgram(variant: CounterVariant, map: MapRef): AsmInput[] {
  switch (variant) {
    case 'naive':
      return naivePacketCounter(map);
    case 'optimized':
      return optimizedPacketCounter(map);
    case 'ultra':
      return ultraPacketCounter(map);
  }
}
