/**
 * The agent's nftables rules, three tables named `kumulus`, replaced together:
 * - bridge: DHCP, and the DHCP/DNS service address, stay on the host. Every host runs its own
 *   server with the same address on each guest network (in the network's service namespace,
 *   a port of the bridge), so its DHCP packets and its ARP and IP traffic never cross the
 *   uplink port (VLAN or VXLAN device). This traffic is bridged: the forward hook sees it.
 * - inet and arp: the host's own stack is off every guest network. Nothing a Kumulus bridge
 *   would deliver to the host, or the host would send into one, passes, whatever addresses
 *   and ARP settings the host has. (The bridge family's ibrname match needs a module this
 *   kind of kernel may lack; the bridge device as the inet and arp interface needs none.)
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

function bridgeRules(b: FilteredBridge): Rule[] {
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

/** The same for every host: the bridge name patterns of names.ts. */
function hostRules(family: 'inet' | 'arp', direction: 'input' | 'output'): Rule[] {
  const field = direction === 'input' ? 'iifname' : 'oifname';
  return ['kbx', 'kbv'].map((prefix) => ({ match: `${field} "${prefix}*"`, comment: `host-${direction}:${family}:${prefix}` }));
}

const HOST_TABLES = [
  { family: 'inet', chains: ['input', 'output'] },
  { family: 'arp', chains: ['input', 'output'] },
] as const;

/** The comments of the desired rules in ruleset order: their identity when diffing. */
export function desiredRuleComments(bridges: FilteredBridge[]): string[] {
  if (bridges.length === 0) return [];
  return [
    ...bridges.flatMap(bridgeRules).map((r) => r.comment),
    ...HOST_TABLES.flatMap(({ family, chains }) => chains.flatMap((chain) => hostRules(family, chain).map((r) => r.comment))),
  ];
}

/**
 * An `nft -f` script that replaces the tables atomically (declare, delete, recreate in one
 * transaction), or only deletes them when no bridge needs filtering.
 */
export function renderNftScript(bridges: FilteredBridge[]): string {
  const families = ['bridge', ...HOST_TABLES.map((t) => t.family)];
  const lines = families.flatMap((family) => [`table ${family} ${nftTable}`, `delete table ${family} ${nftTable}`]);
  if (bridges.length > 0) {
    const chain = (name: string, rules: Rule[]) => [
      `  chain ${name} {`,
      `    type filter hook ${name} priority 0; policy accept;`,
      ...rules.map((r) => `    ${r.match} drop comment "${r.comment}"`),
      '  }',
    ];
    lines.push(`table bridge ${nftTable} {`, ...chain('forward', bridges.flatMap(bridgeRules)), '}');
    for (const { family, chains } of HOST_TABLES) {
      lines.push(`table ${family} ${nftTable} {`, ...chains.flatMap((c) => chain(c, hostRules(family, c))), '}');
    }
  }
  return `${lines.join('\n')}\n`;
}

interface NftJson {
  nftables?: { table?: { name: string }; rule?: { family: string; table: string; chain: string; comment?: string } }[];
}

/**
 * The comments of the agent's rules in `nft -j list ruleset` (tables named `kumulus` of any
 * family, in ruleset order), or undefined when it has no table at all.
 */
export function observedRuleComments(json: string): string[] | undefined {
  const parsed = JSON.parse(json) as NftJson;
  if (!(parsed.nftables ?? []).some((item) => item.table?.name === nftTable)) return undefined;
  return (parsed.nftables ?? []).flatMap((item) => (item.rule?.table === nftTable ? [item.rule.comment ?? `(uncommented rule in ${item.rule.family} ${item.rule.chain})`] : []));
}
