import { KernelError } from '../../errors.js';
import type { Command, CommandResult, NetfilterBatch, NetfilterRequest, Runner } from '../runner.js';
import type { NativeKernel } from './native.js';
import { RouteSocket } from './socket.js';

/**
 * nftables transactions sent in-process as one nfnetlink batch (a command's `netfilter` form, encoded by
 * src/render/nft-netlink/) over a NETLINK_NETFILTER socket kept open per namespace: no `nft` process, no text
 * parser. The kernel applies the batch all or nothing, as it does what `nft -f` sends for the same text.
 */
export class NetfilterSender {
  private readonly sockets = new Map<string, RouteSocket>();

  constructor(private readonly native: NativeKernel) {}

  /**
   * Sends the transaction; false (nothing sent) when it holds something not encoded yet, so the caller runs
   * `nft -f` instead. Throws KernelError naming the command the kernel refused, and its reason.
   */
  send(req: NetfilterRequest): boolean {
    const encoded = req.encode();
    if (!encoded) return false;
    if (encoded.lastSeq === encoded.firstSeq) return true; // notes only: nothing to send
    const s = this.socket(req.netnsPath);
    try {
      return this.sendOn(s, req, encoded);
    } finally {
      // A socket keeps its namespace alive: one for another namespace is not kept past its batch (a lab's
      // `down` must free the namespace), only the one in our own (the agent's, sending many).
      if (req.netnsPath !== undefined) {
        s.close();
        this.sockets.delete(req.netnsPath);
      }
    }
  }

  private sendOn(s: RouteSocket, req: NetfilterRequest, encoded: NetfilterBatch): boolean {
    const first = s.reserveSeq(encoded.cmdOf.length);
    const bytes = encoded.bytes;
    const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const shift = first - encoded.firstSeq;
    for (let at = 0; at < bytes.length; at += dv.getUint32(at, true))
      dv.setUint32(at + 8, dv.getUint32(at + 8, true) + shift, true);
    const refused = s.batch(bytes, first, encoded.lastSeq + shift);
    if (!refused) return true;
    const index = encoded.cmdOf[refused.seq - first] ?? -1;
    const what = index >= 0 ? req.describe(index).slice(0, 500) : 'nft -f - (batch)';
    throw new KernelError(what, refused.errno, refused.reason, 'Netlink error');
  }

  close(): void {
    for (const s of this.sockets.values()) s.close();
    this.sockets.clear();
  }

  private socket(path: string | undefined): RouteSocket {
    const key = path ?? '';
    let s = this.sockets.get(key);
    if (!s) {
      s = RouteSocket.open(this.native, path, 'netfilter');
      this.sockets.set(key, s);
    }
    return s;
  }
}

/**
 * A runner that sends each command's nftables transaction over netlink when it has one (and it is fully
 * encoded), and everything else to `inner`: the commands, and their printed form, stay the same.
 */
export class NetfilterRunner implements Runner {
  constructor(
    private readonly sender: NetfilterSender,
    private readonly inner: Runner,
  ) {}

  async run(cmd: Command): Promise<CommandResult> {
    if (cmd.netfilter && this.sender.send(cmd.netfilter)) return { stdout: '', stderr: '', exitCode: 0 };
    return this.inner.run(cmd);
  }
}
