/**
 * IPv4 addresses and CIDRs as small immutable values: once one exists it is valid, so planners never re-validate.
 */

/** An IPv4 address. */
export class Ip {
  private constructor(readonly value: number) {}

  /** Parses dotted-quad text; returns undefined when it is not an IPv4 address. */
  /**
   * Dotted quad → Ip; undefined unless exactly four decimal octets 0–255 without leading zeros. Written as a
   * character loop rather than a regular expression: the CNI plugin parses a handful of addresses per run, and
   * compiling a regex on first use cost more than all of them.
   */
  static tryParse(text: string): Ip | undefined {
    let value = 0;
    let octet = 0;
    let digits = 0;
    let dots = 0;
    for (let i = 0; i <= text.length; i++) {
      const c = i < text.length ? text.charCodeAt(i) : 46; // a final '.' closes the last octet
      if (c === 46) {
        if (digits === 0 || (digits > 1 && text.charCodeAt(i - digits) === 48) || octet > 255)
          return undefined;
        value = value * 256 + octet;
        octet = 0;
        digits = 0;
        dots++;
      } else if (c >= 48 && c <= 57 && digits < 3) {
        octet = octet * 10 + (c - 48);
        digits++;
      } else return undefined;
    }
    return dots === 4 ? new Ip(value >>> 0) : undefined;
  }

  static parse(text: string): Ip {
    const ip = Ip.tryParse(text);
    if (!ip) throw new TypeError(`'${text}' is not an IPv4 address`);
    return ip;
  }

  static fromNumber(n: number): Ip {
    if (!Number.isInteger(n) || n < 0 || n > 0xffffffff)
      throw new RangeError(`${n} is outside the IPv4 range`);
    return new Ip(n >>> 0);
  }

  add(n: number): Ip {
    return Ip.fromNumber(this.value + n);
  }

  equals(other: Ip): boolean {
    return this.value === other.value;
  }

  toString(): string {
    const v = this.value;
    return `${v >>> 24}.${(v >>> 16) & 255}.${(v >>> 8) & 255}.${v & 255}`;
  }

  toJSON(): string {
    return this.toString();
  }
}

/** An IPv4 network (address masked to its prefix), e.g. 10.200.0.0/16. */
export class Cidr {
  private constructor(
    readonly network: Ip,
    readonly prefix: number,
  ) {}

  /**
   * Parses `a.b.c.d/n`. With `strict` (the default) host bits must be zero, as Kubernetes requires for
   * `--cluster-cidr`; otherwise they are masked off.
   */
  static tryParse(text: string, strict = true): Cidr | undefined {
    const m = /^([0-9.]+)\/(\d{1,2})$/.exec(text);
    if (!m) return undefined;
    const ip = Ip.tryParse(m[1]!);
    const prefix = Number(m[2]);
    if (!ip || prefix > 32) return undefined;
    const masked = (ip.value & maskOf(prefix)) >>> 0;
    if (strict && masked !== ip.value) return undefined;
    return new Cidr(Ip.fromNumber(masked), prefix);
  }

  static parse(text: string, strict = true): Cidr {
    const c = Cidr.tryParse(text, strict);
    if (!c) throw new TypeError(`'${text}' is not an IPv4 CIDR`);
    return c;
  }

  static of(network: Ip, prefix: number): Cidr {
    return new Cidr(Ip.fromNumber((network.value & maskOf(prefix)) >>> 0), prefix);
  }

  /** Number of addresses in the block. */
  get size(): number {
    return 2 ** (32 - this.prefix);
  }

  get broadcast(): Ip {
    return this.network.add(this.size - 1);
  }

  /** The netmask as dotted quad, e.g. 255.255.255.0. */
  get mask(): Ip {
    return Ip.fromNumber(maskOf(this.prefix));
  }

  contains(ip: Ip): boolean {
    return (ip.value & maskOf(this.prefix)) >>> 0 === this.network.value;
  }

  overlaps(other: Cidr): boolean {
    return this.contains(other.network) || other.contains(this.network);
  }

  /** The i-th subnet of the given prefix length inside this block (0-based). */
  subnet(prefix: number, index: number): Cidr {
    if (prefix < this.prefix) throw new RangeError(`/${prefix} is larger than ${this}`);
    const count = 2 ** (prefix - this.prefix);
    if (index < 0 || index >= count) throw new RangeError(`${this} has only ${count} /${prefix} subnets`);
    return new Cidr(this.network.add(index * 2 ** (32 - prefix)), prefix);
  }

  /** `address/prefix` text for an address inside this block, e.g. 10.200.0.2/24. */
  withHost(ip: Ip): string {
    return `${ip}/${this.prefix}`;
  }

  equals(other: Cidr): boolean {
    return this.prefix === other.prefix && this.network.equals(other.network);
  }

  toString(): string {
    return `${this.network}/${this.prefix}`;
  }

  toJSON(): string {
    return this.toString();
  }
}

function maskOf(prefix: number): number {
  return prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
}
