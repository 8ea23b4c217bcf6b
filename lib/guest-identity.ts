import { createHash } from 'node:crypto';

/**
 * What guest networking names after uids, shared by the operator (which allocates), the
 * webhooks and the API (which check) and the agent (which renders): the MAC of a VM's NIC,
 * and the names of the allocation records whose creation is the lock (DESIGN.md,
 * "Allocation"). A uid, not a name, goes into each: a network deleted and created again
 * under the same name is another lock space, so a record left from the old one can never
 * block or be mistaken for the new one's.
 */

/**
 * The MAC of a VM's NIC on a network: locally administered, unicast, 46 bits of a hash of
 * both uids, so it is the same on every host and after every restart or migration, and the
 * guest's DHCP lease follows it.
 */
export function nicMac(vmUid: string, networkUid: string): string {
  const h = createHash('sha256').update(`${vmUid}/${networkUid}`).digest();
  const bytes = [((h[0] ?? 0) & 0xfc) | 0x02, ...h.subarray(1, 6)];
  return bytes.map((b) => b.toString(16).padStart(2, '0')).join(':');
}

/** The IPAddress holding `address` on the network with this uid: `<network uid>-10-1-1-10`. */
export function ipAddressName(networkUid: string, address: string): string {
  return `${networkUid}-${address.replaceAll('.', '-')}`;
}

/** The VlanAllocation holding a VLAN id or VNI of a physical network: `physnet1-vxlan-5001`. */
export function vlanAllocationName(physicalNetwork: string, isolation: 'VLAN' | 'VXLAN', id: number): string {
  return `${physicalNetwork}-${isolation.toLowerCase()}-${id}`;
}

/** On IPAddress and VlanAllocation: the uid of the guest network the record belongs to. */
export const LABEL_NETWORK_UID = 'network.kumulus.io/network-uid';
/** On IPAddress: the uid of the consumer (the VM) whose NIC holds the address. */
export const LABEL_CONSUMER_UID = 'network.kumulus.io/consumer-uid';

/** CloudStack's `broadcasturi` / `isolationuri` of a VLAN id or VNI: `vlan://100`, `vxlan://5001`. */
export function broadcastUri(isolation: 'VLAN' | 'VXLAN', id: number): string {
  return `${isolation.toLowerCase()}://${id}`;
}

/** The inverse of broadcastUri, or undefined for anything else. */
export function parseBroadcastUri(uri: string | undefined): { isolation: 'VLAN' | 'VXLAN'; id: number } | undefined {
  const match = /^(vxlan|vlan):\/\/(\d+)$/.exec(uri ?? '');
  if (!match?.[1] || !match[2]) return undefined;
  return { isolation: match[1] === 'vxlan' ? 'VXLAN' : 'VLAN', id: Number(match[2]) };
}
