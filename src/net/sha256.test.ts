import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { sha256Hex } from './sha256.js';

test('sha256 matches node:crypto on known vectors and random inputs of every length up to 300 bytes', () => {
  assert.equal(sha256Hex(''), 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
  assert.equal(sha256Hex('abc'), 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
  for (let n = 0; n <= 300; n++) {
    const data = randomBytes(n);
    assert.equal(sha256Hex(data), createHash('sha256').update(data).digest('hex'), `length ${n}`);
  }
  const text = 'cni/ünïcødé/eth0';
  assert.equal(sha256Hex(text), createHash('sha256').update(text).digest('hex'));
});

test('strings are hashed as their UTF-8 bytes: 1 to 4 byte characters, and lone surrogates as U+FFFD', () => {
  for (const text of [
    'a\u00e9\u0800\uffff',
    'x\u{1f600}y\u{10ffff}',
    'lone \ud800 and \udc00, pair \ud83d\ude00',
    '\ud800',
  ])
    assert.equal(
      sha256Hex(text),
      createHash('sha256').update(new TextEncoder().encode(text)).digest('hex'),
      text,
    );
});
