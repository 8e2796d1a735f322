import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const GOLDEN = fileURLToPath(new URL('../../../test/golden/', import.meta.url));

/**
 * Compares text with test/golden/<name>; with UPDATE_GOLDEN=1 rewrites the file instead. Golden files are
 * dry-run scripts: they double as documentation of exactly what podnet runs.
 */
export function expectGolden(actual: string, name: string): void {
  const path = join(GOLDEN, name);
  if (process.env.UPDATE_GOLDEN === '1') {
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, actual);
    return;
  }
  let expected: string;
  try {
    expected = readFileSync(path, 'utf8');
  } catch {
    assert.fail(`golden file ${name} is missing: run the unit tests with UPDATE_GOLDEN=1 to create it`);
  }
  assert.equal(actual, expected, `output differs from test/golden/${name} (UPDATE_GOLDEN=1 to accept)`);
}
