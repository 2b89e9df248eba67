/**
 * The compile-time tests (test/types/*.test-d.ts) type-check cleanly under their tsconfig, and the check is
 * live: the same file with one `@ts-expect-error` removed fails with exactly the error it was marking.
 * Uses the TypeScript compiler API in-process (one `tsc` run is the same work, plus a process).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const typesDir = resolve(dirname(fileURLToPath(import.meta.url)), '../types');
const configPath = join(typesDir, 'tsconfig.json');
const mapsFile = join(typesDir, 'maps.test-d.ts');

function parsedConfig(): ts.ParsedCommandLine {
  const raw = ts.readConfigFile(configPath, ts.sys.readFile);
  assert.equal(raw.error, undefined, 'test/types/tsconfig.json parses');
  return ts.parseJsonConfigFileContent(raw.config, ts.sys, typesDir);
}

function diagnostics(program: ts.Program): string[] {
  return ts.getPreEmitDiagnostics(program).map((d) => {
    const where =
      d.file && d.start !== undefined
        ? `${d.file.fileName}:${d.file.getLineAndCharacterOfPosition(d.start).line + 1}`
        : '';
    return `${where} TS${d.code}: ${ts.flattenDiagnosticMessageText(d.messageText, ' ')}`;
  });
}

let base: ts.Program | undefined;

test('the type tests compile: every typed operation is accepted and every @ts-expect-error marks an error', () => {
  const cfg = parsedConfig();
  assert.ok(cfg.fileNames.includes(mapsFile), 'maps.test-d.ts is part of the type tests');
  assert.ok(
    cfg.fileNames.includes(join(typesDir, 'construct.test-d.ts')),
    'construct.test-d.ts is part of the type tests',
  );
  base = ts.createProgram({ rootNames: cfg.fileNames, options: cfg.options });
  assert.deepEqual(diagnostics(base), []);
});

test('a removed @ts-expect-error makes the type tests fail with the error it marked', () => {
  const cfg = parsedConfig();
  const text = readFileSync(mapsFile, 'utf8');
  const marker = '  // @ts-expect-error: a string where a bigint is expected\n';
  assert.ok(text.includes(marker));
  const mutated = text.replace(marker, '');
  const line = mutated.slice(0, text.indexOf(marker)).split('\n').length;
  const host = ts.createCompilerHost(cfg.options);
  const getSourceFile = host.getSourceFile.bind(host);
  host.getSourceFile = (name, lang, ...rest) =>
    resolve(name) === mapsFile ? ts.createSourceFile(name, mutated, lang) : getSourceFile(name, lang, ...rest);
  const program = ts.createProgram({ rootNames: cfg.fileNames, options: cfg.options, host, oldProgram: base });
  const errs = diagnostics(program);
  assert.equal(errs.length, 1, errs.join('\n'));
  assert.match(
    errs[0]!,
    new RegExp(
      `maps\\.test-d\\.ts:${line} TS2345: Argument of type 'string' is not assignable to parameter of type 'bigint'`,
    ),
  );
});
