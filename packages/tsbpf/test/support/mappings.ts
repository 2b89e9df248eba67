/**
 * What /proc/self/maps says about this process's mappings: used to check that closing a reader or a
 * mapped array releases the kernel object's pages at once (zero pages take their place, so the
 * ArrayBuffer stays attached: see native.unmap).
 */
import { readFileSync } from 'node:fs';

/** Mappings of kernel objects through anonymous-inode fds (BPF maps, perf events) in this process. */
export function kernelMappings(): number {
  return readFileSync('/proc/self/maps', 'utf8')
    .split('\n')
    .filter((l) => l.includes('anon_inode:')).length;
}

/** The path column of the mapping that holds `address` ('' for an anonymous one), or undefined when none does. */
export function mappingAt(address: number): string | undefined {
  for (const line of readFileSync('/proc/self/maps', 'utf8').split('\n')) {
    const m = /^([0-9a-f]+)-([0-9a-f]+)\s+\S+\s+\S+\s+\S+\s+\S+\s*(.*)$/.exec(line);
    if (m && address >= parseInt(m[1]!, 16) && address < parseInt(m[2]!, 16)) return m[3]!;
  }
  return undefined;
}
