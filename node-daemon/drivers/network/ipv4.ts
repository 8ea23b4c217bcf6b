import { intToIp, ipToInt } from '../../../lib/ipv4.ts';

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
  contains(address: string): boolean;
}

export function parseCidr(field: string, value: string): Ipv4Cidr {
  const [ip, prefixText] = value.split('/');
  const prefix = Number(prefixText);
  if (ip === undefined || !Number.isInteger(prefix) || prefix < 8 || prefix > 30) {
    throw new Error(`${field}: "${value}" must be an IPv4 CIDR with a prefix between /8 and /30, e.g. 10.1.1.0/24`);
  }
  const size = 2 ** (32 - prefix);
  const base = parseIpv4(field, ip);
  const network = base - (base % size);
  if (network !== base) throw new Error(`${field}: "${value}" has host bits set; use ${intToIp(network)}/${prefix}`);
  return {
    network: intToIp(network),
    prefix,
    netmask: intToIp(2 ** 32 - size),
    contains: (address) => {
      const a = parseIpv4(field, address);
      return a > network && a < network + size - 1;
    },
  };
}
