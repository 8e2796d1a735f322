// Compiles native/netlink.c into dist/native/netlink.node for the lab's in-process netlink (src/lab/runners.ts),
// as `podnet cni install` does for the plugin. Run by `npm run build` after tsc. Without a C compiler the build
// still succeeds: the lab then runs `ip` processes, as it did before the addon.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const out = join(root, 'dist', 'native', 'netlink.node');
const stamp = `${out}.source-sha256`;
const source = createHash('sha256')
  .update(readFileSync(join(root, 'native', 'netlink.c')))
  .digest('hex');
if (existsSync(out) && existsSync(stamp) && readFileSync(stamp, 'utf8') === source) process.exit(0);
const { compileNetlinkAddon } = await import(pathToFileURL(join(root, 'dist', 'src', 'exec', 'netlink', 'build.js')).href);
try {
  const addon = await compileNetlinkAddon();
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(`${out}.tmp`, addon.bytes);
  renameSync(`${out}.tmp`, out);
  writeFileSync(stamp, source);
} catch (e) {
  rmSync(out, { force: true });
  console.error(`build-addon: ${e.message}; the lab will run ip processes instead of in-process netlink`);
}
