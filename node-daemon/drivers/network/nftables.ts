/**
 * Bridge-family filtering that keeps DHCP, and the DHCP/DNS service address, on the host:
 * every host runs its own server with the same address on each guest network, so its
 * DHCP packets and its ARP must never cross the uplink port (VLAN or VXLAN device).
 */

export const nftTable = 'kumulus';

export interface FilteredBridge {
  bridge: string;
  /** The bridge port towards other hosts. */
  uplinkPort: string;
  serviceAddress?: string;
}

interface Rule {
  chain: 'forward' | 'input' | 'output';
  match: string;
  comment: string;
}

function rulesFor(b: FilteredBridge): Rule[] {
  const id = (what: string): string => `${b.bridge}:${b.uplinkPort}:${what}${b.serviceAddress !== undefined ? `:${b.serviceAddress}` : ''}`;
  const dhcp = 'udp dport { 67, 68 }';
  const rules: Rule[] = [
    { chain: 'forward', match: `oifname "${b.uplinkPort}" ${dhcp}`, comment: id('dhcp-out') },
    { chain: 'forward', match: `iifname "${b.uplinkPort}" ${dhcp}`, comment: id('dhcp-in') },
    { chain: 'input', match: `iifname "${b.uplinkPort}" ${dhcp}`, comment: id('dhcp-to-host') },
    { chain: 'output', match: `oifname "${b.uplinkPort}" ${dhcp}`, comment: id('dhcp-from-host') },
  ];
  if (b.serviceAddress !== undefined) {
    rules.push(
      { chain: 'input', match: `iifname "${b.uplinkPort}" arp daddr ip ${b.serviceAddress}`, comment: id('arp-in') },
      { chain: 'input', match: `iifname "${b.uplinkPort}" ip daddr ${b.serviceAddress}`, comment: id('ip-in') },
      { chain: 'output', match: `oifname "${b.uplinkPort}" arp saddr ip ${b.serviceAddress}`, comment: id('arp-out') },
      { chain: 'output', match: `oifname "${b.uplinkPort}" ip saddr ${b.serviceAddress}`, comment: id('ip-out') },
    );
  }
  return rules;
}

/** The comments of the desired rules in table order: their identity when diffing. */
export function desiredRuleComments(bridges: FilteredBridge[]): string[] {
  const rules = bridges.flatMap(rulesFor);
  return (['forward', 'input', 'output'] as const).flatMap((chain) => rules.filter((r) => r.chain === chain).map((r) => r.comment));
}

/**
 * An `nft -f` script that replaces the table atomically (declare, delete, recreate in one
 * transaction), or only deletes it when no bridge needs filtering.
 */
export function renderNftScript(bridges: FilteredBridge[]): string {
  const lines = [`table bridge ${nftTable}`, `delete table bridge ${nftTable}`];
  if (bridges.length === 0) return `${lines.join('\n')}\n`;
  const rules = bridges.flatMap(rulesFor);
  lines.push(`table bridge ${nftTable} {`);
  for (const chain of ['forward', 'input', 'output'] as const) {
    lines.push(`  chain ${chain} {`, `    type filter hook ${chain} priority 0; policy accept;`);
    for (const r of rules.filter((rule) => rule.chain === chain)) lines.push(`    ${r.match} drop comment "${r.comment}"`);
    lines.push('  }');
  }
  lines.push('}');
  return `${lines.join('\n')}\n`;
}

interface NftJson {
  nftables?: { rule?: { chain: string; comment?: string } }[];
}

/** Rule comments of the table as `nft -j list table` shows it, in table order. */
export function observedRuleComments(json: string): string[] {
  const parsed = JSON.parse(json) as NftJson;
  const rules = (parsed.nftables ?? []).flatMap((item) => (item.rule ? [item.rule] : []));
  return (['forward', 'input', 'output'] as const).flatMap((chain) =>
    rules.filter((r) => r.chain === chain).map((r) => r.comment ?? '(uncommented rule)'),
  );
}
