import { fileURLToPath } from 'node:url';
import { CommandError } from '../errors.js';
import { LineSession } from '../exec/process-runner.js';
import type { Command, CommandResult, Runner } from '../exec/runner.js';
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

/**
 * A runner for a long-running node loop (the agent, the reconcile bench): every `nft -f -` of a named
 * namespace goes through one persistent session per namespace, everything else to `inner`. The ops and their
 * printed commands stay the same; only how `nft` runs changes (no process start per change).
 */
export class NftSessionRunner implements Runner {
  private readonly sessions = new Map<string, Promise<NftSession>>();
  constructor(private readonly inner: Runner) {}

  async run(cmd: Command): Promise<CommandResult> {
    const a = cmd.argv;
    const isNft =
      a.length === 7 &&
      a[0] === 'ip' &&
      a[1] === 'netns' &&
      a[2] === 'exec' &&
      a[4] === 'nft' &&
      a[5] === '-f';
    if (!isNft || typeof a[3] !== 'string' || cmd.stdin === undefined) return this.inner.run(cmd);
    const path = `/run/netns/${a[3]}`;
    let s = this.sessions.get(path);
    if (!s) {
      s = NftSession.open(path);
      this.sessions.set(path, s);
    }
    await (await s).apply(cmd.stdin);
    return { stdout: '', stderr: '', exitCode: 0 };
  }

  async close(): Promise<void> {
    for (const s of this.sessions.values()) (await s).close();
    this.sessions.clear();
  }
}
