import { join } from 'node:path';
import { parseCidr } from './ipv4.ts';
import { servicePeerName } from './names.ts';
import type { DhcpSpec } from './types.ts';

export interface DnsmasqFiles {
  dir: string;
  conf: string;
  dhcpHosts: string;
  dnsHosts: string;
}

export function dnsmasqPaths(stateDir: string, bridge: string): { dir: string; conf: string; dhcpHosts: string; dnsHosts: string; pid: string; leases: string; log: string } {
  const dir = join(stateDir, bridge);
  return {
    dir,
    conf: join(dir, 'dnsmasq.conf'),
    dhcpHosts: join(dir, 'dhcp-hosts'),
    dnsHosts: join(dir, 'dns-hosts'),
    pid: join(dir, 'dnsmasq.pid'),
    leases: join(dir, 'leases'),
    log: join(dir, 'dnsmasq.log'),
  };
}

export function validateDhcp(field: string, dhcp: DhcpSpec): void {
  const cidr = parseCidr(`${field}.cidr`, dhcp.cidr);
  if (!cidr.contains(dhcp.serviceAddress)) {
    throw new Error(`${field}.serviceAddress: ${dhcp.serviceAddress} is not a host address of ${dhcp.cidr}`);
  }
  if (dhcp.gateway !== undefined && !cidr.contains(dhcp.gateway)) {
    throw new Error(`${field}.gateway: ${dhcp.gateway} is not a host address of ${dhcp.cidr}`);
  }
  dhcp.hosts.forEach((host, i) => {
    if (!/^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/.test(host.mac)) throw new Error(`${field}.hosts[${i}].mac: "${host.mac}" is not a lower-case MAC`);
    if (!cidr.contains(host.ip)) throw new Error(`${field}.hosts[${i}].ip: ${host.ip} is not a host address of ${dhcp.cidr}`);
    if (!/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/i.test(host.hostname)) {
      throw new Error(`${field}.hosts[${i}].hostname: "${host.hostname}" is not a DNS label`);
    }
  });
}

/**
 * The configuration of the one dnsmasq serving a guest network on this host, inside the
 * network's service namespace. It hands out static leases only (no dynamic range), so a MAC it
 * was not told about gets no answer: a host answers for its own VMs and nobody else's. Its
 * files stay in the agent's state directory, named after the bridge.
 */
export function renderDnsmasq(stateDir: string, bridge: string, dhcp: DhcpSpec, mtu: number): DnsmasqFiles {
  const paths = dnsmasqPaths(stateDir, bridge);
  const cidr = parseCidr('dhcp.cidr', dhcp.cidr);
  const lease = dhcp.leaseSeconds ?? 86_400;
  const conf = [
    '# Managed by the kumulus agent; rewritten on every change.',
    `interface=${servicePeerName}`,
    // Follows svc0 if it is replugged while dnsmasq runs.
    'bind-dynamic',
    'except-interface=lo',
    'no-hosts',
    `addn-hosts=${paths.dnsHosts}`,
    `dhcp-hostsfile=${paths.dhcpHosts}`,
    `dhcp-range=${cidr.network},static,${cidr.netmask},${lease}`,
    'dhcp-authoritative',
    // Without a gateway (an L2 network) dnsmasq would offer itself as the router: offer none.
    dhcp.gateway !== undefined ? `dhcp-option=option:router,${dhcp.gateway}` : 'dhcp-option=option:router',
    // This server answers the network's own names; the upstream servers come next, for the
    // rest: the service namespace has no way out to forward queries through.
    `dhcp-option=option:dns-server,${[dhcp.serviceAddress, ...(dhcp.dnsServers ?? [])].join(',')}`,
    `dhcp-option=option:mtu,${mtu}`,
    // The network's own domain is answered here and never forwarded upstream.
    ...(dhcp.domain !== undefined
      ? [`domain=${dhcp.domain}`, `local=/${dhcp.domain}/`, `dhcp-option=option:domain-name,${dhcp.domain}`]
      : []),
    'no-resolv',
    `dhcp-leasefile=${paths.leases}`,
    `pid-file=${paths.pid}`,
    `log-facility=${paths.log}`,
    'log-dhcp',
    // Leases and the pid file live in the agent's state directory, owned by root.
    'user=root',
    '',
  ].join('\n');
  const sorted = [...dhcp.hosts].sort((a, b) => a.mac.localeCompare(b.mac));
  const dhcpHosts = sorted.map((h) => `${h.mac},${h.ip},${h.hostname},${lease}\n`).join('');
  const dnsHosts = sorted
    .map((h) => `${h.ip} ${dhcp.domain !== undefined ? `${h.hostname}.${dhcp.domain} ` : ''}${h.hostname}\n`)
    .join('');
  return { dir: paths.dir, conf, dhcpHosts, dnsHosts };
}
