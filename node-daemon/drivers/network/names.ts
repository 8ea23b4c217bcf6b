import { createHash } from 'node:crypto';

/**
 * Interface names of guest networks: the one place the scheme lives. Linux limits names to 15
 * characters, so they carry the segment id rather than a uid, and a restarted agent finds the
 * same devices by the same names.
 *
 *   kx<vni>            VXLAN device              kx16777215       (≤ 10)
 *   kbx<vni>           its bridge                kbx16777215      (≤ 11)
 *   kv<vlan>-<hhhh>    VLAN sub-interface        kv4094-1a2b      (≤ 11)
 *   kbv<vlan>-<hhhh>   its bridge                kbv4094-1a2b     (≤ 12)
 *   kdx<vni>           DHCP/DNS service port     kdx16777215      (≤ 11)
 *   kdv<vlan>-<hhhh>   (the same, VLAN network)  kdv4094-1a2b     (≤ 12)
 *
 * The service port is the bridge end of a veth whose other end, svc0, sits in the network's
 * service namespace, <prefix><bridge> (kumulus-dhcp-kbx5001): dnsmasq runs there with the
 * network's service address, so networks with overlapping CIDRs share a host, and guests reach
 * that namespace, never the host's own stack.
 *
 * <hhhh> is the first 16 bits of sha256(uplink name): one VLAN id may be used on two uplinks
 * (two physical networks) of one host, and the uplink's own name may be 15 characters long.
 * Every name starts with "k" followed by x, v, b or d: links the agent may delete as its own.
 */

export const maxVni = 16_777_215;
export const maxVlan = 4094;

function uplinkTag(uplink: string): string {
  return createHash('sha256').update(uplink).digest('hex').slice(0, 4);
}

export function vxlanDeviceName(vni: number): string {
  return `kx${vni}`;
}

export function vlanDeviceName(vlan: number, uplink: string): string {
  return `kv${vlan}-${uplinkTag(uplink)}`;
}

export function bridgeName(segment: { type: 'vxlan'; vni: number } | { type: 'vlan'; vlan: number; uplink: string }): string {
  return segment.type === 'vxlan' ? `kbx${segment.vni}` : `kbv${segment.vlan}-${uplinkTag(segment.uplink)}`;
}

export function servicePortName(segment: { type: 'vxlan'; vni: number } | { type: 'vlan'; vlan: number; uplink: string }): string {
  return segment.type === 'vxlan' ? `kdx${segment.vni}` : `kdv${segment.vlan}-${uplinkTag(segment.uplink)}`;
}

/** The service port's peer, inside the service namespace. */
export const servicePeerName = 'svc0';

export const defaultServiceNamespacePrefix = 'kumulus-dhcp-';

export function serviceNamespaceName(prefix: string, bridge: string): string {
  return `${prefix}${bridge}`;
}

/** True for the names above: links this agent created and may remove when unused. */
export function isKumulusLink(name: string): boolean {
  return /^(kx\d+|kbx\d+|kdx\d+|kv\d+-[0-9a-f]{4}|kbv\d+-[0-9a-f]{4}|kdv\d+-[0-9a-f]{4})$/.test(name);
}
