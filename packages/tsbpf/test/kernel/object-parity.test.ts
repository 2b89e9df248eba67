// Loader parity with libbpf (#15): __ksym externs (kfuncs, typed and untyped ksyms, weak missing ones pruned by
// bpf_ksym_exists), hidden subprograms marked static, bitfield CO-RE reads, section names that load without an
// auto-attach target, trampoline refusals as NotSupported, and libbpf-style fixtures (map-in-map initial values,
// prog_array tail calls, bpf_loop callbacks, legacy SEC("maps"), custom .data.* / .rodata.* sections).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { BpfObject } from '../../src/kernel/object.js';
import { VerifierError } from '../../src/kernel/errors.js';
import { AttachError } from '../../src/kernel/link.js';
import { BTF_FUNC_GLOBAL, BTF_FUNC_STATIC } from '../../src/pure/btf.js';
import { BpfObjectError, NotSupportedError } from '../../src/pure/errors.js';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { compileFixture, FIXTURE_OUT, FIXTURE_SRC, vmlinuxHeader } from '../fixtures/clang.js';
import { hasFeature } from '../support/features.js';

const KSYMS = compileFixture('obj_ksyms');
const PARITY = compileFixture('obj_parity');

/** The fixture compiled with `-D<define>` into its own object (compileFixture's output stays the default build). */
function variant(name: string, define: string): string {
  vmlinuxHeader();
  const out = join(FIXTURE_OUT, `${name}.${define}.o`);
  execFileSync('clang', [
    '-O2',
    '-g',
    '-target',
    'bpf',
    '-D__TARGET_ARCH_x86',
    `-D${define}`,
    '-I',
    FIXTURE_OUT,
    '-I',
    FIXTURE_SRC,
    '-I',
    '/usr/include/x86_64-linux-gnu',
    '-c',
    join(FIXTURE_SRC, `${name}.bpf.c`),
    '-o',
    out,
  ]);
  return out;
}

/** An Ethernet + IPv4 frame with destination MAC `dst` (test runs run eth_type_trans on it). */
function frame(dst: number[]): Uint8Array {
  const f = new Uint8Array(64);
  f.set(dst, 0);
  f.set([0x02, 0, 0, 0, 0, 1], 6);
  f[12] = 0x08;
  f[13] = 0x00;
  f[14] = 0x45;
  f[22] = 64;
  f[23] = 17;
  return f;
}

function kallsyms(name: string): bigint | undefined {
  for (const line of readFileSync('/proc/kallsyms', 'utf8').split('\n')) {
    const p = line.split(/\s+/);
    if (p[2] === name) return BigInt(`0x${p[0]}`);
  }
  return undefined;
}

test('kfuncs resolve to vmlinux BTF ids and run; a weak missing kfunc and ksym are pruned by bpf_ksym_exists; an untyped ksym is its kallsyms address', () => {
  using obj = BpfObject.open(KSYMS);
  obj.programs.typed_ksym_prog!.autoload = false;
  obj.load();
  const bss = obj.bss!;
  bss.set('target_pid', process.pid);
  assert.equal(obj.programs.ksyms_prog!.testRun({}).retval, 0);
  const data = obj.dataSection!;
  assert.equal(data.get('seen_tgid'), process.pid, 'bpf_task_from_pid(our pid)->tgid');
  assert.equal(data.get('acquired'), 1, 'weak but present kfunc bpf_task_acquire was called');
  assert.equal(data.get('present_kfunc'), 1, 'bpf_ksym_exists(present kfunc) is true');
  assert.equal(
    data.get('missing_kfunc'),
    42,
    'the weak missing kfunc branch was not taken (and its poisoned call pruned)',
  );
  assert.equal(data.get('missing_var'), 0, 'bpf_ksym_exists(&weak missing ksym) is false');
  assert.equal(
    data.get('flavored_kfunc'),
    1,
    'bpf_task_from_pid___flav resolves to bpf_task_from_pid (essential name)',
  );
  assert.equal(data.get('badproto_kfunc'), 0, 'a weak kfunc with an incompatible prototype counts as missing (libbpf)');
  const stext = kallsyms('_stext');
  assert.ok(stext !== undefined && stext !== 0n);
  assert.equal(BigInt(bss.get('stext_addr')), stext, 'untyped ksym = its /proc/kallsyms address');
});

