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
  spec: { cidr?: string; gateway?: string; startIp?: string; endIp?: string };
  status?: { cidr?: string; gateway?: string };
}

export interface GuestAddressing {
  cidr: string;
  gateway?: string;
  /** The DHCP and DNS service address (guestServiceAddress). */
  serviceAddress?: string;
  /** Of the CIDR, such as 255.255.255.0. */
  netmask?: string;
  /** The addresses guests may hold: spec.startIp-spec.endIp, by default every host address of the CIDR. */
  startIp?: string;
  endIp?: string;
}

/**
 * A guest network's effective CIDR, gateway, DHCP/DNS service address and guest range, read
 * the same way by admission (which reserves the service address), the operator (which hands
 * out addresses) and the agent (which serves from it). Undefined for a network without
 * addressing (L2).
 */
export function guestAddressing(network: GuestNetworkAddressing): GuestAddressing | undefined {
  const cidr = network.status?.cidr ?? network.spec.cidr;
  if (cidr === undefined) return undefined;
  const gateway = network.status?.gateway ?? network.spec.gateway;
  const serviceAddress = guestServiceAddress(cidr, gateway);
  const net = parseCidr(cidr);
  const hosts = net && net.prefix <= 30 ? { startIp: intToIp(net.network + 1), endIp: intToIp(net.broadcast - 1) } : {};
  return {
    cidr,
    ...(gateway !== undefined ? { gateway } : {}),
    ...(serviceAddress !== undefined ? { serviceAddress } : {}),
    ...(net ? { netmask: NETMASKS[net.prefix] } : {}),
    ...hosts,
    ...(network.spec.startIp !== undefined ? { startIp: network.spec.startIp } : {}),
    ...(network.spec.endIp !== undefined ? { endIp: network.spec.endIp } : {}),
  };
}

/** The guest range as numbers and the addresses in it no guest may hold (gateway, service address). */
export function guestPool(addressing: GuestAddressing): { first: number; last: number; reserved: Set<number> } | undefined {
  const first = addressing.startIp !== undefined ? ipToInt(addressing.startIp) : undefined;
  const last = addressing.endIp !== undefined ? ipToInt(addressing.endIp) : undefined;
  if (first === undefined || last === undefined || first > last) return undefined;
  const reserved = new Set([addressing.gateway, addressing.serviceAddress].flatMap((a) => (a !== undefined ? [ipToInt(a)] : [])).filter((n): n is number => n !== undefined));
  return { first, last, reserved };
}

/** How many guests the network can address: its range less the reserved addresses in it. */
export function guestPoolSize(addressing: GuestAddressing): number {
  const pool = guestPool(addressing);
  if (!pool) return 0;
  return pool.last - pool.first + 1 - [...pool.reserved].filter((a) => a >= pool.first && a <= pool.last).length;
}

/**
 * Why `ip` cannot be a guest's address on a network, as a sentence that says what to use
 * instead, or undefined when it can. `network` names the network in the sentence. Admission
 * and the operator both ask this, so both doors refuse the same addresses the same way.
 */
export function guestAddressProblem(addressing: GuestAddressing, ip: string, network: string): { reason: 'AddressOutsideRange' | 'AddressReserved'; message: string } | undefined {
  const address = ipToInt(ip);
  const net = parseCidr(addressing.cidr);
  const range = `${addressing.startIp}-${addressing.endIp}`;
  if (address === undefined || !net) return { reason: 'AddressOutsideRange', message: `${ip} is not an IPv4 address in network ${network}'s CIDR ${addressing.cidr}` };
  if (address <= net.network || address >= net.broadcast) {
    return { reason: 'AddressOutsideRange', message: `${ip} is not a guest address of network ${network} (${addressing.cidr}); use one in ${range}` };
  }
  const pool = guestPool(addressing);
  if (pool && (address < pool.first || address > pool.last)) {
    return { reason: 'AddressOutsideRange', message: `${ip} is outside network ${network}'s guest range ${range}; use one in it` };
  }
  if (ip === addressing.gateway) return { reason: 'AddressReserved', message: `${ip} is network ${network}'s gateway; use another address in ${range}` };
  if (ip === addressing.serviceAddress) {
    return { reason: 'AddressReserved', message: `${ip} is reserved for network ${network}'s DHCP and DNS service on every host; use another address in ${range}` };
  }
  return undefined;
}
