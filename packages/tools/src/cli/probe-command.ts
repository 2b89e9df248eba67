/** `tsbpf probe`: the kernel's BPF features, as tables or one JSON document. */
import { type Command, Option } from 'commander';
import { probeKernel, type ProbeReport, type ProbeResult } from 'tsbpf';
import { formatTable, paintFor, type Paint } from './output.js';
import { jsonOption } from './options.js';
import { runAction } from './run.js';

interface ProbeOptions {
  json?: boolean;
  helpers: boolean;
  section?: string[];
}

const SECTIONS = ['system', 'programs', 'maps', 'helpers', 'links', 'ringbuf', 'test-run'] as const;

/** Adds `probe`. */
export function registerProbeCommand(program: Command): void {
  program
    .command('probe')
    .description(
      "probe what this kernel's BPF supports by loading tiny programs and creating maps (like bpftool feature probe)",
    )
    .addOption(jsonOption('print one JSON document (shape: docs/cli.md)'))
    .addOption(new Option('--no-helpers', 'skip the per-program-type helper matrix (the slow part)'))
    .addOption(new Option('--section <name...>', 'print only these sections').choices(SECTIONS as unknown as string[]))
    .addHelpText(
      'after',
      `
Probes: program types (load + BPF_PROG_TEST_RUN), map types (create), helpers per program type
(verifier refusal), link types (attach and detach on a tracepoint, a new empty cgroup and a
new dummy interface, never existing ones), BTF, JIT sysctls, ring buffer, test-run flags.

Examples:
  tsbpf probe
  tsbpf probe --no-helpers --section programs maps
  tsbpf probe --json | jq '.helpers.xdp | length'`,
    )
    .action((opts: ProbeOptions) => runAction('tsbpf probe', 'probe', () => probe(opts)));
}

function mark(r: ProbeResult | undefined, paint: Paint): string {
  if (!r || r.supported === null) return paint('dim', 'not probed');
  return r.supported ? paint('green', 'yes') : paint('red', `no${r.error ? ` (${r.error})` : ''}`);
}

function probe(opts: ProbeOptions): void {
  const paint = paintFor(process.stdout);
  const tty = process.stderr.isTTY;
  const report: ProbeReport = probeKernel({
    helpers: opts.helpers,
    progress: (s) => {
      if (tty) process.stderr.write(`\rprobing ${s}…\x1b[K`);
    },
  });
  if (tty) process.stderr.write('\r\x1b[K');
  if (opts.json) {
    process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
    return;
  }
  const want = (s: string) => !opts.section || opts.section.includes(s);
  const out: string[] = [];
  const head = (s: string) => out.push('', paint('bold', s));
  if (want('system')) {
    const s = report.system;
    head(`Kernel ${report.kernel.release} (${report.kernel.machine})`);
    out.push(
      formatTable(
        [{ header: 'FEATURE' }, { header: 'VALUE' }],
        [
          [
            'JIT (bpf_jit_enable)',
            `${s.jit.enabled ?? '-'}${s.jit.jitedProgram ? ' (programs are JIT-compiled)' : ''}`,
          ],
          ['JIT hardening (bpf_jit_harden)', String(s.jit.harden ?? '-')],
          ['JIT kallsyms', String(s.jit.kallsyms ?? '-')],
          ['JIT memory limit', s.jit.limit === null ? '-' : `${s.jit.limit} bytes`],
          ['unprivileged_bpf_disabled', String(s.unprivilegedBpfDisabled ?? '-')],
          [
            'vmlinux BTF',
            s.btf.vmlinux ? `${paint('green', 'yes')} (${s.btf.vmlinuxBytes} bytes)` : paint('red', 'no'),
          ],
          ['BTF load', s.btf.load ? paint('green', 'yes') : paint('red', 'no')],
          ['bpffs mounted', s.bpffsMounted ? paint('green', 'yes') : 'no'],
        ],
        paint,
      ),
    );
  }
  if (want('programs')) {
    head('Program types');
    out.push(
      formatTable(
        [{ header: 'TYPE' }, { header: 'LOAD' }, { header: 'TEST RUN' }, { header: 'HELPERS', align: 'right' }],
        Object.entries(report.programTypes).map(([k, v]) => [
          k,
          mark(v, paint),
          v.testRun ? mark(v.testRun, paint) : '-',
          report.helpers[k] ? String(report.helpers[k]!.length) : '-',
        ]),
        paint,
      ),
    );
  }
  if (want('maps')) {
    head('Map types');
    out.push(
      formatTable(
        [{ header: 'TYPE' }, { header: 'CREATE' }],
        Object.entries(report.mapTypes).map(([k, v]) => [k, mark(v, paint)]),
        paint,
      ),
    );
  }
  if (want('helpers') && Object.keys(report.helpers).length) {
    head('Helpers per program type');
    for (const [type, names] of Object.entries(report.helpers))
      out.push(`${paint('cyan', type)} (${names.length}): ${names.join(' ')}`);
  }
  if (want('links')) {
    head('Link types');
    out.push(
      formatTable(
        [{ header: 'TYPE' }, { header: 'ATTACH + DETACH' }],
        Object.entries(report.linkTypes).map(([k, v]) => [k, mark(v, paint)]),
        paint,
      ),
    );
  }
  if (want('ringbuf')) {
    head('Ring buffer');
    const r = report.ringbuf;
    const yn = (b: boolean) => (b ? paint('green', 'yes') : paint('red', 'no'));
    out.push(
      formatTable(
        [{ header: 'FEATURE' }, { header: 'SUPPORTED' }],
        [
          ['ringbuf map', yn(r.map)],
          ['bpf_ringbuf_reserve/submit', yn(r.reserve)],
          ['bpf_ringbuf_output', yn(r.output)],
          ['bpf_ringbuf_reserve_dynptr', yn(r.dynptr)],
          ['user ring buffer map', yn(r.userRingbuf)],
        ],
        paint,
      ),
    );
  }
  if (want('test-run')) {
    head('BPF_PROG_TEST_RUN flags');
    out.push(
      formatTable(
        [{ header: 'FLAG' }, { header: 'SUPPORTED' }],
        [
          ['BPF_F_TEST_RUN_ON_CPU', mark(report.testRunFlags.runOnCpu, paint)],
          ['BPF_F_TEST_XDP_LIVE_FRAMES', mark(report.testRunFlags.xdpLiveFrames, paint)],
        ],
        paint,
      ),
    );
  }
  out.push('', paint('dim', `probed in ${(report.durationMs / 1000).toFixed(1)} s`));
  process.stdout.write(`${out.join('\n').replace(/^\n/, '')}\n`);
}
