import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DECLINE, decodeRequest, encodeAccept, encodeAnswer, encodeRequest, readAnswer } from './cni-wire.js';

test('a request survives encoding: namespace, CNI variables, stdin with NULs and UTF-8', () => {
  const req = {
    netns: '4:4026531840',
    env: { CNI_COMMAND: 'ADD', CNI_ARGS: 'K8S_POD_NAME=wéb;X=a=b', PODNET_CNI_TRACE: '1' },
    stdin: '{"cniVersion":"1.0.0"}\0tail',
  };
  assert.deepEqual(decodeRequest(encodeRequest(req)), req);
  assert.deepEqual(decodeRequest(encodeRequest({ ...req, env: {}, stdin: '' })), {
    ...req,
    env: {},
    stdin: '',
  });
});

test('what is not a request is refused: wrong magic, truncated, a variable the client never sends', () => {
  const enc = (s: string) => new TextEncoder().encode(s);
  assert.equal(decodeRequest(enc('podnet-cni/2\0x:y\0\0{}')), undefined);
  assert.equal(decodeRequest(enc('podnet-cni/1\0x:y\0CNI_COMMAND=ADD')), undefined);
  assert.equal(decodeRequest(enc('podnet-cni/1\0x:y\0PATH=/bin\0\0{}')), undefined);
  assert.equal(decodeRequest(enc('podnet-cni/1\0x:y\0CNI_COMMAND\0\0{}')), undefined);
});

test('the client relays a whole answer, falls back before acceptance, and after it prints the death answer', () => {
  const accepted = encodeAccept('{"code":11}\n');
  const answer = encodeAnswer({ exitCode: 1, stdout: '{"code":7}\n', stderr: 'trace\n' });
  const whole = new Uint8Array([...accepted, ...answer]);
  assert.deepEqual(readAnswer(whole), {
    kind: 'answer',
    exitCode: 1,
    stdout: '{"code":7}\n',
    stderr: 'trace\n',
  });
  assert.deepEqual(readAnswer(DECLINE), { kind: 'fallback' });
  assert.deepEqual(readAnswer(new Uint8Array()), { kind: 'fallback' });
  assert.deepEqual(readAnswer(accepted.subarray(0, 3)), { kind: 'fallback' });
  // Accepted, then cut anywhere inside the answer: the death answer, never a half answer.
  for (let cut = 0; cut < answer.length; cut++)
    assert.deepEqual(
      readAnswer(new Uint8Array([...accepted, ...answer.subarray(0, cut)])),
      { kind: 'answer', exitCode: 1, stdout: '{"code":11}\n', stderr: '' },
      `cut at ${cut}`,
    );
  // A verb that is safe to repeat accepts with an empty death answer: the client falls back.
  assert.deepEqual(readAnswer(new Uint8Array([...encodeAccept(''), 0x52])), { kind: 'fallback' });
});
