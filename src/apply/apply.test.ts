import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ApplyError } from '../errors.js';
import { FakeRunner } from '../exec/fake-runner.js';
import { PrintRunner } from '../exec/print-runner.js';
import { named, type Op, type Plan } from '../plan/ops.js';
import { apply } from './apply.js';

const plan: Plan = [
  {
    title: 'nodes',
    ops: [
      { kind: 'link.add-bridge', netns: named('n1'), name: 'cni0', note: 'bridge on n1' },
      { kind: 'addr.add', netns: named('n1'), dev: 'cni0', cidr: '10.200.0.1/24' },
      { kind: 'sysctl.set', netns: named('n1'), key: 'net.ipv4.ip_forward', value: '1' },
      { kind: 'link.set', netns: named('n1'), name: 'cni0', up: true },
      { kind: 'link.add-bridge', netns: named('n2'), name: 'cni0' },
    ],
  },
];

test('without batching every op is one command, in order, with its note', async () => {
  const printer = new PrintRunner();
  await apply(plan, printer);
  assert.deepEqual(printer.lines, [
    '# bridge on n1',
    'ip -n n1 link add cni0 type bridge',
    'ip -n n1 addr replace 10.200.0.1/24 dev cni0',
    'ip netns exec n1 sysctl -q -w net.ipv4.ip_forward=1',
    'ip -n n1 link set cni0 up',
    'ip -n n2 link add cni0 type bridge',
  ]);
});

test('batching groups consecutive ip commands of one namespace into one ip -batch, keeping order', async () => {
  const fake = new FakeRunner();
  await apply(plan, fake, { batch: true, concurrency: 1 });
  const text = fake.calls.map(
    (c) => `${c.argv.join(' ')}${c.stdin ? ` <<${c.stdin.trim().replace(/\n/g, ' | ')}` : ''}`,
  );
  assert.deepEqual(text, [
    'ip -n n1 -batch - <<link add cni0 type bridge | addr replace 10.200.0.1/24 dev cni0',
    'ip netns exec n1 sysctl -q -w net.ipv4.ip_forward=1',
    'ip -n n1 link set cni0 up',
    'ip -n n2 link add cni0 type bridge',
  ]);
});

test('an in-process applier takes the ops it speaks in their place; ip lines around them batch as before', async () => {
  const fake = new FakeRunner();
  const taken: string[] = [];
  const inProcess = {
    speaks: (op: Op) => op.kind === 'addr.add' || op.kind === 'sysctl.set',
    applyOp: (op: Op) => {
      // The lane's commands before this op have all run: nothing is reordered across the two appliers.
      taken.push(`${op.kind} after ${fake.calls.length} command(s)`);
      return true;
    },
  };
  await apply(plan, fake, { batch: true, concurrency: 1, inProcess });
  assert.deepEqual(taken, ['addr.add after 1 command(s)', 'sysctl.set after 1 command(s)']);
  assert.deepEqual(
    fake.calls.map((c) => c.argv.join(' ')),
    ['ip -n n1 link add cni0 type bridge', 'ip -n n1 link set cni0 up', 'ip -n n2 link add cni0 type bridge'],
  );
});

test('a refusal of the in-process applier stops the plan with an ApplyError naming the op', async () => {
  const inProcess = {
    speaks: (op: Op) => op.kind === 'addr.add',
    applyOp: (): boolean => {
      throw new Error('RTNETLINK answers: File exists');
    },
  };
  await assert.rejects(apply(plan, new FakeRunner(), { batch: true, inProcess }), (e: unknown) => {
    assert.ok(e instanceof ApplyError);
    assert.equal(e.index, 1);
    assert.match(e.message, /addr\.add cni0 in n1.*File exists/);
    return true;
  });
});

test('a failing line of a batch is blamed on its op, with its index', async () => {
  const fake = new FakeRunner([
    {
      expect:
        "ip -n n1 -batch - <<'EOF'\nlink add cni0 type bridge\naddr replace 10.200.0.1/24 dev cni0\nEOF",
      result: { exitCode: 1, stderr: 'Error: ipv4: Address already assigned.\nCommand failed -:2' },
    },
  ]);
  await assert.rejects(
    apply([{ title: 't', ops: plan[0]!.ops.slice(0, 2) }], fake, { batch: true }),
    (e: unknown) => {
      assert.ok(e instanceof ApplyError);
      assert.equal(e.index, 1);
      assert.match(
        e.message,
        /step 2\/2 \(addr\.add cni0 in n1\) failed: command failed \(exit 1\).*Address already assigned/,
      );
      return true;
    },
  );
});

