import { intToIp, ipToInt, parseCidr as subnetOfCidr } from '../../../lib/ipv4.ts';

/** The driver validates what it is given: an error names the field that carried the address. */
export function parseIpv4(field: string, value: string): number {
  const address = ipToInt(value);
  if (address === undefined) throw new Error(`${field}: "${value}" is not an IPv4 address (a.b.c.d)`);
  return address;
}

export interface Ipv4Cidr {
  network: string;
  prefix: number;
  netmask: string;
  /** Whether `address` is a host address of the CIDR (neither its network nor its broadcast address). */
  contains(address: string): boolean;
}

/** lib/ipv4's parseCidr, stricter: a guest CIDR of /8 to /30 with no host bits set. */
export function parseCidr(field: string, value: string): Ipv4Cidr {
  const net = value.includes('/') ? subnetOfCidr(value) : undefined;
  if (!net || net.prefix < 8 || net.prefix > 30) {
    throw new Error(`${field}: "${value}" must be an IPv4 CIDR with a prefix between /8 and /30, e.g. 10.1.1.0/24`);
  }
  if (net.cidr !== value) throw new Error(`${field}: "${value}" has host bits set; use ${net.cidr}`);
  return {
    network: intToIp(net.network),
    prefix: net.prefix,
    netmask: intToIp(2 ** 32 - 2 ** (32 - net.prefix)),
    contains: (address) => {
      const a = parseIpv4(field, address);
      return a > net.network && a < net.broadcast;
    },
  };
}
