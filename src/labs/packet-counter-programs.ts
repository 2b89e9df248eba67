/**
 * Lab 12.1's three XDP packet counters for `tsbpf count packets`, line for line in the seed's style.
 * Departures the verifier requires: `xdp_md.data`/`data_end` are u32 fields (loaded with 'w', not
 * the seed's :dw), and `map_lookup_elem` returns "pointer or NULL" even for arrays, so R0 is checked.
 * The naive version keeps the seed's behaviour of dropping every non-IPv4 or runt frame (ARP too).
 */
import { asm, R0, R1, R2, R3, R4, R6, R7, R10, type AsmInput, type MapRef } from '../pure/asm.js';
import { t } from '../pure/layout.js';
import { XDP } from '../pure/uapi.js';

export type CounterVariant = 'naive' | 'optimized' | 'ultra';
export const COUNTER_VARIANTS: readonly CounterVariant[] = ['naive', 'optimized', 'ultra'];

/** `struct xdp_md` offsets. */
const XDP_MD = { data: 0, dataEnd: 4 } as const;

/** Ultra's per-CPU value `{tcp, udp, icmp, other}`. */
export const UltraStats = t.struct({ tcp: t.u64num, udp: t.u64num, icmp: t.u64num, other: t.u64num });

/** The map each variant counts into. */
export const COUNTER_MAPS = {
  /** `{:type :hash :key-type :u32 :value-type :u64 :max-entries 256}` keyed by IP protocol. */
  naive: { type: 'hash', keySize: 4, valueSize: 8, maxEntries: 256 },
  /** `{:type :percpu_array ... :max-entries 256}` indexed by IP protocol. */
  optimized: { type: 'percpu_array', keySize: 4, valueSize: 8, maxEntries: 256 },
  /** One per-CPU `{tcp udp icmp other}`. */
  ultra: { type: 'percpu_array', keySize: 4, valueSize: UltraStats.size, maxEntries: 1 },
} as const;

/** Version 1: hash map, lookup then update-or-insert; drops non-IPv4. */
export function naiveCounter(counts: MapRef): AsmInput[] {
  return [
    asm.loadCtx('w', R2, XDP_MD.data),
    asm.loadCtx('w', R3, XDP_MD.dataEnd),
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
    asm.ldMapFd(R1, counts),
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
    asm.ldMapFd(R1, counts),
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

/** Version 2: per-CPU array indexed by IP protocol, early exit, no update call. */
export function optimizedCounter(stats: MapRef): AsmInput[] {
  return [
    asm.loadCtx('w', R2, XDP_MD.data),
    asm.loadCtx('w', R3, XDP_MD.dataEnd),
    // **OPTIMIZATION 1: Early bounds check** (Ethernet + IP, 34 bytes)
    asm.movReg(R4, R2),
    asm.add(R4, 34),
    asm.jmpReg('jgt', R4, R3, 'pass'),
    // **OPTIMIZATION 2: Quick EtherType check**
    asm.loadMem('h', R6, R2, 12),
    asm.endianBe('h', R6),
    asm.jmpImm('jne', R6, 0x0800, 'pass'),
    // **OPTIMIZATION 3: Direct protocol extraction**
    asm.loadMem('b', R7, R2, 23),
    // **OPTIMIZATION 4: Array map (no hashing, direct index)**
    asm.storeMem('w', R10, -4, R7),
    asm.ldMapFd(R1, stats),
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

/** Version 3: one per-CPU struct and an unrolled protocol switch. */
export function ultraCounter(stats: MapRef): AsmInput[] {
  const field = (name: 'tcp' | 'udp' | 'icmp' | 'other') => UltraStats.offsetOf(name);
  const bump = (name: 'tcp' | 'udp' | 'icmp' | 'other') => [
    asm.loadMem('dw', R1, R0, field(name)),
    asm.add(R1, 1),
    asm.storeMem('dw', R0, field(name), R1),
  ];
  return [
    asm.loadCtx('w', R2, XDP_MD.data),
    asm.loadCtx('w', R3, XDP_MD.dataEnd),
    asm.movReg(R4, R2),
    asm.add(R4, 34),
    asm.jmpReg('jgt', R4, R3, 'pass'),
    asm.loadMem('h', R6, R2, 12),
    asm.endianBe('h', R6),
    asm.jmpImm('jne', R6, 0x0800, 'pass'),
    asm.loadMem('b', R7, R2, 23),
    // Get stats structure (key = 0)
    asm.mov(R1, 0),
    asm.storeMem('w', R10, -4, R1),
    asm.ldMapFd(R1, stats),
    asm.movReg(R2, R10),
    asm.add(R2, -4),
    asm.call('map_lookup_elem'),
    asm.jmpImm('jeq', R0, 0, 'pass'),
    // **OPTIMIZATION 7: Unrolled protocol switch**
    asm.jmpImm('jne', R7, 6, 'check-udp'), //         TCP = 6
    bump('tcp'),
    asm.jmp('pass'),
    asm.label('check-udp'),
    asm.jmpImm('jne', R7, 17, 'check-icmp'), //       UDP = 17
    bump('udp'),
    asm.jmp('pass'),
    asm.label('check-icmp'),
    asm.jmpImm('jne', R7, 1, 'other'), //             ICMP = 1
    bump('icmp'),
    asm.jmp('pass'),
    asm.label('other'),
    bump('other'),
    asm.label('pass'),
    asm.mov(R0, XDP.pass),
    asm.exit(),
  ];
}

/** The program for `variant`. */
export function counterProgram(variant: CounterVariant, map: MapRef): AsmInput[] {
  switch (variant) {
    case 'naive': return naiveCounter(map);
    case 'optimized': return optimizedCounter(map);
    case 'ultra': return ultraCounter(map);
  }
}
