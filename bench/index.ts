/**
 * `npm run bench -- <name>`: each benchmark measures podnet side by side with the reference its issue names, in
 * the same run, and prints medians and ratios (the machine is shared and noisy: compare within one run only).
 */
import { progress } from '../src/cli/tty.js';
import { benchAgent } from './agent.js';
import { benchCli } from './cli.js';
import { benchCni } from './cni.js';
import { benchLabUp } from './lab-up.js';
import { removeLeftoversOnSignal } from './leftovers.js';
import { benchPolicy } from './policy.js';
import { benchReconcile } from './reconcile.js';
import { benchServices } from './services.js';
import { benchThroughput } from './throughput.js';
import { benchTrace } from './trace.js';

const benches: Record<string, (args: string[]) => Promise<void>> = {
  'lab-up': benchLabUp,
  services: benchServices,
  cli: benchCli,
  cni: benchCni,
  throughput: benchThroughput,
  reconcile: benchReconcile,
  agent: benchAgent,
  trace: benchTrace,
  policy: benchPolicy,
};

const [name, ...args] = process.argv.slice(2);
if (!name || !benches[name]) {
  console.error(`usage: npm run bench -- <name>\nbenchmarks: ${Object.keys(benches).join(', ')}`);
  process.exit(2);
}
// Benches run for seconds to minutes: a progress line on stderr when it is a terminal (nothing in logs or pipes),
// cleared before each line of results so the two never share a line.
const stop = progress(`bench ${name}`);
const log = console.log;
console.log = (...a: unknown[]) => {
  if (process.stderr.isTTY) process.stderr.write('\r\x1b[2K');
  log(...a);
};
// Stopped by a signal, a bench skips its finally blocks: its namespaces, their processes and its temporary
// directories are removed all the same.
removeLeftoversOnSignal(`bench ${name}`, stop);
try {
  await benches[name]!(args);
} finally {
  stop();
  console.log = log;
}
