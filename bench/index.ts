/**
 * `npm run bench -- <name>`: each benchmark measures podnet side by side with the reference its issue names, in
 * the same run, and prints medians and ratios (the machine is shared and noisy: compare within one run only).
 */
import { benchCni } from './cni.js';
import { benchLabUp } from './lab-up.js';
import { benchPolicy } from './policy.js';
import { benchServices } from './services.js';
import { benchThroughput } from './throughput.js';

const benches: Record<string, (args: string[]) => Promise<void>> = {
  'lab-up': benchLabUp,
  services: benchServices,
  cni: benchCni,
  throughput: benchThroughput,
  policy: benchPolicy,
};

const [name, ...args] = process.argv.slice(2);
if (!name || !benches[name]) {
  console.error(`usage: npm run bench -- <name>\nbenchmarks: ${Object.keys(benches).join(', ')}`);
  process.exit(2);
}
await benches[name]!(args);
