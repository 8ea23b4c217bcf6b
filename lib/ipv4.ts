/**
 * IPv4 addresses as numbers, and the address plan every guest network shares. Admission, the
 * capacity rollups, the API and the agent all read addresses; they read them here, so a
 * subnet, a range and the reserved addresses mean the same thing at every door.
 */
import { NETMASKS } from '../crds/common.ts';

/** The dotted address as a number, or undefined when it is not four octets 0-255. */
export function ipToInt(ip: string): number | undefined {
  const parts = ip.split('.');
  if (parts.length !== 4 || !parts.every((p) => /^\d{1,3}$/.test(p) && Number(p) <= 255)) return undefined;
  return parts.reduce((n, p) => n * 256 + Number(p), 0);
}

export function intToIp(n: number): string {
  return [24, 16, 8, 0].map((shift) => Math.floor(n / 2 ** shift) % 256).join('.');
}

export interface Subnet {
  network: number;
  broadcast: number;
  prefix: number;
  /** `10.1.1.0/24` */
  cidr: string;
}

function subnet(address: number, prefix: number): Subnet {
  const size = 2 ** (32 - prefix);
  const network = Math.floor(address / size) * size;
  return { network, broadcast: network + size - 1, prefix, cidr: `${intToIp(network)}/${prefix}` };
}

/** The subnet of `ip` under a dotted netmask, or undefined when either is malformed. */
export function subnetOf(ip: string, netmask: string): Subnet | undefined {
  const address = ipToInt(ip);
  const prefix = NETMASKS.indexOf(netmask);
  return address === undefined || prefix < 0 ? undefined : subnet(address, prefix);
}

/** `10.1.1.0/24` (host bits are masked off), or undefined when malformed. */
export function parseCidr(cidr: string): Subnet | undefined {
  const [ip = '', bits = ''] = cidr.split('/');
  const address = ipToInt(ip);
  const prefix = /^\d{1,2}$/.test(bits) ? Number(bits) : NaN;
  return address === undefined || !(prefix >= 0 && prefix <= 32) ? undefined : subnet(address, prefix);
}

/**
 * The address of a guest network's DHCP and DNS service: the same on every host, because each
 * host answers its own VMs on it (nftables keeps it off the uplink). It is the last host
 * address of the CIDR, or the one before when the gateway took that, so no VM, gateway or
 * IPAddress may hold it. Undefined when the CIDR is malformed or too small to spare one.
 */
export function guestServiceAddress(cidr: string, gateway: string | undefined): string | undefined {
  const net = parseCidr(cidr);
  if (!net || net.prefix > 30) return undefined;
  const last = net.broadcast - 1;
  return intToIp(gateway !== undefined && ipToInt(gateway) === last ? last - 1 : last);
}

/** What a guest network's addressing is read from: status (what the operator settled) over spec. */
export interface GuestNetworkAddressing {
  spec: { cidr?: string; gateway?: string };
  status?: { cidr?: string; gateway?: string };
}

/**
 * A guest network's effective CIDR, gateway and DHCP/DNS service address, read the same way by
 * admission (which reserves the service address) and the agent (which serves from it).
 * Undefined for a network without addressing (L2).
 */
export function guestAddressing(network: GuestNetworkAddressing): { cidr: string; gateway?: string; serviceAddress?: string } | undefined {
  const cidr = network.status?.cidr ?? network.spec.cidr;
  if (cidr === undefined) return undefined;
  const gateway = network.status?.gateway ?? network.spec.gateway;
  const serviceAddress = guestServiceAddress(cidr, gateway);
  return { cidr, ...(gateway !== undefined ? { gateway } : {}), ...(serviceAddress !== undefined ? { serviceAddress } : {}) };
}
