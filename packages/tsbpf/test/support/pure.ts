/**
 * The pure layer's public names for unit tests. Unit tests import from here (or src/pure directly),
 * never src/index.js: the index also loads the kernel layer and the native addon, and unit tests run
 * without root and without the addon (scripts/run-tests.mjs unit).
 */
export * from '../../src/pure/asm.js';
export * from '../../src/pure/disasm.js';
export { parseAsm } from '../../src/pure/asm-text.js';
export { t } from '../../src/pure/layout.js';
