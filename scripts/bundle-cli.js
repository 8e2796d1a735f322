// Bundles the CLI (dist/src/cli/main.js, what tsc built, and everything it imports) into dist/cli/: main.cjs,
// the command table, and chunk files each command's dynamic imports load on first use (splitCli below); yaml
// in dist/vendor/yaml.cjs. bin/podnet.js compiles each file with V8's code caches (FILE.KEY.cache): a few
// files to read instead of ~150 modules to resolve, and no compile of what the cache holds, the same tricks as
// the CNI plugin (docs/cni.md "Start-up cost"). Run by `npm run build` after tsc; it then warms the caches
// (see the end).
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join, relative } from 'node:path';
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

// yaml and prom-client (the agent's) are files of their own (dist/vendor/NAME.cjs, loaded by bin/podnet.js on
// first require, each with its own code cache; bin/podnet.js lists the same names): `--help` and `lab status`
// do not read them. It holds no podnet code, so no class exists twice
// (ConfigError's instanceof holds). zod stays in the bundle: podnet uses zod/mini through named exports, of
// which esbuild keeps only what is called (~30 KB). elkjs (1.5 MB, `lab diagram` and `lab ui` only) is
// required from node_modules as it is.
const VENDOR = { yaml: 'yaml', 'prom-client': 'prom-client' };

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
      // import('node:fs') or import('zod') would stay a real dynamic import, which a vm.Script (bin/podnet.js)
      // cannot run: require a built-in (loaded already) or a vendored package (bin/podnet.js loads its file).
      const builtin = new RegExp(`\\bimport\\((['"](?:node:[a-z_/]+|${Object.keys(VENDOR).join('|')})['"])\\)`, 'g');
      if (!use.test(text) && !builtin.test(text)) return undefined;
      const rel = relative(dist, args.path).split('\\').join('/');
      return {
        contents: text
          .replace(use, `__podnetUrl(${JSON.stringify(rel)})`)
          .replace(builtin, 'Promise.resolve(require($1))'),
        loader: 'js',
      };
    });
  },
};

// The wrapper CommonJS gives a module, written into the file itself: bin/podnet.js compiles the file's text as
// it is read, with no 2 MB concatenation (on this class of machine every copy of the bundle costs milliseconds).
const WRAP = {
  banner: '(function (exports, require, module, __filename, __dirname) {',
  footer: '\n})',
};

/** esbuild's CommonJS code for `options` (minified; PODNET_BUNDLE_READABLE=1 keeps names, for `node --cpu-prof`). */
async function build(options) {
  const built = await esbuild.build({
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'cjs',
    minifyWhitespace: true,
    minifySyntax: true,
    minifyIdentifiers: !process.env.PODNET_BUNDLE_READABLE,
    legalComments: 'none',
    write: false,
    logLevel: 'warning',
    ...options,
  });
  return built.outputFiles[0].text;
}

/** Writes `code` to `file` atomically; refuses non-ASCII text (see below). */
function write(file, code) {
  // esbuild escapes non-ASCII text (charset ascii), but not inside regular expressions: one such character
  // would make the whole bundle a two-byte string for V8, twice the memory and a slower read, and bin/podnet.js
  // reads the file as latin1 (no UTF-8 decoding). Write \uXXXX in sources.
  const wide = /[^\x00-\x7f]/.exec(code);
  if (wide) {
    console.error(`bundle-cli: non-ASCII '${wide[0]}' in ${file} near: ${code.slice(wide.index - 40, wide.index + 10)}`);
    process.exit(1);
  }
  mkdirSync(dirname(file), { recursive: true });
  const tmp = `${file}.tmp-${process.pid}`;
  writeFileSync(tmp, code);
  renameSync(tmp, file);
}

/** One CommonJS module in a file: its code inside the wrapper (WRAP). */
const bundle = async (options, file) => write(file, `${WRAP.banner}${await build(options)}${WRAP.footer}`);

/**
 * A pack: several modules in one file, `module.exports = { NAME: function (exports, require, module) {…} }`,
 * which bin/podnet.js registers and runs each on its first require('./NAME'); `head` runs once, before them.
 */
function writePack(file, head, members) {
  const body = Object.entries(members)
    .map(([name, code]) => `${JSON.stringify(name)}: function (exports, require, module) {${code}\n}`)
    .join(',\n');
  write(file, `${WRAP.banner}${head}\nmodule.exports = {\n${body}\n};${WRAP.footer}`);
}

// yaml from its ES module build with only the names podnet imports, so that esbuild leaves out the rest
// (stringifying, mostly): a smaller file and code cache for every command that reads a file.
const ENTRY = {
  yaml: `export { isMap, isScalar, isSeq, LineCounter, parse, parseAllDocuments } from ${JSON.stringify(join(root, 'node_modules', 'yaml', 'browser', 'dist', 'index.js'))};`,
};
for (const [pkgName, name] of Object.entries(VENDOR))
  await bundle(
    {
      stdin: {
        contents: ENTRY[pkgName] ?? `module.exports = require(${JSON.stringify(pkgName)});`,
        resolveDir: root,
        loader: 'js',
      },
    },
    join(dist, 'vendor', `${name}.cjs`),
  );

