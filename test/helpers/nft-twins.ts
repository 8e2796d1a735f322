import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before } from 'node:test';
import { compileNetlinkAddon } from '../../src/exec/netlink/build.js';
import { loadNativeFile } from '../../src/exec/netlink/native.js';
import { NetfilterSender } from '../../src/exec/netlink/nft-batch.js';

/**
 * The fixture of the tests that apply one transaction over netlink and through `nft -f` and compare the tables:
 * two throwaway namespaces `${prefix}-nl` and `${prefix}-nft`, and a netfilter sender from a freshly compiled
 * addon. Call it inside a describe: it registers the before/after hooks that make and remove them.
 */
export function nftTwins(prefix: string): {
  readonly viaNl: string;
  readonly viaNft: string;
  sender(): NetfilterSender;
} {
  const viaNl = `${prefix}-nl`;
  const viaNft = `${prefix}-nft`;
  let nl: NetfilterSender | undefined;
  let dir: string | undefined;
  before(async () => {
    for (const n of [viaNl, viaNft]) execFileSync('ip', ['netns', 'add', n]);
    dir = mkdtempSync(join(tmpdir(), `${prefix}-`));
    writeFileSync(join(dir, 'netlink.node'), (await compileNetlinkAddon()).bytes);
    nl = new NetfilterSender(loadNativeFile(join(dir, 'netlink.node')));
  });
  after(() => {
    nl?.close();
    for (const n of [viaNl, viaNft])
      try {
        execFileSync('ip', ['netns', 'del', n], { stdio: 'ignore' });
      } catch {}
    if (dir) rmSync(dir, { recursive: true, force: true });
  });
  return {
    viaNl,
    viaNft,
    sender: () => {
      if (!nl) throw new Error('nftTwins: the sender exists only once the before hook has run');
      return nl;
    },
  };
}

/** `nft -j list table` of a namespace, handles removed (they number objects in creation order). */
export function listed(ns: string, family: string, table: string): unknown {
  const out = execFileSync('ip', ['netns', 'exec', ns, 'nft', '-j', 'list', 'table', family, table], {
    encoding: 'utf8',
  });
  const strip = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(strip);
    if (v && typeof v === 'object')
      return Object.fromEntries(
        Object.entries(v)
          .filter(([k]) => k !== 'handle')
          .map(([k, x]) => [k, strip(x)]),
      );
    return v;
  };
  return strip(JSON.parse(out));
}
