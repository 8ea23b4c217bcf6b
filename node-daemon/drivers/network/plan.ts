import { renderDnsmasq, validateDhcp, type DnsmasqFiles } from './dnsmasq.ts';
import { parseCidr, parseIpv4 } from './ipv4.ts';
import {
  bridgeName,
  isKumulusLink,
  maxVlan,
  maxVni,
  serviceNamespaceName,
  servicePeerName,
  servicePortName,
  vlanDeviceName,
  vxlanDeviceName,
} from './names.ts';
import { desiredRuleComments, renderNftScript, type FilteredBridge } from './nftables.ts';
import type { DhcpSpec, DnsmasqChange, GuestNetworkSpec, NetworkPlan, NetworkStep, ObservedLink, ObservedNetworking, ObservedServiceNamespace } from './types.ts';
import { errorMessage } from '../../../lib/error-message.ts';

/** VXLAN over IPv4 adds 50 bytes: outer Ethernet 14, IPv4 20, UDP 8, VXLAN 8. */
export const vxlanOverhead = 50;
export const vxlanPort = 4789;

/** Where a network's DHCP/DNS service runs: a namespace plugged into the bridge by a veth. */
export interface PlannedService {
  namespace: string;
  /** The veth end on the bridge. */
  port: string;
  dnsmasq: DnsmasqFiles;
}

export interface PlannedNetwork {
  spec: GuestNetworkSpec;
  bridge: string;
  device: string;
  mtu: number;
  service?: PlannedService;
}

function step(description: string, ...argv: string[]): NetworkStep {
  return { description, argv };
}

function validate(spec: GuestNetworkSpec, i: number): void {
  const field = `networks[${i}]`;
  const s = spec.segment;
  if (s.type === 'vxlan') {
    if (!Number.isInteger(s.vni) || s.vni < 1 || s.vni > maxVni) throw new Error(`${field}.segment.vni: ${s.vni} must be 1-${maxVni}`);
    parseIpv4(`${field}.segment.localVtep`, s.localVtep);
    s.remoteVteps.forEach((v, j) => parseIpv4(`${field}.segment.remoteVteps[${j}]`, v));
  } else {
    if (!Number.isInteger(s.vlan) || s.vlan < 1 || s.vlan > maxVlan) throw new Error(`${field}.segment.vlan: ${s.vlan} must be 1-${maxVlan}`);
    if (!/^[A-Za-z0-9_.-]{1,15}$/.test(s.uplink)) throw new Error(`${field}.segment.uplink: "${s.uplink}" is not an interface name`);
  }
  if (spec.dhcp) validateDhcp(`${field}.dhcp`, spec.dhcp);
}

/** The underlay MTU a segment's device inherits, from the links found on this host. */
function segmentMtu(spec: GuestNetworkSpec, links: Map<string, ObservedLink>, i: number): number {
  const s = spec.segment;
  if (s.type === 'vlan') {
    const uplink = links.get(s.uplink);
    if (!uplink) throw new Error(`networks[${i}].segment.uplink: no interface "${s.uplink}" on this host; fix the physical network's traffic label`);
    return uplink.mtu;
  }
  const underlay =
    s.underlay !== undefined
      ? links.get(s.underlay)
      : [...links.values()].find((l) => l.addresses.some((a) => a.ip === s.localVtep));
  if (!underlay) {
    throw new Error(
      `networks[${i}].segment.localVtep: ${s.localVtep} is not an address of any interface on this host; configure the agent's VTEP address`,
    );
  }
  return underlay.mtu - vxlanOverhead;
}

