import { fileURLToPath } from 'node:url';
import { CommandError } from '../errors.js';
import { LineSession } from '../exec/process-runner.js';
import { inPodNetns } from '../render/observe.js';

const SCRIPT = fileURLToPath(new URL('../../../assets/nft-session.py', import.meta.url));

/**
 * A persistent nftables session in one network namespace: each `apply` is one atomic transaction, as with
 * `nft -f -`, without starting a process. At 10,000 services a one-element change costs about 0.5 ms this way
 * against 15-25 ms for a new `nft` process (docs/services.md): the path for a long-running node agent. The lab's
 * one-shot CLI commands keep using `nft -f -` (they are a new process anyway).
 */
export class NftSession {
  private constructor(
    private readonly session: LineSession,
    readonly netnsPath: string,
  ) {}

  /** Starts the session inside the namespace at `netnsPath` (e.g. /run/netns/NAME). */
  static async open(netnsPath: string): Promise<NftSession> {
    const s = new LineSession(inPodNetns(netnsPath, 'python3', SCRIPT));
    const ready = JSON.parse(await s.readLine()) as { ready?: boolean };
    if (!ready.ready) throw new Error(`internal: nft session in ${netnsPath} did not start`);
    return new NftSession(s, netnsPath);
  }

  /** Applies one script as one transaction; resolves with the library's own time in ms. */
  async apply(script: string): Promise<number> {
    const a = JSON.parse(await this.session.request(JSON.stringify({ script }))) as {
      rc: number;
      error: string;
      ms: number;
    };
    if (a.rc !== 0) throw new CommandError(['nft-session', this.netnsPath], a.rc, a.error, script);
    return a.ms;
  }

  close(): void {
    this.session.close();
  }
}
