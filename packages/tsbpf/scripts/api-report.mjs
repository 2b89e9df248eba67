#!/usr/bin/env node
// The API report: API Extractor reads the compiled .d.ts of each public entry point (the package's
// "exports") and writes etc/<name>.api.md, the public surface as one reviewable file per entry, so every
// change to it shows in a diff. API Extractor takes one entry point per run, so this runs it once per
// entry. `--check` (CI) fails when a report differs from the checked-in one instead of rewriting it.
// Run after `npm run build` (it reads dist/).
import { Extractor, ExtractorConfig } from '@microsoft/api-extractor';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const pkgDir = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const pkg = JSON.parse(readFileSync(join(pkgDir, 'package.json'), 'utf8'));
const check = process.argv.includes('--check');

/** One report per export with types: "." → tsbpf.api.md, "./asm" → tsbpf-asm.api.md. */
const entries = Object.entries(pkg.exports)
  .filter(([, target]) => typeof target === 'object' && target.types)
  .map(([subpath, target]) => ({
    subpath,
    dts: join(pkgDir, target.types),
    report: subpath === '.' ? pkg.name : `${pkg.name}-${subpath.slice(2).replace(/\//g, '-')}`,
  }));

let failed = false;
for (const { subpath, dts, report } of entries) {
  if (!existsSync(dts)) {
    console.error(`api-report: ${dts} missing: run \`npm run build -w tsbpf\` first`);
    process.exit(1);
  }
  const config = ExtractorConfig.prepare({
    configObject: {
      projectFolder: pkgDir,
      mainEntryPointFilePath: dts,
      compiler: { tsconfigFilePath: join(pkgDir, 'tsconfig.json') },
      apiReport: {
        enabled: true,
        reportFileName: report,
        reportFolder: join(pkgDir, 'etc'),
        reportTempFolder: join(pkgDir, 'build', 'api-report'),
      },
      docModel: { enabled: false },
      dtsRollup: { enabled: false },
      tsdocMetadata: { enabled: false },
      messages: {
        // Release tags (@public/@beta) are not used: everything exported is public; @internal is stripped.
        extractorMessageReporting: {
          default: { logLevel: 'warning', addToApiReportFile: true },
          'ae-missing-release-tag': { logLevel: 'none' },
          // Documentation coverage is not gated here (TypeDoc renders what there is).
          'ae-undocumented': { logLevel: 'none' },
          // A subpath's signatures use types another entry exports (tsbpf/core takes a Btf from
          // tsbpf/btf); unexported types are caught by the main entry's report, which exports them all.
          ...(subpath === '.' ? {} : { 'ae-forgotten-export': { logLevel: 'none' } }),
        },
        tsdocMessageReporting: { default: { logLevel: 'none' } },
        compilerMessageReporting: { default: { logLevel: 'warning' } },
      },
    },
    configObjectFullPath: join(pkgDir, 'api-extractor.json'),
    packageJsonFullPath: join(pkgDir, 'package.json'),
  });
  const result = Extractor.invoke(config, { localBuild: !check, showVerboseMessages: false });
  if (check && result.apiReportChanged) {
    console.error(
      `api-report: the public API of ${pkg.name}${subpath === '.' ? '' : subpath.slice(1)} changed: ` +
        `run \`npm run api -w tsbpf\` and commit etc/${report}.api.md`,
    );
    failed = true;
  } else if (result.errorCount > 0) {
    // Warnings (an unexported type a signature uses, ...) are written into the report itself, so they
    // show in review; only errors and drift fail.
    console.error(`api-report: ${report}: ${result.errorCount} errors`);
    failed = true;
  }
}
process.exit(failed ? 1 : 0);
