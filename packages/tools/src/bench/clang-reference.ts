/**
 * BPF programs built from C by clang, as references for tsbpf-assembled ones: compiles
 * bench/<dir>/<name>.bpf.c with `clang -O2 -target bpf`, takes the program section's bytes from the
 * object with tsbpf's own ELF reader, and resolves its map relocations (R_BPF_64_64 on ld_imm64)
 * to maps the caller created — a minimal link step, so the C needs no loader and no BTF.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import { Elf, EM_BPF } from 'tsbpf';
import { R_BPF_64_64 } from 'tsbpf/elf';
import { LD_IMM64, PSEUDO } from 'tsbpf/insn';
import { repoPath } from './c-reference.js';

/** Where the multiarch kernel headers (asm/types.h) live, for `-I`. */
function multiarchInclude(): string[] {
  for (const dir of ['/usr/include/x86_64-linux-gnu', '/usr/include/aarch64-linux-gnu']) {
    if (existsSync(`${dir}/asm/types.h`)) return [`-I${dir}`];
  }
  return [];
}

/**
 * Compiles bench/<dir>/<name>.bpf.c (when the object is older than the source) into
 * bench/out/<dir>/<name>[-<variant>].o; returns the object's path.
 */
export function compileBpfC(dir: string, name: string, defines: Record<string, string | number> = {}): string {
  const src = repoPath('bench', dir, `${name}.bpf.c`);
  if (!existsSync(src)) throw new Error(`no C source ${src}`);
  const tag = Object.entries(defines)
    .map(([k, v]) => `${k}=${v}`)
    .join(',');
  const out = repoPath('bench', 'out', dir, `${name}${tag ? `-${tag.replace(/[^A-Za-z0-9=,_]/g, '_')}` : ''}.o`);
  if (existsSync(out) && statSync(out).mtimeMs >= statSync(src).mtimeMs) return out;
  mkdirSync(dirname(out), { recursive: true });
  const defs = Object.entries(defines).map(([k, v]) => `-D${k}=${v}`);
  try {
    execFileSync('clang', ['-O2', '-g0', '-target', 'bpf', ...multiarchInclude(), ...defs, '-c', src, '-o', out], {
      stdio: 'pipe',
    });
  } catch (e) {
    const err = e as { stderr?: Buffer; message: string };
    throw new Error(`clang failed on ${src}: ${err.stderr?.toString() || err.message}`);
  }
  return out;
}

/** clang's version line, for the report. */
export function clangVersion(): string {
  try {
    return execFileSync('clang', ['--version'], { encoding: 'utf8' }).split('\n')[0]!.trim();
  } catch {
    return 'clang (unknown version)';
  }
}

/**
 * The instructions of `section` in a BPF object, with every map relocation patched to
 * `ld_imm64 rX, map_fd` for the map named by the relocation's symbol.
 */
export function linkProgramSection(
  objectPath: string,
  section: string,
  maps: Record<string, { fd: number }>,
): Uint8Array {
  const elf = Elf.parse(new Uint8Array(readFileSync(objectPath)), { machine: EM_BPF });
  const sec = elf.section(section);
  if (!sec)
    throw new Error(
      `${objectPath}: no section "${section}" (have: ${elf.sections
        .map((s) => s.name)
        .filter(Boolean)
        .join(', ')})`,
    );
  const insns = new Uint8Array(sec.data); // a copy: the ELF bytes stay untouched
  const view = new DataView(insns.buffer);
  for (const rs of elf.relocationSections()) {
    if (rs.target.index !== sec.index) continue;
    const symbols = elf.symbolsOf(rs.symtab);
    for (const rel of rs.relocations) {
      const sym = symbols[rel.symbolIndex]!;
      if (rel.type !== R_BPF_64_64)
        throw new Error(
          `${objectPath}: unsupported relocation type ${rel.type} for ${sym.name} (only map references are linked)`,
        );
      const map = maps[sym.name];
      if (!map)
        throw new Error(
          `${objectPath}: program references map "${sym.name}" but none was given (have: ${Object.keys(maps).join(', ')})`,
        );
      const off = rel.offset;
      if (off % 8 !== 0 || off + 16 > insns.length || insns[off] !== LD_IMM64)
        throw new Error(`${objectPath}: relocation at ${off} is not on an ld_imm64`);
      insns[off + 1] = (PSEUDO.map_fd << 4) | (insns[off + 1]! & 0x0f);
      view.setInt32(off + 4, map.fd, true);
      view.setInt32(off + 12, 0, true);
    }
  }
  return insns;
}
