/**
 * Bridge-family filtering that keeps DHCP, and the DHCP/DNS service address, on the host:
 * every host runs its own server with the same address on each guest network (in the
 * network's service namespace, a port of the bridge), so its DHCP packets and its ARP and IP
 * traffic must never cross the uplink port (VLAN or VXLAN device). All of it is bridged, so
 * the forward hook sees all of it.
 */

export const nftTable = 'kumulus';

export interface FilteredBridge {
  bridge: string;
  /** The bridge port towards other hosts. */
  uplinkPort: string;
  serviceAddress?: string;
}

interface Rule {
  match: string;
  comment: string;
}

function rulesFor(b: FilteredBridge): Rule[] {
  const id = (what: string): string => `${b.bridge}:${b.uplinkPort}:${what}${b.serviceAddress !== undefined ? `:${b.serviceAddress}` : ''}`;
  const dhcp = 'udp dport { 67, 68 }';
  const rules: Rule[] = [
    { match: `oifname "${b.uplinkPort}" ${dhcp}`, comment: id('dhcp-out') },
    { match: `iifname "${b.uplinkPort}" ${dhcp}`, comment: id('dhcp-in') },
  ];
  if (b.serviceAddress !== undefined) {
    rules.push(
      { match: `iifname "${b.uplinkPort}" arp daddr ip ${b.serviceAddress}`, comment: id('arp-in') },
      { match: `iifname "${b.uplinkPort}" ip daddr ${b.serviceAddress}`, comment: id('ip-in') },
      { match: `oifname "${b.uplinkPort}" arp saddr ip ${b.serviceAddress}`, comment: id('arp-out') },
      { match: `oifname "${b.uplinkPort}" ip saddr ${b.serviceAddress}`, comment: id('ip-out') },
    );
  }
  return rules;
}

/** The comments of the desired rules in table order: their identity when diffing. */
export function desiredRuleComments(bridges: FilteredBridge[]): string[] {
  return bridges.flatMap(rulesFor).map((r) => r.comment);
}

/**
 * An `nft -f` script that replaces the table atomically (declare, delete, recreate in one
 * transaction), or only deletes it when no bridge needs filtering.
 */
export function renderNftScript(bridges: FilteredBridge[]): string {
  const lines = [`table bridge ${nftTable}`, `delete table bridge ${nftTable}`];
  if (bridges.length === 0) return `${lines.join('\n')}\n`;
  lines.push(`table bridge ${nftTable} {`, '  chain forward {', '    type filter hook forward priority 0; policy accept;');
  for (const r of bridges.flatMap(rulesFor)) lines.push(`    ${r.match} drop comment "${r.comment}"`);
  lines.push('  }', '}');
  return `${lines.join('\n')}\n`;
}

interface NftJson {
  nftables?: { rule?: { chain: string; comment?: string } }[];
}

/** Rule comments of the table as `nft -j list table` shows it, in table order (any chain). */
export function observedRuleComments(json: string): string[] {
  const parsed = JSON.parse(json) as NftJson;
  return (parsed.nftables ?? []).flatMap((item) => (item.rule ? [item.rule.comment ?? `(uncommented rule in ${item.rule.chain})`] : []));
}
