import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

/**
 * The module boundaries of docs/architecture.md, checked on the source: imports flow one way
 * (net <- model <- plan <- render <- apply <- front doors), and only src/exec spawns processes.
 */
const SRC = fileURLToPath(new URL('../../src/', import.meta.url));

function sources(dir = SRC): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    if (e.isDirectory()) return sources(p);
    return e.name.endsWith('.ts') && !e.name.endsWith('.test.ts') ? [p] : [];
  });
}

const files = sources().map((path) => {
  const rel = relative(SRC, path);
  const text = readFileSync(path, 'utf8');
  const imports = [...text.matchAll(/^\s*import\s[^;]*?from\s+'([^']+)'/gms)].map((m) => m[1]!);
  const layer = rel.includes('/') ? rel.split('/')[0]! : '(root)';
  return { rel, text, imports, layer };
});

/** Which project folders each layer may import from (besides itself and src/errors.ts). */
const allowed: Record<string, string[]> = {
  net: [],
  model: ['net'],
  plan: ['net', 'model'],
  render: ['net', 'model', 'plan', 'exec'],
  exec: [],
  observe: ['exec', 'net', 'plan', 'render'],
  apply: ['net', 'model', 'plan', 'render', 'exec'],
  // Front doors: they compose the layers above, never each other (the CLI calls the lab and the plugin).
  // The lab's cluster mode writes the agents' store (its keys and codecs) and reads their health.
  lab: ['net', 'model', 'plan', 'render', 'exec', 'apply', 'observe', 'agent'],
  cni: ['net', 'model', 'plan', 'render', 'exec', 'apply', 'observe'],
  // The agent serves the CNI plugin's requests warm with the plugin's own code (agent/cni-server.ts).
  agent: ['net', 'model', 'plan', 'render', 'exec', 'apply', 'observe', 'cni'],
  cli: ['net', 'model', 'plan', 'lab', 'cni', 'agent'],
};

test('every folder of src/ has a row', () => {
  const folders = [...new Set(files.map((f) => f.layer))].filter((l) => l !== '(root)');
  assert.deepEqual(
    folders.filter((l) => !(l in allowed)),
    [],
  );
});

function targetLayer(from: string, spec: string): string | undefined {
  if (!spec.startsWith('.')) return undefined;
  const resolved = relative(SRC, join(SRC, from, '..', spec));
  if (resolved === 'errors.js') return '(root)';
  if (resolved.startsWith('..')) return '(outside src)';
  return resolved.includes('/') ? resolved.split('/')[0] : '(root)';
}

test('imports flow one way between layers', () => {
  const violations: string[] = [];
  for (const f of files) {
    const ok = allowed[f.layer];
    if (!ok) continue;
    for (const spec of f.imports) {
      const target = targetLayer(f.rel, spec);
      if (!target || target === f.layer || target === '(root)') continue;
      if (!ok.includes(target))
        violations.push(`${f.rel} imports ${spec} (${f.layer} may not depend on ${target})`);
    }
  }
  assert.deepEqual(violations, []);
});

test('only src/exec spawns processes', () => {
  const spawners = files
    .filter((f) => f.imports.some((i) => i === 'node:child_process' || i === 'child_process'))
    .map((f) => f.rel);
  assert.deepEqual(
    spawners.filter((r) => !r.startsWith('exec/')),
    [],
  );
});

test('argv of the tools podnet runs is written only in src/exec and src/render', () => {
  const tool =
    /\[\s*'(ip|bridge|nft|iptables-restore|iptables-save|conntrack|nsenter|unshare|tshark|sysctl)',\s*'(-|netns|link|addr|route|neigh|fdb|list|add)/;
  const offenders = files
    .filter((f) => !f.rel.startsWith('exec/') && !f.rel.startsWith('render/') && tool.test(f.text))
    .map((f) => f.rel);
  assert.deepEqual(offenders, []);
});

test('runners are made in one place per front door (lab/runners.ts, cni/main.ts, agent/main.ts)', () => {
  const makers = files
    .filter((f) => !f.rel.startsWith('exec/') && /new ProcessRunner\(|\)\.ProcessRunner\(/.test(f.text))
    .map((f) => f.rel)
    .sort();
  assert.deepEqual(makers, ['agent/main.ts', 'cni/main.ts', 'lab/runners.ts']);
});

test('no shell strings: nothing is run through sh -c', () => {
  const offenders = files
    .filter((f) => /['"](ba)?sh['"],\s*['"]-c['"]/.test(f.text) || /shell:\s*true/.test(f.text))
    .map((f) => f.rel);
  assert.deepEqual(offenders, []);
});
