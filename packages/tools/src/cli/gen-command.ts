/**
 * `tsbpf gen types <object> [-o out.ts] [--type NAME...] [--no-embed]`: a typed TypeScript module for a
 * clang-compiled BPF object (types and `t` layouts from its BTF, plus a wrapper class). Pure file work: no
 * kernel, no privileges.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { basename, dirname, relative, resolve } from 'node:path';
import { type Command, InvalidArgumentError, Option } from 'commander';
import { ObjectSpec, generateTypes, objectBaseName } from 'tsbpf';
import { nonEmpty } from './options.js';
import { runAction } from './run.js';

interface GenTypesCliOptions {
  output?: string;
  type?: string[];
  embed: boolean;
  name?: string;
  wrapper: boolean;
}

/** Adds `tsbpf gen types` to the program. */
export function registerGenCommand(program: Command): void {
  const gen = program.command('gen').description('generate code from BPF objects');
  gen
    .command('types')
    .description(
      'write a TypeScript module for a clang-compiled BPF object: a type and a layout for every struct, union and enum its maps and global variables use, and a typed wrapper class',
    )
    .argument('<object>', 'the object file (clang -O2 -g -target bpf -c prog.bpf.c -o prog.bpf.o)')
    .addOption(
      new Option('-o, --output <file>', 'write the module here (default: stdout)').argParser(nonEmpty('output path')),
    )
    .addOption(
      new Option(
        '--type <name...>',
        'also emit these struct/union/enum/typedef names (e.g. a ring buffer record)',
      ).argParser(collect),
    )
    .addOption(new Option('--embed', "embed the object's bytes in the module (the default)"))
    .addOption(new Option('--no-embed', 'load the object at open() from its path relative to the module instead'))
    .addOption(
      new Option(
        '--name <name>',
        'object name: wrapper class <Name>Object and kernel map prefix (default: the file name without .bpf.o)',
      ).argParser(nonEmpty('name', 64)),
    )
    .addOption(new Option('--no-wrapper', 'emit types and layouts only (no wrapper class)'))
    .action((object: string, opts: GenTypesCliOptions) =>
      runAction('tsbpf gen types', undefined, () => genTypes(object, opts)),
    );
}

function collect(value: string, previous: string[] | undefined): string[] {
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(value)) throw new InvalidArgumentError(`expects a C identifier, got '${value}'`);
  return [...(previous ?? []), value];
}

function genTypes(object: string, opts: GenTypesCliOptions): void {
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(object);
  } catch (e) {
    throw new Error(`cannot read ${object}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  const name = opts.name ?? objectBaseName(object);
  const spec = ObjectSpec.parse(bytes, { name });
  const embed = opts.embed !== false;
  const from = opts.output ? dirname(resolve(opts.output)) : process.cwd();
  const path = relative(from, resolve(object)).split('\\').join('/');
  const out = generateTypes(spec, {
    name,
    file: basename(object),
    types: opts.type ?? [],
    object: !opts.wrapper ? false : embed ? { embed: bytes } : { path: path.startsWith('.') ? path : `./${path}` },
  });
  if (opts.output) {
    writeFileSync(opts.output, out.source);
    const what = out.className ? `${out.className} and ${out.types.length} types` : `${out.types.length} types`;
    process.stderr.write(
      `wrote ${opts.output}: ${what}${out.className ? (embed ? ' (object embedded)' : ` (object read from ${path})`) : ''}\n`,
    );
  } else {
    process.stdout.write(out.source);
  }
}
