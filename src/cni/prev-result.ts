import { isSupported } from './version.js';

/**
 * Checks that `prevResult` is a result of its version (SPEC.md "Success"): an object whose `cniVersion`, when
 * given, is one we speak, and whose `interfaces`, `ips`, `routes` and `dns` have the spec's types. Returns every
 * problem as `prevResult.<path>: <what>`; the caller reports them as one code-7 error. Fields the spec does not
 * name are ignored, as everywhere in a CNI configuration.
 */
export function prevResultProblems(prev: unknown): string[] {
  const out: string[] = [];
  const bad = (path: string, msg: string) => out.push(`prevResult${path}: ${msg}`);
  if (!isObj(prev)) {
    bad('', `${show(prev)} is not a result (a JSON object with cniVersion, interfaces, ips, routes)`);
    return out;
  }
  if (prev.cniVersion !== undefined && !(typeof prev.cniVersion === 'string' && isSupported(prev.cniVersion)))
    bad('.cniVersion', `${show(prev.cniVersion)} is not a CNI version podnet knows`);
  const list = (key: string, each: (v: Json, at: string) => void) => {
    const v = prev[key];
    if (v === undefined) return;
    if (!Array.isArray(v)) return bad(`.${key}`, `${show(v)} must be a list`);
    v.forEach((x, i) => {
      if (isObj(x)) each(x, `.${key}[${i}]`);
      else bad(`.${key}[${i}]`, `${show(x)} must be an object`);
    });
  };
  const field = (o: Json, at: string, key: string, type: 'string' | 'integer', required = false) => {
    const v = o[key];
    if (v === undefined) {
      if (required) bad(`${at}.${key}`, 'is required');
    } else if (type === 'string' ? typeof v !== 'string' : !Number.isInteger(v))
      bad(`${at}.${key}`, `${show(v)} must be ${type === 'string' ? 'a string' : 'an integer'}`);
  };
  const cidr = (o: Json, at: string, key: string) => {
    field(o, at, key, 'string', true);
    const v = o[key];
    if (typeof v === 'string' && !CIDR_RE.test(v)) bad(`${at}.${key}`, `${show(v)} is not an address/prefix`);
  };
  const ifaces = Array.isArray(prev.interfaces) ? prev.interfaces.length : undefined;
  list('interfaces', (o, at) => {
    field(o, at, 'name', 'string', true);
    for (const k of ['mac', 'sandbox', 'socketPath', 'pciID']) field(o, at, k, 'string');
    field(o, at, 'mtu', 'integer');
  });
  list('ips', (o, at) => {
    cidr(o, at, 'address');
    field(o, at, 'gateway', 'string');
    field(o, at, 'interface', 'integer');
    const i = o.interface;
    if (Number.isInteger(i) && ((i as number) < 0 || (ifaces !== undefined && (i as number) >= ifaces)))
      bad(`${at}.interface`, `${i} is not an index into interfaces`);
    if (o.version !== undefined && o.version !== '4' && o.version !== '6')
      bad(`${at}.version`, `${show(o.version)} must be "4" or "6"`);
  });
  list('routes', (o, at) => {
    cidr(o, at, 'dst');
    field(o, at, 'gw', 'string');
  });
  if (prev.dns !== undefined) {
    if (!isObj(prev.dns)) bad('.dns', `${show(prev.dns)} must be an object`);
    else {
      const dns = prev.dns;
      field(dns, '.dns', 'domain', 'string');
      for (const k of ['nameservers', 'search', 'options'])
        if (dns[k] !== undefined && !(Array.isArray(dns[k]) && dns[k].every((s) => typeof s === 'string')))
          bad(`.dns.${k}`, `${show(dns[k])} must be a list of strings`);
    }
  }
  return out;
}

type Json = Record<string, unknown>;
const isObj = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
/** A value for a message: short, and never a deep walk of nested input. */
const show = (v: unknown): string => {
  if (typeof v === 'string') return `'${v.length > 60 ? `${v.slice(0, 60)}…` : v}'`;
  if (Array.isArray(v)) return 'a list';
  if (isObj(v)) return 'an object';
  return String(v);
};
const CIDR_RE = /^(\d{1,3}(\.\d{1,3}){3}|[0-9a-fA-F:.]*:[0-9a-fA-F:.]*)\/\d{1,3}$/;
