/** A per-process temporary directory for files a test writes (removed at exit): unit tests never write into the checkout. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

let dir: string | undefined;

/** The scratch directory, created on first use. */
export function scratchDir(): string {
  if (!dir) {
    const d = mkdtempSync(join(tmpdir(), 'tsbpf-test-'));
    dir = d;
    process.on('exit', () => rmSync(d, { recursive: true, force: true }));
  }
  return dir;
}
