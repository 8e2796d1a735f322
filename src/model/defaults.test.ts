import assert from 'node:assert/strict';
import { test } from 'node:test';
import { defaultClusterDoc } from './defaults.js';
import * as z from './mini-schema.js';
import { clusterDocSchema } from './schema.js';
import { k8sServiceSchema, seedServiceManifest } from './service.js';

// strictParse returns built-in documents as they are (builtIn): each must be valid and hold every default.
test('the default cluster document is valid and already in its schema output shape', () => {
  const doc = defaultClusterDoc();
  assert.deepEqual(z.parse(clusterDocSchema(), doc), doc);
});

test("the seed's Service manifest is valid and already in its schema output shape", () => {
  const svc = seedServiceManifest();
  assert.deepEqual(z.parse(k8sServiceSchema(), svc), svc);
});