test('daemons pass their PID to later commands through variables', async () => {
  const printer = new PrintRunner();
  await apply(
    [
      { title: 'pause', ops: [{ kind: 'pod.pause', pod: 'a0', pid: 'A0_PID', log: '/tmp/a0.log' }] },
      { title: 'attach', ops: [{ kind: 'netns.attach', name: 'lab-pod-a0', pid: 'A0_PID' }] },
    ],
    printer,
  );
  assert.match(
    printer.script(),
    /unshare .* sleep infinity >\/tmp\/a0\.log 2>&1 &\nA0_PID=\$!\n# wait until .*\nuntil \[ "\$\(readlink \/proc\/\$A0_PID\/ns\/net\)" != .*; done\nip netns attach lab-pod-a0 "\$A0_PID"/,
  );
});

test('conntrack -R that met a flow ending under it runs again; a lasting failure still stops the plan', async () => {
  const op = {
    kind: 'conntrack.delete-flows',
    netns: named('n1'),
    file: '/tmp/cuts.txt',
    flows: [{ protocol: 'tcp', replySrc: '10.200.0.2', replyPort: 80, why: 'denied' }],
    connections: 1,
  } as const;
  const cmd = 'nsenter --net=/run/netns/n1 conntrack -R /tmp/cuts.txt';
  const gone = {
    exitCode: 1,
    stderr: "conntrack v1.4.7 (conntrack-tools): Operation failed: such conntrack doesn't exist",
  };
  const raced = new FakeRunner([{ expect: cmd, result: gone }, { expect: cmd }]);
  await apply([{ title: 'cut', ops: [op] }], raced);
  assert.equal(raced.calls.length, 2);
  const broken = new FakeRunner(Array.from({ length: 5 }, () => ({ expect: cmd, result: gone })));
  await assert.rejects(apply([{ title: 'cut', ops: [op] }], broken), ApplyError);
  assert.equal(broken.calls.length, 5);
});

/** A runner whose commands for namespace `slow` finish only when released; records the order commands start. */
class GatedRunner extends FakeRunner {
  readonly started: string[] = [];
  release: () => void = () => {};
  private readonly gate = new Promise<void>((r) => {
    this.release = r;
  });
  override async run(cmd: Parameters<FakeRunner['run']>[0]) {
    this.started.push(cmd.argv.join(' '));
    if (cmd.argv.includes('slow')) await this.gate;
    return super.run(cmd);
  }
}

const phased = (after?: string[]): Plan => [
  { title: 'one', ops: [{ kind: 'link.add-bridge', netns: named('slow'), name: 'br0' }] },
  { title: 'two', ops: [{ kind: 'link.add-bridge', netns: named('n2'), name: 'br0' }] },
  {
    title: 'three',
    ops: [{ kind: 'link.add-bridge', netns: named('n3'), name: 'br0' }],
    ...(after ? { after } : {}),
  },
];

test('a phase waits for every earlier phase unless it names the ones it needs (Phase.after)', async () => {
  for (const [after, whileSlow] of [
    [undefined, ['ip -n slow link add br0 type bridge']],
    [[], ['ip -n slow link add br0 type bridge', 'ip -n n3 link add br0 type bridge']],
    [['two'], ['ip -n slow link add br0 type bridge']],
  ] as const) {
    const r = new GatedRunner();
    const run = apply(phased(after ? [...after] : undefined), r, { batch: true });
    await new Promise((res) => setTimeout(res, 20));
    assert.deepEqual(r.started, whileSlow, `after: ${JSON.stringify(after)}`);
    r.release();
    await run;
    assert.equal(r.started.length, 3);
  }
  // Printing keeps the plan's order, and a phase may only name phases before it.
  const printer = new PrintRunner();
  await apply(phased([]), printer);
  assert.deepEqual(
    printer.lines.filter((l) => !l.startsWith('#')),
    [
      'ip -n slow link add br0 type bridge',
      'ip -n n2 link add br0 type bridge',
      'ip -n n3 link add br0 type bridge',
    ],
  );
  const bad: Plan = [
    { title: 'a', ops: [], after: ['b'] },
    { title: 'b', ops: [] },
  ];
  await assert.rejects(apply(bad, new FakeRunner(), { batch: true }), /phase 'a' needs 'b'/);
});

test('a failing phase stops the phases that need it, and the ones already running finish first', async () => {
  const r = new FakeRunner([
    { expect: 'ip -n slow link add br0 type bridge', result: { exitCode: 2, stderr: 'no' } },
    { expect: 'ip -n n3 link add br0 type bridge' },
  ]);
  await assert.rejects(apply(phased([]), r, { batch: true }), ApplyError);
  r.assertDone(); // 'three' (needing nothing) ran; 'two' (needing 'one') did not
});
