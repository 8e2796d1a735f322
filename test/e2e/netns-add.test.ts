import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync, readlinkSync } from 'node:fs';
import { after, describe, test } from 'node:test';
import { NetlinkApplier } from '../../src/apply/netlink.js';
import { KernelError } from '../../src/errors.js';
import { FakeRunner } from '../../src/exec/fake-runner.js';
import { loadBuiltNative } from '../../src/exec/netlink/native.js';
import { needsRoot } from '../helpers/cli.js';

/**
 * `netns.add` in-process (the addon's netnsAdd, what `lab up` runs) must leave what `ip netns add` leaves: a
 * named namespace of its own, bind-mounted under /run/netns like ip's, usable by `ip -n`, removed by
 * `ip netns del`; the calling thread stays home; an existing name is refused and left alone.
 */
const native = loadBuiltNative();
const PFX = `nsa${process.pid.toString(36)}`;
const mountOf = (name: string) =>
  readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .find((l) => l.split(' ')[4] === `/run/netns/${name}`)
    ?.split(' ');

describe('netns.add in-process', { skip: needsRoot || (!native?.netnsAdd && 'no compiled addon') }, () => {
  after(() => {
    for (const n of ['ip', 'nl'])
      if (mountOf(`${PFX}-${n}`)) execFileSync('ip', ['netns', 'del', `${PFX}-${n}`], { stdio: 'ignore' });
  });

  test("the same namespace mount as 'ip netns add'; refused when the name exists", () => {
    const home = readlinkSync('/proc/thread-self/ns/net');
    execFileSync('ip', ['netns', 'add', `${PFX}-ip`]);
    const nl = new NetlinkApplier(native!, new FakeRunner([]));
    const op = { kind: 'netns.add', name: `${PFX}-nl` } as const;
    assert.equal(nl.speaks(op), true);
    assert.equal(nl.applyOp(op), true);
    assert.equal(readlinkSync('/proc/thread-self/ns/net'), home, 'the thread went home');
    const [byIp, byNl] = [mountOf(`${PFX}-ip`), mountOf(`${PFX}-nl`)];
    assert.ok(byIp && byNl, 'both are mounted under /run/netns');
    // Fields after the mount id, parent and device: root (net:[inode]), point, options, then propagation and fs.
    const shape = (m: string[]) => [m[3]!.replace(/\d+/, 'N'), m[5], m.slice(7).join(' ')];
    assert.deepEqual(shape(byNl), shape(byIp));
    assert.notEqual(byNl[3], `${home}`, 'a namespace of its own');
    assert.notEqual(byNl[3], byIp[3]);
    assert.match(execFileSync('ip', ['-n', `${PFX}-nl`, '-o', 'link'], { encoding: 'utf8' }), /^1: lo:/);
    assert.throws(
      () => nl.applyOp(op),
      (e) => e instanceof KernelError && e.errno === 17 && /ip netns add/.test(e.message),
    );
    assert.ok(mountOf(`${PFX}-nl`), 'the refused add left the existing one');
    execFileSync('ip', ['netns', 'del', `${PFX}-nl`]);
    assert.equal(mountOf(`${PFX}-nl`), undefined);
    assert.ok(!execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' }).includes(`${PFX}-nl`));
    nl.close();
  });
});