test('typed ksyms load as BPF_PSEUDO_BTF_ID (per-CPU runqueues and bpf_prog_active), or the kernel names the symbol it cannot place', () => {
  using obj = BpfObject.open(KSYMS);
  for (const p of Object.values(obj.programs)) p.autoload = p.name === 'typed_ksym_prog';
  // The verifier resolves a BTF VAR's address with kallsyms: without CONFIG_KALLSYMS_ALL it has no data symbols.
  if (kallsyms('runqueues') === undefined) {
    assert.throws(
      () => obj.load(),
      (e: unknown) =>
        e instanceof VerifierError && /failed to find the address for kernel symbol 'runqueues'/.test(e.message),
    );
    return;
  }
  obj.load();
  obj.programs.typed_ksym_prog!.testRun({});
  const data = obj.dataSection!;
  assert.equal(data.get('rq_cpu0'), 0, 'bpf_per_cpu_ptr(&runqueues, 0)->cpu');
  assert.ok(data.get('rq_cpu1') === 1 || data.get('rq_cpu1') === -1, 'CPU 1 runqueue, when there is a CPU 1');
  assert.ok(data.get('prog_active') >= 0);
});

test('a strong extern the kernel lacks is a BpfObjectError naming it', () => {
  using obj = BpfObject.open(variant('obj_ksyms', 'TSBPF_STRONG_MISSING'));
  obj.programs.typed_ksym_prog!.autoload = false;
  assert.throws(
    () => obj.load(),
    (e: unknown) =>
      e instanceof BpfObjectError &&
      /tsbpf_strong_missing_kfunc/.test(e.message) &&
      /not a kfunc of this kernel/.test(e.message),
  );
});

test('a __hidden global subprogram is static in the loaded BTF; as a global function the verifier refuses it', () => {
  using obj = BpfObject.open(KSYMS);
  const btf = obj.spec.btf!;
  const fn = btf.type(btf.findByName('hidden_double', 'func')!) as { linkage: number };
  assert.equal(fn.linkage, BTF_FUNC_STATIC);
  for (const p of Object.values(obj.programs)) p.autoload = p.name === 'hidden_prog';
  obj.load();
  assert.equal(obj.programs.hidden_prog!.testRun({ data: frame([2, 0, 0, 0, 0, 2]) }).retval, 0);
  assert.equal(obj.bss!.get('hidden_result'), 128, 'hidden_double(len 64)');
  // Control: the same object with the linkage put back to global is refused (so the marking is what makes it load).
  using glob = BpfObject.open(KSYMS);
  const gfn = glob.spec.btf!.type(glob.spec.btf!.findByName('hidden_double', 'func')!) as { linkage: number };
  gfn.linkage = BTF_FUNC_GLOBAL;
  for (const p of Object.values(glob.programs)) p.autoload = p.name === 'hidden_prog';
  assert.throws(
    () => glob.load(),
    (e: unknown) => e instanceof VerifierError,
  );
});

test('bitfield CO-RE reads (direct, probed, and through a ___flavor with another layout) give sk_buff->pkt_type', () => {
  using obj = BpfObject.open(KSYMS);
  for (const p of Object.values(obj.programs)) p.autoload = p.name === 'bitfield_prog';
  obj.load();
  const prog = obj.programs.bitfield_prog!;
  // eth_type_trans on the test run's loopback device (address and broadcast address all zero): PACKET_HOST 0,
  // PACKET_MULTICAST 2 (ff:ff:... is not loopback's broadcast address), PACKET_OTHERHOST 3.
  const cases: [number[], number][] = [
    [[0, 0, 0, 0, 0, 0], 0],
    [[0xff, 0xff, 0xff, 0xff, 0xff, 0xff], 2],
    [[0x01, 0x00, 0x5e, 0, 0, 1], 2],
    [[0x02, 0, 0, 0, 0, 9], 3],
  ];
  for (const [dst, want] of cases) {
    const r = prog.testRun({ data: frame(dst) }).retval;
    assert.equal(r & 0xf, want, 'BPF_CORE_READ_BITFIELD');
    assert.equal((r >> 4) & 0xf, want, 'BPF_CORE_READ_BITFIELD_PROBED');
    assert.equal((r >> 8) & 0xf, want, 'through struct sk_buff___flav');
  }
  const bf = prog.coreResults.filter((c) => /pkt_type/.test(c.description));
  assert.ok(bf.length >= 4 && bf.every((c) => !c.poison));
  // The flavored struct's local layout differs from the kernel's: libbpf neither validates nor keeps it.
  const flav = bf.find((c) => /sk_buff___flav/.test(c.description) && c.kind === 0)!;
  assert.notEqual(flav.origValue, flav.newValue);
  assert.equal(flav.validate, false);
});

