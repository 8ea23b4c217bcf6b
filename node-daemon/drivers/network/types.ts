/**
 * The network driver's contract with the agent's Network reconciler: the reconciler passes
 * every guest network this host should carry, and the driver makes the links, filtering
 * rules and DHCP servers match that set, removing what is no longer wanted.
 */

export type Segment =
  /** 802.1Q: a sub-interface of the uplink the physical network's traffic label names. */
  | { type: 'vlan'; vlan: number; uplink: string }
  /**
   * VXLAN (UDP 4789, learning off): broadcast and unknown traffic is replicated to every
   * remote VTEP, i.e. the other hosts that carry this VNI (derived from VM placements).
   */
  | { type: 'vxlan'; vni: number; localVtep: string; remoteVteps: string[]; underlay?: string };

export interface DhcpHost {
  mac: string;
  ip: string;
  hostname: string;
}

export interface DhcpSpec {
  /** The guest CIDR, e.g. 10.1.1.0/24. */
  cidr: string;
  /**
   * The address every host's DHCP/DNS server uses on this network (the same on all hosts,
   * reserved by IPAM). It never crosses the uplink: ARP for it is answered only locally.
   */
  serviceAddress: string;
  gateway?: string;
  dnsServers?: string[];
  domain?: string;
  leaseSeconds?: number;
  /** Only this host's VMs: a host never answers for a VM placed elsewhere. */
  hosts: DhcpHost[];
}

export interface GuestNetworkSpec {
  uid: string;
  segment: Segment;
  /** Kept on the host even when no local VM uses it. */
  persistent?: boolean;
  /** Local VMs use it; an unused, non-persistent network is removed. */
  inUse: boolean;
  dhcp?: DhcpSpec;
}

export interface NetworkStep {
  /** What and why, for logs and plan-level tests. */
  description: string;
  argv: string[];
}

export interface DnsmasqChange {
  bridge: string;
  action: 'start' | 'restart' | 'reload' | 'stop';
}

export interface NetworkPlan {
  steps: NetworkStep[];
  /** The bridge-family nftables table to load, or undefined when the current one is right. */
  nftables?: string;
  dnsmasq: DnsmasqChange[];
  /**
   * Networks whose spec this host cannot build (by uid, with why, naming the field): left as
   * they are, while the others are planned.
   */
  rejected: Map<string, string>;
}

export interface NetworkDriver {
  /** The bridges, interfaces and rules the driver sees (and may own) on this host. */
  observe(): Promise<ObservedNetworking>;
  /** What apply would do, without doing it. */
  plan(desired: GuestNetworkSpec[]): Promise<NetworkPlan>;
  /** Makes the host match the desired set. Idempotent: a second call returns an empty plan. */
  apply(desired: GuestNetworkSpec[]): Promise<NetworkPlan>;
}

// What observe.ts reads back from the host, and plan.ts compares with the specs.

export interface ObservedLink {
  name: string;
  kind?: string;
  mtu: number;
  up: boolean;
  master?: string;
  /** For VLAN devices and veths: the parent or peer. */
  link?: string;
  /** IPv4 addresses. */
  addresses: { ip: string; prefix: number }[];
  /** Whether it has any IPv6 address (a link-local one is made unless addrgenmode is none). */
  ipv6: boolean;
  vxlan?: { id: number; local?: string; port?: number; learning?: boolean };
  vlan?: { id: number };
}

export interface ObservedDnsmasq {
  pid?: number;
  /** The inode of the running process's network namespace. */
  netns?: number;
  conf?: string;
  dhcpHosts?: string;
  dnsHosts?: string;
}

/** A network's service namespace: its inode (what a process in it shows) and its end of the service veth. */
export interface ObservedServiceNamespace {
  inode?: number;
  port?: ObservedLink;
  /** Why it cannot be entered, when it cannot. */
  broken?: string;
}

export interface ObservedNetworking {
  links: Map<string, ObservedLink>;
  /** Remote VTEPs per VXLAN device (the all-zeros FDB entries that flood BUM traffic). */
  floodTargets: Map<string, string[]>;
  /** Rule comments of the agent's nftables tables; undefined when it has none. */
  nftComments?: string[];
  /** Per Kumulus bridge. */
  dnsmasq: Map<string, ObservedDnsmasq>;
  /** The agent's service namespaces (those named with its prefix), by name. */
  serviceNamespaces: Map<string, ObservedServiceNamespace>;
}
