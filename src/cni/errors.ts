/**
 * CNI error codes (SPEC.md "Error"), and the one error class that crosses the CNI edge. Everything else the
 * plugin throws is mapped to a CniError in main.ts, so the runtime always gets `{cniVersion, code, msg, details}`.
 */
export const CNI_ERR = {
  /** Incompatible CNI version. */
  INCOMPATIBLE_VERSION: 1,
  /** Unsupported field in the network configuration. */
  UNSUPPORTED_FIELD: 2,
  /** Container unknown or does not exist. */
  UNKNOWN_CONTAINER: 3,
  /** Invalid necessary environment variables (CNI_COMMAND, CNI_CONTAINERID, CNI_NETNS, CNI_IFNAME, CNI_ARGS). */
  INVALID_ENV: 4,
  /** I/O failure, e.g. the IPAM data directory cannot be written. */
  IO_FAILURE: 5,
  /** Failed to decode content: stdin is not JSON, or CNI_ARGS is malformed. */
  DECODE: 6,
  /** Invalid network configuration. */
  INVALID_CONFIG: 7,
  /** Try again later: a transient condition such as the IPAM lock being busy. */
  TRY_AGAIN: 11,
  /** STATUS: the plugin is not available (cannot serve ADD). */
  NOT_AVAILABLE: 50,
  /** STATUS: not available, and existing containers may have limited connectivity. */
  NOT_AVAILABLE_LIMITED: 51,
  /** podnet: ADD found the interface (or its host-side veth) already present. */
  INTERFACE_EXISTS: 100,
  /** podnet: the address range has no free address. */
  RANGE_EXHAUSTED: 101,
  /** podnet: CHECK found the attachment differs from prevResult. */
  CHECK_FAILED: 102,
  /** podnet: a kernel command failed (the message names the command and the kernel's answer). */
  KERNEL: 103,
  /** podnet: GC could not release everything (details list what is left). */
  GC_INCOMPLETE: 104,
} as const;

export type CniErrorCode = (typeof CNI_ERR)[keyof typeof CNI_ERR];

/** A failure reported to the runtime as CNI error JSON on stdout (exit status 1). */
export class CniError extends Error {
  constructor(
    readonly cniCode: CniErrorCode,
    message: string,
    readonly details = '',
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = 'CniError';
  }

  toJSON(cniVersion: string): { cniVersion: string; code: number; msg: string; details?: string } {
    return {
      cniVersion,
      code: this.cniCode,
      msg: this.message,
      ...(this.details ? { details: this.details } : {}),
    };
  }
}
