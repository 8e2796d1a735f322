import type { Message } from './codec.js';
import { decodeAttrs } from './codec.js';
import type { NativeKernel } from './native.js';
import { RouteSocket } from './socket.js';

/*
 * nftables' generation id (linux/netfilter/nf_tables.h): a counter the kernel bumps on every committed
 * nftables transaction in a network namespace, whoever commits it (nft, iptables-nft, libnftables). Reading it
 * is one NFT_MSG_GETGEN request on a NETLINK_NETFILTER socket: microseconds, against hundreds of milliseconds
 * for `nft -j list table` at 1,000 services. observe uses it to tell whether anything touched nftables since
 * podnet last knew the content of its tables (src/observe/nft-generation.ts).
 */

const NFNL_SUBSYS_NFTABLES = 10;
const NFT_MSG_GETGEN = 16;
const NFTA_GEN_ID = 1;

/** The request's type: subsystem in the high byte, message in the low one (nfnetlink). */
export const GETGEN_TYPE = (NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_GETGEN;

/** struct nfgenmsg: family AF_UNSPEC, version NFNETLINK_V0, res_id 0 (big-endian). */
export const nfgenmsg = (): Uint8Array => new Uint8Array(4);

/** NFTA_GEN_ID of a NEWGEN answer (big-endian u32, as every nftables attribute), or undefined. */
export function genidOf(m: Message): number | undefined {
  const a = decodeAttrs(m.payload, 4).get(NFTA_GEN_ID);
  if (!a || a.length < 4) return undefined;
  return new DataView(a.buffer, a.byteOffset, 4).getUint32(0, false);
}

/** Reads the nftables generation id of one network namespace over a socket kept open in it. */
export class NftGenReader {
  private constructor(private readonly sock: RouteSocket) {}

  /** A reader for the namespace at `netnsPath` (/run/netns/NAME), or our own. */
  static open(native: NativeKernel, netnsPath?: string): NftGenReader {
    return new NftGenReader(RouteSocket.open(native, netnsPath, 'netfilter'));
  }

  /** The current generation id. */
  read(): number {
    const answers = this.sock.request('nft list ruleset (generation id)', GETGEN_TYPE, 0, nfgenmsg());
    for (const m of answers) {
      const id = genidOf(m);
      if (id !== undefined) return id;
    }
    throw new Error('internal: the kernel answered NFT_MSG_GETGEN without a generation id');
  }

  close(): void {
    this.sock.close();
  }
}
