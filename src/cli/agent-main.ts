import { usage } from './command.js';
import { agent } from './commands/agent.js';
import { alignFlags } from './help.js';
import { frontDoor, invoke } from './invoke.js';

/**
 * The entry point of the agent's own bundle (dist/podnet-agent.cjs, scripts/bundle-cli.js): `podnet agent …`
 * exactly as the CLI runs it, without the CLI's other commands. A node agent starts often (every join, every
 * restart) and its start-up is what the other nodes wait for, so it reads and compiles only its own code.
 */
export async function main(argv: string[]): Promise<void> {
  return frontDoor(argv, async (a) => {
    if (a[0] !== 'agent') usage(`this bundle runs 'podnet agent' only, not '${a.join(' ')}'`);
    const own = a.slice(1);
    if (own.includes('--help') || own.includes('-h')) {
      console.log(alignFlags(agent.help));
      return 0;
    }
    return invoke(agent, own, [], false);
  });
}

/** bin/podnet.js keeps a code cache for the command lines this bundle knows. */
export const knownCommand = (key: string): boolean => key === 'agent';
