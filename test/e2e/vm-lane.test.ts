/**
 * The VM lane (docs/vm-lane.md): Debian's own kernel under qemu TCG, this machine's root filesystem shared
 * read-only, for what this machine's kernel lacks (ipip). Skipped, with the reason printed, only where qemu
 * cannot run at all. TCG is slow (node start-up alone takes seconds in the guest), so every run is bounded.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { release } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { cli, ROOT, uniqueLab } from '../helpers/cli.js';
import { describeVm, runInVm, type VmResult, vmKernelRelease, vmSkip } from '../helpers/vm.js';

if (vmSkip) console.log(`# VM lane skipped: ${vmSkip}`);

const GUEST_LAB = join(ROOT, 'scripts', 'vm', 'guest-lab.sh');

/** `--cross-node ipip` is accepted by this checkout's CLI (the dry run plans it on any kernel), or why not. */
async function ipipSupport(): Promise<string | false> {
  const r = await cli(['lab', 'up', '--name', uniqueLab('ipchk'), '--cross-node', 'ipip', '--dry-run']);
  if (r.code === 0 && /type ipip/.test(r.stdout)) return false;
  return `this checkout's podnet cannot plan --cross-node ipip yet (dry run exit ${r.code}: ${(r.stderr || r.stdout).trim().split('\n')[0]})`;
}

interface Step {
  readonly rc: number;
  readonly ms: number;
}

/** The step markers guest-lab.sh prints: `podnet-vm-step NAME rc=N ms=M`. */
function steps(r: VmResult): Map<string, Step> {
  const out = new Map<string, Step>();
  for (const m of r.output.matchAll(/^podnet-vm-step (\S+) rc=(\d+) ms=(\d+)$/gm)) {
    out.set(m[1]!, { rc: Number(m[2]), ms: Number(m[3]) });
  }
  return out;
}

interface VerifyReport {
  readonly failed: number;
  readonly results: readonly { from: string; to: string; kind: string; ok: boolean }[];
}

/** Runs guest-lab.sh in a fresh VM and checks up → verify → down; returns the verify report. */
async function labInVm(
  t: { diagnostic: (m: string) => void },
  upArgs: readonly string[],
): Promise<{ r: VmResult; report: VerifyReport }> {
  const lab = uniqueLab('vm');
  const r = await runInVm([GUEST_LAB, lab, ...upArgs], {
    timeoutMs: 480_000,
    env: { PODNET_STATE_DIR: '/run/podnet-vm/state', STEP_TIMEOUT: '200' },
  });
  const s = steps(r);
  t.diagnostic(
    `VM run ${(r.ms / 1000).toFixed(1)} s: ${[...s].map(([k, v]) => `${k} ${(v.ms / 1000).toFixed(1)} s`).join(', ')}`,
  );
  assert.equal(r.code, 0, describeVm(r));
  assert.equal(s.get('up')?.rc, 0, `lab up in the VM\n${describeVm(r)}`);
  assert.equal(s.get('verify')?.rc, 0, `lab verify in the VM\n${describeVm(r)}`);
  assert.equal(s.get('down')?.rc, 0, `lab down in the VM\n${describeVm(r)}`);
  assert.match(r.output, /^podnet-vm-netns-left 0$/m, 'lab down leaves no namespace in the guest');
  const json = r.output.match(/^podnet-vm-verify-json (.*)$/m)?.[1];
  assert.ok(json, `verify printed its JSON report\n${describeVm(r)}`);
  const report = JSON.parse(json) as VerifyReport;
  assert.equal(report.failed, 0);
  return { r, report };
}

describe('VM lane: Debian kernel under qemu TCG', { skip: vmSkip }, () => {
  test('boots, runs a command, returns its output and exit status; the guest kernel has ipip', async (t) => {
    const r = await runInVm(
      [
        'bash',
        '-c',
        'uname -r; ip link add t0 type ipip local 10.0.0.1 && ip -d -o link show t0; ip -o link show tunl0; echo to-stderr >&2; exit 3',
      ],
      { timeoutMs: 240_000 },
    );
    t.diagnostic(`VM boot + command + power-off: ${(r.ms / 1000).toFixed(1)} s`);
    t.diagnostic(
      `host kernel ${release()}: ipip ${existsSync('/sys/module/ipip') ? 'present' : 'absent'}; guest kernel ${vmKernelRelease()}`,
    );
    assert.equal(r.code, 3, `the command's own exit status comes back\n${describeVm(r)}`);
    const [guestRelease] = r.output.split('\n');
    assert.equal(guestRelease, vmKernelRelease(), 'the guest runs the fetched Debian kernel');
    assert.notEqual(guestRelease, release(), 'not the host kernel');
    assert.match(
      r.output,
      /link\/ipip 10\.0\.0\.1 .* ipip any remote any local 10\.0\.0\.1/,
      'an ipip device was made',
    );
    assert.match(r.output, /tunl0@NONE/, 'ipip loaded: the fallback tunl0 exists');
    assert.match(r.output, /^to-stderr$/m, 'stderr is part of the output');
    assert.match(r.console, /podnet-vm: .* root ready/, 'the console log tells the boot story');
  });

  test('podnet lab up --cross-node ipip: up, verify (all pairs), down inside the VM', async (t) => {
    const why = await ipipSupport();
    if (why) {
      console.log(`# ipip lab in the VM skipped: ${why}`);
      t.skip(why);
      return;
    }
    const { r, report } = await labInVm(t, ['--cross-node', 'ipip']);
    // The nodes really tunnel with ipip (the guest-lab script lists each node's ipip devices after up).
    assert.match(r.output, /link\/ipip 192\.168\.64\.\d+ /, `nodes have an ipip device\n${describeVm(r)}`);
    assert.match(
      r.output,
      /10\.200\.1\.0\/24 via 192\.168\.64\.\d+ dev \S+.* onlink/,
      'onlink routes via peers',
    );
    const pairs = new Set(report.results.map((x) => `${x.from}>${x.to}:${x.kind}`));
    for (const want of ['a0>b:icmp', 'b>c:icmp', 'c>a0:icmp'])
      assert.ok(pairs.has(want), `verify probes ${want}`);
  });

  test('the default lab inside the VM (the lane end to end, when ipip is not available)', async (t) => {
    const why = await ipipSupport();
    if (!why) {
      t.skip('covered by the ipip lab above');
      return;
    }
    await labInVm(t, []);
  });
});
