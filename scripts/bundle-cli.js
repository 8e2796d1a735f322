// Bundles the CLI (dist/src/cli/main.js, what tsc built, and everything it imports: yaml, zod) into one file,
// dist/podnet.cjs, which bin/podnet.js compiles with V8's code cache (dist/podnet.cjs.cache): one file to read
// instead of ~150 modules to resolve, and no compile of what the cache holds, the same tricks as the CNI plugin
// (docs/cni.md "Start-up cost"). The handlers' dynamic imports stay lazy: esbuild wraps each module so that its
// body runs on first import only. Run by `npm run build` after tsc; it then warms the cache (see the end).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const dist = join(root, 'dist');
const outfile = join(dist, 'podnet.cjs');

let esbuild;
try {
  esbuild = await import('esbuild');
} catch {
  // A production install without dev dependencies: bin/podnet.js falls back to the unbundled dist/.
  console.error('bundle-cli: esbuild is not installed; the CLI runs unbundled (slower start-up)');
  process.exit(0);
}

const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));

// Sources read files next to themselves (`new URL('../../../assets/probe.py', import.meta.url)`): each module's
// import.meta.url becomes the URL of its own dist/ file, computed from the bundle's location at run time.
const ownUrl = {
  name: 'own-import-meta-url',
  setup(build) {
    build.onLoad({ filter: /[\\/]dist[\\/]src[\\/].*\.js$/ }, (args) => {
      const text = readFileSync(args.path, 'utf8');
      // Not inside quotes: install.ts names 'import.meta.url' as an esbuild define key for the CNI bundle.
      const use = /(?<!['"])\bimport\.meta\.url\b(?!['"])/g;
      if (!use.test(text)) return undefined;
      const rel = relative(dist, args.path).split('\\').join('/');
      return {
        contents: text.replace(use, `__podnetUrl(${JSON.stringify(rel)})`),
        loader: 'js',
      };
    });
  },
};

const built = await esbuild.build({
  entryPoints: [join(dist, 'src', 'cli', 'main.js')],
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  minify: true,
  legalComments: 'none',
  define: { __PODNET_VERSION__: JSON.stringify(pkg.version) },
  // esbuild (the CNI plugin's bundler, loaded only by `cni install`) stays a package of its own.
  external: ['esbuild'],
  banner: {
    js: "const __podnetUrl = (p) => require('node:url').pathToFileURL(require('node:path').join(__dirname, p)).href;",
  },
  plugins: [ownUrl],
  write: false,
  logLevel: 'warning',
});
const code = built.outputFiles[0].text;
// esbuild escapes non-ASCII text (charset ascii), but not inside regular expressions: one such character would
// make the whole bundle a two-byte string for V8, twice the memory and a slower read. Write \uXXXX in sources.
const wide = /[^\x00-\x7f]/.exec(code);
if (wide) console.error(`bundle-cli: warning: non-ASCII '${wide[0]}' in the bundle near: ${code.slice(wide.index - 40, wide.index + 10)}`);
const tmp = `${outfile}.tmp-${process.pid}`;
writeFileSync(tmp, code);
renameSync(tmp, outfile);
// Caches of the previous bundle would be refused by V8 (other code); remove them rather than leave them.
for (const f of readdirSync(dist)) if (/^podnet\.cjs\.[a-z-]+\.cache$/.test(f)) rmSync(join(dist, f));

// Warm V8's code caches (one per command, bin/podnet.js) with the commonest commands: help, a status of a lab
// that is not there, and a refused file. Each run writes its command's cache on exit.
const dir = mkdtempSync(join(tmpdir(), 'podnet-warm-'));
const bad = join(dir, 'bad.yaml');
writeFileSync(bad, 'apiVersion: v1\nkind: Pod\nmetadata:\n  name: web\n  label: {app: web}\n');
for (const argv of [['--help'], ['lab', 'status', '--name', 'warm'], ['lab', 'list'], ['lab', 'up', '-f', bad, '--name', 'warm']])
  spawnSync(process.execPath, [join(root, 'bin', 'podnet.js'), ...argv], {
    env: { PATH: process.env.PATH, PODNET_STATE_DIR: join(dir, 'state') },
    stdio: 'ignore',
  });
rmSync(dir, { recursive: true, force: true });
