const ipPattern = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;

export function parseIpv4(field: string, value: string): number {
  const m = ipPattern.exec(value);
  const octets = m ? m.slice(1, 5).map(Number) : [];
  if (octets.length !== 4 || octets.some((o) => o > 255)) {
    throw new Error(`${field}: "${value}" is not an IPv4 address (a.b.c.d)`);
  }
  return octets.reduce((acc, o) => acc * 256 + o, 0);
}

export function formatIpv4(value: number): string {
  return [24, 16, 8, 0].map((shift) => Math.floor(value / 2 ** shift) % 256).join('.');
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
  if (network !== base) throw new Error(`${field}: "${value}" has host bits set; use ${formatIpv4(network)}/${prefix}`);
  return {
    network: formatIpv4(network),
    prefix,
    netmask: formatIpv4(2 ** 32 - size),
    contains: (address) => {
      const a = parseIpv4(field, address);
      return a > network && a < network + size - 1;
    },
  };
}