test('fentry/fexit/lsm in an object: load works where the kernel has trampolines, else the NotSupported explanation of Program.loadTracing', () => {
  const path = variant('obj_ksyms', 'TSBPF_TRAMPOLINES');
  const trampolines = hasFeature('trampolines');
  for (const name of ['fentry_prog', 'fexit_prog', 'lsm_prog']) {
    using obj = BpfObject.open(path);
    for (const p of Object.values(obj.programs)) p.autoload = p.name === name;
    if (trampolines) {
      obj.load();
      assert.ok(obj.programs[name]!.loaded, name);
    } else {
      assert.throws(
        () => obj.load(),
        (e: unknown) =>
          e instanceof NotSupportedError &&
          /refuses BPF trampoline programs/.test(e.message) &&
          e.message.includes(name),
        name,
      );
    }
  }
});

test('sections without an auto-attach target load; auto-attach then fails with a clear error', () => {
  {
    using obj = BpfObject.open(variant('obj_parity', 'TSBPF_SECTIONS'));
    const info = (n: string) => obj.programs[n]!.info;
    assert.equal(info('bare_uprobe').programType, 'kprobe');
    assert.equal(info('bare_uprobe').target.kind, 'none');
    assert.equal(info('uretprobe_nobinary').target.kind, 'invalid');
    assert.equal(info('sock_prog').programType, 'socket_filter');
    assert.equal(info('skb_verdict').expectedAttachType, 'sk_skb_stream_verdict');
    assert.equal(info('msg_prog').expectedAttachType, 'sk_msg_verdict');
    assert.equal(info('usdt_bare').programType, 'kprobe');
    for (const p of Object.values(obj.programs))
      p.autoload = ['bare_uprobe', 'uretprobe_nobinary', 'sock_prog', 'skb_verdict', 'msg_prog', 'usdt_bare'].includes(
        p.name,
      );
    obj.load();
    assert.throws(
      () => obj.programs.uretprobe_nobinary!.attach(),
      (e: unknown) => e instanceof AttachError && /names no function/.test(e.message),
    );
    assert.throws(
      () => obj.attach(),
      (e: unknown) => e instanceof AttachError && /uretprobe\/readline/.test(e.message),
    );
  }
});

test('map-in-map __array initial values, prog_array tail call from SEC(".maps"), bpf_loop, legacy SEC("maps"), custom data sections', () => {
  using obj = BpfObject.open(PARITY);
  obj.load();
  const pkt = frame([2, 0, 0, 0, 0, 2]);
  assert.equal(
    obj.programs.tail_caller!.testRun({ data: pkt }).retval,
    77,
    'tail call through the statically initialised prog_array',
  );
  obj.maps.inner_a!.update(0, 3);
  obj.maps.inner_b!.update(0, 5);
  assert.equal(
    obj.programs.map_in_map!.testRun({ data: pkt }).retval,
    3 + 500,
    'outer[0] = inner_a, outer[1] = inner_b',
  );
  assert.equal(obj.programs.loop_prog!.testRun({ data: pkt }).retval, 7 + 11, '.data.custom + .rodata.custom');
  assert.equal(obj.bss!.get('loop_sum'), 45n, 'bpf_loop(10) summed 0..9');
  const legacy = obj.maps.legacy_counts!.lookup(1) as Uint8Array;
  assert.equal(Buffer.from(legacy).readBigUInt64LE(0), 5n, 'legacy SEC("maps") array (no BTF: raw bytes)');
  assert.equal(obj.data('.data.custom')!.get('custom_data'), 7);
  assert.equal(obj.data('.rodata.custom')!.get('custom_ro'), 11);
});