/** What both builds share: the version, the packages kept out, and each module's own import.meta.url. */
const common = {
  define: { __PODNET_VERSION__: JSON.stringify(pkg.version) },
  // esbuild (the CNI plugin's bundler, loaded only by `cni install`) stays a package of its own.
  external: ['esbuild', 'elkjs', 'elkjs/*', ...Object.keys(VENDOR)],
  plugins: [ownUrl],
};
const URL_HELPER = (up) =>
  `const __podnetUrl = (p) => require('node:url').pathToFileURL(require('node:path').join(__dirname, ${JSON.stringify(up)}, p)).href;`;

// The CLI, split (dist/cli/, see splitCli): the command table is one small file, and each command's work is in
// files of its own, read on the command's first dynamic import. One file of everything cost every command the
// read and code cache of all of it (`--help` read 450 kB to print its text).
await splitCli(join(dist, 'src', 'cli', 'main.js'), join(dist, 'cli'));
rmSync(outfile, { force: true }); // the single-file bundle of earlier builds
// The agent's own bundle, one file (bin/podnet.js runs it for `podnet agent`): its start-up is on the path of
// every node join and restart, and it loads most of its code at once.
writePack(join(dist, 'podnet-agent.cjs'), URL_HELPER('.'), {
  'podnet-agent.cjs': await build({ entryPoints: [join(dist, 'src', 'cli', 'agent-main.js')], ...common }),
});

// Caches of the previous build would be refused by V8 (other code); remove them rather than leave them
// (dist/cli/ was emptied by splitCli).
for (const d of [dist, join(dist, 'vendor')])
  for (const f of readdirSync(d)) if (/\.cjs\.[a-z-]+\.cache$/.test(f)) rmSync(join(d, f));

/**
 * Builds the CLI with esbuild's code splitting (which needs ES modules) into `outdir`: each dynamically imported
 * module, and each group of modules several of them share, is a chunk (`chunk-HASH.cjs`, `spec-source-HASH.cjs`),
 * made CommonJS by esbuild's transform (`import` becomes `require('./chunk-HASH.cjs')`, `import()` a lazy
 * require). main.cjs is a pack of the entry and every chunk it imports statically (what every command runs:
 * one file to read), and each other chunk a pack of its own, read on its first require (bin/podnet.js).
 */
async function splitCli(entryPoint, outdir) {
  const built = await esbuild.build({
    entryPoints: { main: entryPoint },
    bundle: true,
    splitting: true,
    platform: 'node',
    target: 'node20',
    format: 'esm',
    outdir,
    outExtension: { '.js': '.cjs' },
    chunkNames: '[name]-[hash]',
    write: false,
    metafile: true,
    logLevel: 'warning',
    legalComments: 'none',
    ...common,
  });
  const name = (path) => basename(path);
  const code = {};
  for (const out of built.outputFiles)
    code[name(out.path)] = await build({
      stdin: { contents: out.text, sourcefile: name(out.path), loader: 'js' },
      bundle: false,
      // import('./chunk.cjs') as a require (a vm.Script cannot run a real dynamic import)
      supported: { 'dynamic-import': false },
    });
  const imports = {};
  for (const [path, out] of Object.entries(built.metafile.outputs))
    imports[name(path)] = out.imports.filter((i) => i.kind === 'import-statement' && !i.external).map((i) => name(i.path));
  const front = new Set();
  const visit = (n) => {
    if (front.has(n)) return;
    front.add(n);
    for (const i of imports[n] ?? []) visit(i);
  };
  visit('main.cjs');
  rmSync(outdir, { recursive: true, force: true });
  const head = URL_HELPER('..');
  writePack(join(outdir, 'main.cjs'), head, Object.fromEntries([...front].map((n) => [n, code[n]])));
  for (const [n, c] of Object.entries(code)) if (!front.has(n)) writePack(join(outdir, n), head, { [n]: c });
}

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
// The agent's cache: an agent with V8 flags as the lab runs it (a cache made under other flags is refused, and
// then rewritten by the first agent that exits), on loopback, stopped by SIGTERM while it waits for a store
// that is not there; it writes the cache of its start-up path on exit.
spawnSync(
  process.execPath,
  ['--lite-mode', '--no-expose-wasm', join(root, 'bin', 'podnet.js'), 'agent', '--node', 'warm', '--datastore', 'etcd',
    '--etcd-endpoints', 'http://127.0.0.1:9', '--iface', 'lo', '--listen', '127.0.0.1:0', '--state-dir', join(dir, 'agent'),
    '--cni-conf-dir', join(dir, 'net.d'), '--cni-data-dir', join(dir, 'ipam')],
  { env: { PATH: process.env.PATH }, stdio: 'ignore', timeout: 1500, killSignal: 'SIGTERM' },
);
rmSync(dir, { recursive: true, force: true });