/** The steps that make a network's service namespace, its veth and its address match. */
function serviceSteps(
  n: PlannedNetwork & { service: PlannedService },
  dhcp: DhcpSpec,
  links: Map<string, ObservedLink>,
  observed: ObservedServiceNamespace | undefined,
): NetworkStep[] {
  const { namespace, port } = n.service;
  const steps: NetworkStep[] = [];
  const inNamespace = (...argv: string[]) => ['ip', '-n', namespace, ...argv];
  if (observed?.broken !== undefined) {
    // A kill between iproute2 creating the name and mounting the namespace on it.
    steps.push(step(`remove namespace ${namespace}: it cannot be entered (${observed.broken})`, 'ip', 'netns', 'del', namespace));
  }
  if (!observed || observed.broken !== undefined) steps.push(step(`create namespace ${namespace} for the DHCP/DNS service of network ${n.spec.uid}`, 'ip', 'netns', 'add', namespace));
  let hostEnd = links.get(port);
  let peer = observed?.port;
  if (hostEnd && (hostEnd.kind !== 'veth' || !peer)) {
    steps.push(step(`replace ${port}: it is not the service veth into ${namespace}`, 'ip', 'link', 'del', port));
    hostEnd = undefined;
  }
  if (!hostEnd || !peer) {
    steps.push(step(`create the service veth ${port} ⇄ ${namespace}/${servicePeerName}`, 'ip', 'link', 'add', port, 'type', 'veth', 'peer', 'name', servicePeerName, 'netns', namespace));
    hostEnd = undefined;
    peer = undefined;
  }
  if (hostEnd?.mtu !== n.mtu) steps.push(step(`MTU ${n.mtu} on ${port}`, 'ip', 'link', 'set', port, 'mtu', String(n.mtu)));
  if (hostEnd?.master !== n.bridge) steps.push(step(`attach ${port} to ${n.bridge}`, 'ip', 'link', 'set', port, 'master', n.bridge));
  if (!hostEnd?.up) steps.push(step(`bring ${port} up`, 'ip', 'link', 'set', port, 'up'));
  if (peer?.mtu !== n.mtu) steps.push(step(`MTU ${n.mtu} on ${namespace}/${servicePeerName}`, ...inNamespace('link', 'set', servicePeerName, 'mtu', String(n.mtu))));
  if (!peer?.up) steps.push(step(`bring ${namespace}/${servicePeerName} up`, ...inNamespace('link', 'set', servicePeerName, 'up')));
  const { prefix } = parseCidr('dhcp.cidr', dhcp.cidr);
  const have = peer?.addresses ?? [];
  if (!have.some((a) => a.ip === dhcp.serviceAddress && a.prefix === prefix)) {
    steps.push(step(`DHCP/DNS service address ${dhcp.serviceAddress} in ${namespace}`, ...inNamespace('addr', 'add', `${dhcp.serviceAddress}/${prefix}`, 'dev', servicePeerName)));
  }
  for (const a of have.filter((a) => !(a.ip === dhcp.serviceAddress && a.prefix === prefix))) {
    steps.push(step(`remove stale address ${a.ip}/${a.prefix} in ${namespace}`, ...inNamespace('addr', 'del', `${a.ip}/${a.prefix}`, 'dev', servicePeerName)));
  }
  return steps;
}

/** The filtering of a bridge as its rules' comments record it (bridge:uplink:what[:service address]). */
function filteredFromComments(bridge: string, comments: readonly string[]): FilteredBridge | undefined {
  const parts = comments.find((c) => c.startsWith(`${bridge}:`))?.split(':');
  if (!parts?.[1]) return undefined;
  return { bridge, uplinkPort: parts[1], ...(parts[3] !== undefined ? { serviceAddress: parts[3] } : {}) };
}

/**
 * The difference between the guest networks this host should carry and what it has: the
 * commands to run, in order, the nftables table to load, and the dnsmasq changes. Pure, so the
 * same plan can be checked where the kernel lacks a feature (8021q) and applied where it has it.
 */
