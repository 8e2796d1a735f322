/**
 * The CNI client's wire format (native/cni-client.c has the full description), as pure functions. Both
 * directions are bytes; integers are u32 little-endian.
 *   request: "podnet-cni/1\0" "<dev>:<ino>\0" ("KEY=VALUE\0")* "\0" stdin
 *   answer:  'D' | 'A' u32 n <what to print if the agent dies; empty: fall back> 'R' u8 status u32 <stdout> u32 <stderr>
 */
export const MAGIC = 'podnet-cni/1';

/** One request as the client sent it. */
export interface CniRequest {
  /** The client's network namespace, `st_dev:st_ino` of /proc/self/ns/net. */
  readonly netns: string;
  /** Its CNI_* and PODNET_CNI_* variables. */
  readonly env: Readonly<Record<string, string>>;
  readonly stdin: string;
}

/** Parses a whole request; undefined when it is not one (another client, a truncated write). */
export function decodeRequest(bytes: Uint8Array): CniRequest | undefined {
  const fields: string[] = [];
  let at = 0;
  const dec = new TextDecoder();
  for (;;) {
    const end = bytes.indexOf(0, at);
    if (end < 0) return undefined;
    const field = dec.decode(bytes.subarray(at, end));
    at = end + 1;
    if (field === '' && fields.length >= 2) break;
    fields.push(field);
  }
  const [magic, netns, ...vars] = fields;
  if (magic !== MAGIC || netns === undefined) return undefined;
  const env: Record<string, string> = {};
  for (const v of vars) {
    const eq = v.indexOf('=');
    if (eq <= 0 || !/^(CNI_|PODNET_CNI_)/.test(v)) return undefined;
    env[v.slice(0, eq)] = v.slice(eq + 1);
  }
  return { netns, env, stdin: dec.decode(bytes.subarray(at)) };
}

/** Encodes a request (what the client sends; tests and the bench's own client use it). */
export function encodeRequest(r: CniRequest): Uint8Array {
  const head = [MAGIC, r.netns, ...Object.entries(r.env).map(([k, v]) => `${k}=${v}`), ''];
  return new TextEncoder().encode(`${head.join('\0')}\0${r.stdin}`);
}

const frame = (text: string): Uint8Array => {
  const body = new TextEncoder().encode(text);
  const out = new Uint8Array(4 + body.length);
  new DataView(out.buffer).setUint32(0, body.length, true);
  out.set(body, 4);
  return out;
};

const concat = (parts: Uint8Array[]): Uint8Array => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
};

/** Declined: the client runs the Node.js plugin itself. */
export const DECLINE = new Uint8Array([0x44]);

/** Accepted; `onDeath` is what the client prints (exit 1) if no answer follows, '' to fall back instead. */
export const encodeAccept = (onDeath: string): Uint8Array => concat([new Uint8Array([0x41]), frame(onDeath)]);

/** The verb's answer, exactly as the plugin would have printed it and exited. */
export const encodeAnswer = (a: { exitCode: number; stdout: string; stderr: string }): Uint8Array =>
  concat([new Uint8Array([0x52, a.exitCode & 0xff]), frame(a.stdout), frame(a.stderr)]);

/** The client's reading of an answer: what it prints, or 'fallback' (the Node.js plugin runs the verb). */
export type ClientOutcome =
  | { readonly kind: 'answer'; readonly exitCode: number; readonly stdout: string; readonly stderr: string }
  | { readonly kind: 'fallback' };

/** How the client reads the agent's bytes, up to where the connection ended (mirrors cni-client.c main). */
export function readAnswer(bytes: Uint8Array): ClientOutcome {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const dec = new TextDecoder();
  let at = 0;
  const text = (): string | undefined => {
    if (at + 4 > bytes.length) return undefined;
    const n = dv.getUint32(at, true);
    if (at + 4 + n > bytes.length) return undefined;
    const s = dec.decode(bytes.subarray(at + 4, at + 4 + n));
    at += 4 + n;
    return s;
  };
  if (bytes[at++] !== 0x41) return { kind: 'fallback' };
  const onDeath = text();
  if (onDeath === undefined) return { kind: 'fallback' };
  const died = (): ClientOutcome =>
    onDeath === '' ? { kind: 'fallback' } : { kind: 'answer', exitCode: 1, stdout: onDeath, stderr: '' };
  if (bytes[at++] !== 0x52 || at >= bytes.length) return died();
  const exitCode = bytes[at++]!;
  const stdout = text();
  const stderr = text();
  if (stdout === undefined || stderr === undefined) return died();
  return { kind: 'answer', exitCode, stdout, stderr };
}
