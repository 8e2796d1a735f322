/**
 * The lab's network faults as one nftables table on the switch (pure): `lab partition NODE` cuts the frames
 * between a node's switch port and the control plane's, both ways, and nothing else; the node's pods keep
 * talking to every other node. An empty list removes the table's rules.
 */
export const FAULT_TABLE = 'podnet_lab_faults';

export function renderPartitions(cpPort: string, nodePorts: readonly string[]): string {
  const rules = nodePorts
    .flatMap((p) => [
      `    iifname "${p}" oifname "${cpPort}" drop comment "podnet lab: partition ${p} from the control plane"`,
      `    iifname "${cpPort}" oifname "${p}" drop comment "podnet lab: partition ${p} from the control plane"`,
    ])
    .join('\n');
  return `table bridge ${FAULT_TABLE} {}\nflush table bridge ${FAULT_TABLE}\ntable bridge ${FAULT_TABLE} {\n  chain forward {\n    type filter hook forward priority 0; policy accept;\n${rules}${rules ? '\n' : ''}  }\n}\n`;
}