export function planNetworks(
  desired: GuestNetworkSpec[],
  observed: ObservedNetworking,
  options: { stateDir: string; serviceNamespacePrefix: string },
): NetworkPlan & { networks: PlannedNetwork[] } {
  const { links } = observed;
  const wanted: PlannedNetwork[] = [];
  const rejected = new Map<string, string>();
  // A rejected network keeps what it has (its VMs' taps stay on its bridge) until its spec is fixed.
  const untouched = new Set<string>();
  desired.forEach((spec, i) => {
    if (!spec.inUse && spec.persistent !== true) return;
    const bridge = bridgeName(spec.segment);
    const device = spec.segment.type === 'vxlan' ? vxlanDeviceName(spec.segment.vni) : vlanDeviceName(spec.segment.vlan, spec.segment.uplink);
    const port = servicePortName(spec.segment);
    const namespace = serviceNamespaceName(options.serviceNamespacePrefix, bridge);
    try {
      validate(spec, i);
      const mtu = segmentMtu(spec, links, i);
      const service = spec.dhcp ? { namespace, port, dnsmasq: renderDnsmasq(options.stateDir, bridge, spec.dhcp, mtu) } : undefined;
      wanted.push({ spec, bridge, device, mtu, ...(service ? { service } : {}) });
    } catch (err) {
      rejected.set(spec.uid, errorMessage(err));
      for (const name of [bridge, device, port, namespace]) untouched.add(name);
    }
  });
  const wantedNames = new Set(wanted.flatMap((n) => [n.bridge, n.device, ...(n.service ? [n.service.port] : [])]));
  const wantedNamespaces = new Set(wanted.flatMap((n) => (n.service ? [n.service.namespace] : [])));
  const steps: NetworkStep[] = [];

  for (const link of links.values()) {
    if (isKumulusLink(link.name) && !wantedNames.has(link.name) && !untouched.has(link.name)) {
      steps.push(step(`remove ${link.name}: no local VM uses its network and it is not persistent`, 'ip', 'link', 'del', link.name));
    }
  }
  for (const namespace of observed.serviceNamespaces.keys()) {
    if (!wantedNamespaces.has(namespace) && !untouched.has(namespace)) steps.push(step(`remove namespace ${namespace}: its network's service is not wanted here`, 'ip', 'netns', 'del', namespace));
  }

  for (const n of wanted) {
    const s = n.spec.segment;
    let bridge = links.get(n.bridge);
    if (bridge && bridge.kind !== 'bridge') {
      steps.push(step(`replace ${n.bridge}: it is a ${bridge.kind ?? 'plain'} link, not a bridge`, 'ip', 'link', 'del', n.bridge));
      bridge = undefined;
    }
    if (!bridge) {
      steps.push(step(`create bridge ${n.bridge} for network ${n.spec.uid}`, 'ip', 'link', 'add', n.bridge, 'type', 'bridge'));
      // No IPv6 link-local address either: the host's own stack stays off guest networks.
      steps.push(step(`no IPv6 address on ${n.bridge}`, 'ip', 'link', 'set', n.bridge, 'addrgenmode', 'none'));
    }

    let device = links.get(n.device);
    const deviceRight =
      s.type === 'vxlan'
        ? device?.kind === 'vxlan' &&
          device.vxlan?.id === s.vni &&
          device.vxlan.local === s.localVtep &&
          device.vxlan.port === vxlanPort &&
          device.vxlan.learning === false
        : device?.kind === 'vlan' && device.vlan?.id === s.vlan && device.link === s.uplink;
    if (device && !deviceRight) {
      steps.push(step(`replace ${n.device}: its parameters differ from the network's`, 'ip', 'link', 'del', n.device));
      device = undefined;
    }
    if (!device) {
      steps.push(
        s.type === 'vxlan'
          ? step(
              `create VXLAN ${n.device} (VNI ${s.vni}, local VTEP ${s.localVtep}, learning off)`,
              'ip', 'link', 'add', n.device, 'type', 'vxlan', 'id', String(s.vni), 'dstport', String(vxlanPort),
              'local', s.localVtep, 'nolearning', ...(s.underlay !== undefined ? ['dev', s.underlay] : []),
            )
          : step(`create VLAN ${n.device} (802.1Q id ${s.vlan} on ${s.uplink})`, 'ip', 'link', 'add', 'link', s.uplink, 'name', n.device, 'type', 'vlan', 'id', String(s.vlan)),
      );
    }
    if (device?.mtu !== n.mtu) steps.push(step(`MTU ${n.mtu} on ${n.device}`, 'ip', 'link', 'set', n.device, 'mtu', String(n.mtu)));
    if (device?.master !== n.bridge) steps.push(step(`attach ${n.device} to ${n.bridge}`, 'ip', 'link', 'set', n.device, 'master', n.bridge));
    if (!device?.up) steps.push(step(`bring ${n.device} up`, 'ip', 'link', 'set', n.device, 'up'));
    if (bridge?.mtu !== n.mtu) steps.push(step(`MTU ${n.mtu} on ${n.bridge}`, 'ip', 'link', 'set', n.bridge, 'mtu', String(n.mtu)));
    if (!bridge?.up) steps.push(step(`bring ${n.bridge} up`, 'ip', 'link', 'set', n.bridge, 'up'));

    if (s.type === 'vxlan') {
      const current = device ? (observed.floodTargets.get(n.device) ?? []) : [];
      for (const vtep of s.remoteVteps.filter((v) => !current.includes(v))) {
        steps.push(step(`flood BUM traffic of VNI ${s.vni} to VTEP ${vtep}`, 'bridge', 'fdb', 'append', '00:00:00:00:00:00', 'dev', n.device, 'dst', vtep));
      }
      for (const vtep of current.filter((v) => !s.remoteVteps.includes(v))) {
        steps.push(step(`stop flooding VNI ${s.vni} to VTEP ${vtep}: no VM there`, 'bridge', 'fdb', 'del', '00:00:00:00:00:00', 'dev', n.device, 'dst', vtep));
      }
    }

    // The host's own stack stays off guest networks: a bridge has no address.
    for (const a of bridge?.addresses ?? []) {
      steps.push(step(`remove address ${a.ip}/${a.prefix} from ${n.bridge}: guests must not reach the host`, 'ip', 'addr', 'del', `${a.ip}/${a.prefix}`, 'dev', n.bridge));
    }
    if (bridge?.ipv6) {
      steps.push(step(`no IPv6 address on ${n.bridge}`, 'ip', 'link', 'set', n.bridge, 'addrgenmode', 'none'));
      steps.push(step(`remove the IPv6 addresses of ${n.bridge}: guests must not reach the host`, 'ip', '-6', 'addr', 'flush', 'dev', n.bridge));
    }
    if (n.service && n.spec.dhcp) steps.push(...serviceSteps({ ...n, service: n.service }, n.spec.dhcp, links, observed.serviceNamespaces.get(n.service.namespace)));
  }

  const filtered: FilteredBridge[] = [
    ...wanted.map((n) => ({ bridge: n.bridge, uplinkPort: n.device, ...(n.spec.dhcp ? { serviceAddress: n.spec.dhcp.serviceAddress } : {}) })),
    // A rejected network keeps its rules too: its dnsmasq still runs.
    ...[...untouched].flatMap((name) => filteredFromComments(name, observed.nftComments ?? []) ?? []),
  ];
  const desiredComments = desiredRuleComments(filtered);
  const nftRight =
    observed.nftComments === undefined
      ? filtered.length === 0
      : observed.nftComments.length === desiredComments.length && observed.nftComments.every((c, i) => c === desiredComments[i]);

  const dnsmasq: DnsmasqChange[] = [];
  for (const n of wanted) {
    if (!n.service) continue;
    const files = n.service.dnsmasq;
    const current = observed.dnsmasq.get(n.bridge);
    // One left in a namespace that has since been replaced serves nothing.
    const namespace = observed.serviceNamespaces.get(n.service.namespace);
    const elsewhere = namespace?.inode === undefined || namespace.broken !== undefined || current?.netns !== namespace.inode;
    if (current?.pid === undefined) dnsmasq.push({ bridge: n.bridge, action: 'start' });
    else if (current.conf !== files.conf || elsewhere) dnsmasq.push({ bridge: n.bridge, action: 'restart' });
    else if (current.dhcpHosts !== files.dhcpHosts || current.dnsHosts !== files.dnsHosts) {
      dnsmasq.push({ bridge: n.bridge, action: 'reload' });
    }
  }
  const served = new Set(wanted.filter((n) => n.service).map((n) => n.bridge));
  for (const bridge of observed.dnsmasq.keys()) if (!served.has(bridge) && !untouched.has(bridge)) dnsmasq.push({ bridge, action: 'stop' });

  return { steps, ...(nftRight ? {} : { nftables: renderNftScript(filtered) }), dnsmasq, rejected, networks: wanted };
}
