import {
  Account,
  Cluster,
  DiskOffering,
  Domain,
  Host,
  IPRange,
  Network,
  NetworkOffering,
  PhysicalNetwork,
  Pod,
  PrimaryStorage,
  SecondaryStorage,
  ServiceOffering,
  VirtualMachine,
  VlanAllocation,
  Zone,
  type ClusterObject,
  type DiskOfferingObject,
  type HostObject,
  type IPRangeObject,
  type NetworkObject,
  type NetworkOfferingObject,
  type PhysicalNetworkObject,
  type PodObject,
  type PrimaryStorageObject,
  type SecondaryStorageObject,
  type ServiceOfferingObject,
  type VlanAllocationObject,
  type ZoneObject,
  type AccountObject,
  type KindInfo,
} from '../../crds/index.ts';
import type { KubeObject } from '../../lib/kube-client.ts';
import type { FieldError, KindAdmission } from '../admission.ts';
import type { Lookup } from '../lookup.ts';
import { ipToInt, subnetOf } from '../../lib/ipv4.ts';
import {
  defaultDisplayName,
  defaultDisplayText,
  kindAdmission,
  overlaps,
  refChanged,
  resolveNew,
  resolveRef,
  showInterval,
  subnetRangeErrors,
  whenChanged,
  type Admitted,
  type IpInterval,
  type NameRef,
  type RuleContext,
} from './rules.ts';

/**
 * Admission of infra.kumulus.io: the zone → pod → cluster → host hierarchy, storage, physical
 * networks, IP ranges and offerings. The rules are CloudStack's (see shared/reference): a
 * parent exists and is not being deleted, addresses are unique where CloudStack wants them
 * unique, a zone's network type is fixed for its life, a cluster holds at most maxHosts hosts.
 */

export type ZoneAdmitted = Admitted<ZoneObject>;
export type PodAdmitted = Admitted<PodObject>;
export type ClusterAdmitted = Admitted<ClusterObject>;
export type HostAdmitted = Admitted<HostObject>;
export type PhysicalNetworkAdmitted = Admitted<PhysicalNetworkObject>;
export type IPRangeAdmitted = Admitted<IPRangeObject>;

/** CloudStack's guest CIDR for an Advanced zone created without one. */
export const DEFAULT_GUEST_CIDR = '10.1.1.0/24';

const nameOf = (obj: KubeObject) => obj.metadata.name ?? '';
const others = <T extends KubeObject>(list: T[], self: KubeObject) => list.filter((o) => nameOf(o) !== nameOf(self));

async function dedicationErrors(lookup: Lookup, dedication: { domainRef: NameRef; accountRef?: NameRef } | undefined, check: boolean): Promise<FieldError[]> {
  if (!dedication || !check) return [];
  const domain = await resolveRef(lookup, Domain, 'spec.dedication.domainRef.name', dedication.domainRef);
  const account = await resolveRef<Admitted<AccountObject>>(lookup, Account, 'spec.dedication.accountRef.name', dedication.accountRef);
  const errors = [...domain.errors, ...account.errors];
  if (account.parent && account.parent.spec.domainRef.name !== dedication.domainRef.name) {
    errors.push({
      field: 'spec.dedication.accountRef.name',
      message: `account ${account.parent.metadata.name} belongs to domain ${account.parent.spec.domainRef.name}, not ${dedication.domainRef.name}; name an account of that domain or fix spec.dedication.domainRef`,
    });
  }
  return errors;
}

type Dedicated = KubeObject & { spec: { dedication?: { domainRef: NameRef; accountRef?: NameRef } } };
const dedicationChanged = <T extends Dedicated>(ctx: RuleContext<T>) => refChanged(ctx, (o) => o.spec.dedication);

// Zone ------------------------------------------------------------------------------------

export function zoneAdmission(lookup: Lookup): KindAdmission<ZoneAdmitted> {
  return kindAdmission<ZoneAdmitted>(Zone, lookup, {
    defaults(zone) {
      defaultDisplayName(zone);
      if (zone.spec.networkType !== 'Basic') zone.spec.guestCidr ??= DEFAULT_GUEST_CIDR;
      // Basic zones isolate guests by security groups only: there is no other choice to make.
      if (zone.spec.networkType === 'Basic') zone.spec.securityGroupsEnabled = true;
    },
    rules: [
      ({ object, oldObject }) => {
        if (!oldObject) return [];
        const errors: FieldError[] = [];
        if ((object.spec.networkType ?? 'Advanced') !== (oldObject.spec.networkType ?? 'Advanced')) {
          errors.push({
            field: 'spec.networkType',
            message: `is fixed for the zone's lifetime (was ${oldObject.spec.networkType ?? 'Advanced'}, now ${object.spec.networkType ?? 'Advanced'}); set it back, or create a new zone with the other network type`,
          });
        }
        if (Boolean(object.spec.securityGroupsEnabled) !== Boolean(oldObject.spec.securityGroupsEnabled)) {
          errors.push({
            field: 'spec.securityGroupsEnabled',
            message: `can only be chosen when the zone is created (was ${Boolean(oldObject.spec.securityGroupsEnabled)}); set it back, or create a new zone`,
          });
        }
        return errors;
      },
      ({ object, oldObject, lookup }) => {
        if (!oldObject || object.spec.guestCidr === oldObject.spec.guestCidr) return [];
        const vms = lookup.referencing(VirtualMachine, 'zoneRef', nameOf(object));
        if (vms.length === 0) return [];
        const first = vms[0]!.metadata;
        return [
          {
            field: 'spec.guestCidr',
            message: `cannot change while the zone has instances (${vms.length}, e.g. ${first.namespace}/${first.name}); set it back to ${oldObject.spec.guestCidr ?? 'unset'}, or change it before deploying VMs`,
          },
        ];
      },
      (ctx) => dedicationErrors(ctx.lookup, ctx.object.spec.dedication, dedicationChanged(ctx)),
    ],
  });
}

// Pod -------------------------------------------------------------------------------------

const podRange = (pod: PodAdmitted): IpInterval | undefined => {
  const start = ipToInt(pod.spec.startIp);
  const end = ipToInt(pod.spec.endIp ?? pod.spec.startIp);
  return start === undefined || end === undefined || start > end ? undefined : { start, end };
};

const ipRangeInterval = (range: IPRangeAdmitted): IpInterval | undefined => {
  const start = ipToInt(range.spec.startIp);
  const end = ipToInt(range.spec.endIp);
  return start === undefined || end === undefined || start > end ? undefined : { start, end };
};

/** Every range the new addresses must stay clear of, with a phrase naming its owner. */
interface Claimed {
  interval: IpInterval;
  owner: string;
}

function podClaims(pods: PodAdmitted[]): Claimed[] {
  return pods.flatMap((p) => {
    const interval = podRange(p);
    return interval ? [{ interval, owner: `pod ${nameOf(p)}'s reserved system range ${showInterval(interval)}` }] : [];
  });
}

function rangeClaims(ranges: IPRangeAdmitted[]): Claimed[] {
  return ranges.flatMap((r) => {
    const interval = ipRangeInterval(r);
    return interval ? [{ interval, owner: `${r.spec.purpose} IP range ${nameOf(r)} (${showInterval(interval)}, zone ${r.spec.zoneRef.name})` }] : [];
  });
}

function overlapErrors(mine: IpInterval, claims: Claimed[]): FieldError[] {
  const hit = claims.find((c) => overlaps(mine, c.interval));
  if (!hit) return [];
  return [{ field: 'spec.startIp', message: `the range ${showInterval(mine)} (spec.startIp..spec.endIp) overlaps ${hit.owner}; choose addresses outside it` }];
}

const podAddresses = (pod: PodAdmitted) => [pod.spec.gateway, pod.spec.netmask, pod.spec.startIp, pod.spec.endIp];

export function podAdmission(lookup: Lookup): KindAdmission<PodAdmitted> {
  return kindAdmission<PodAdmitted>(Pod, lookup, {
    defaults(pod) {
      defaultDisplayName(pod);
      pod.spec.endIp ??= pod.spec.startIp;
    },
    rules: [
      async (ctx) => (await resolveRef(ctx.lookup, Zone, 'spec.zoneRef.name', ctx.object.spec.zoneRef, refChanged(ctx, (o) => o.spec.zoneRef))).errors,
      whenChanged(podAddresses, ({ object }) => subnetRangeErrors(object.spec)),
      whenChanged(podAddresses, ({ object, lookup }) => {
        const mine = subnetOf(object.spec.gateway, object.spec.netmask);
        if (!mine) return [];
        for (const pod of others(lookup.referencing<PodAdmitted>(Pod, 'zoneRef', object.spec.zoneRef.name), object)) {
          const theirs = subnetOf(pod.spec.gateway, pod.spec.netmask);
          if (theirs && overlaps({ start: mine.network, end: mine.broadcast }, { start: theirs.network, end: theirs.broadcast })) {
            return [
              {
                field: 'spec.netmask',
                message: `the pod subnet ${mine.cidr} (spec.gateway ${object.spec.gateway}, spec.netmask ${object.spec.netmask}) overlaps pod ${nameOf(pod)}'s subnet ${theirs.cidr} in zone ${object.spec.zoneRef.name}; give each pod of a zone its own subnet`,
              },
            ];
          }
        }
        return [];
      }),
      whenChanged(podAddresses, ({ object, lookup }) => {
        const mine = podRange(object);
        if (!mine) return [];
        // Reserved (management) addresses are unique across the whole cloud, not just the zone.
        const pods = others(lookup.list<PodAdmitted>(Pod), object);
        const ranges = lookup.list<IPRangeAdmitted>(IPRange).filter((r) => r.spec.zoneRef.name === object.spec.zoneRef.name || r.spec.purpose === 'Management');
        return overlapErrors(mine, [...podClaims(pods), ...rangeClaims(ranges)]);
      }),
    ],
  });
}

// Cluster ---------------------------------------------------------------------------------

export function clusterAdmission(lookup: Lookup): KindAdmission<ClusterAdmitted> {
  return kindAdmission<ClusterAdmitted>(Cluster, lookup, {
    defaults: defaultDisplayName,
    rules: [
      async (ctx) => (await resolveRef(ctx.lookup, Pod, 'spec.podRef.name', ctx.object.spec.podRef, refChanged(ctx, (o) => o.spec.podRef))).errors,
      whenChanged((c) => c.spec.maxHosts, ({ object, lookup }) => {
        const maxHosts = object.spec.maxHosts ?? 16;
        const hosts = lookup.referencing<HostAdmitted>(Host, 'clusterRef', nameOf(object));
        if (hosts.length <= maxHosts) return [];
        return [
          {
            field: 'spec.maxHosts',
            message: `${maxHosts} is below the ${hosts.length} hosts already in cluster ${nameOf(object)}; set it to at least ${hosts.length}, or move hosts out first`,
          },
        ];
      }),
    ],
  });
}

// Host ------------------------------------------------------------------------------------

/** The hypervisor the agent reported, read from its version string (libvirt/QEMU, or the simulator). */
export function reportedHypervisor(host: HostAdmitted): string | undefined {
  const version = host.status?.hypervisorVersion;
  if (!version) return undefined;
  if (/simulator/i.test(version)) return 'Simulator';
  if (/libvirt|qemu|kvm/i.test(version)) return 'KVM';
  return undefined;
}

export function hostAdmission(lookup: Lookup): KindAdmission<HostAdmitted> {
  return kindAdmission<HostAdmitted>(Host, lookup, {
    rules: [
      async (ctx) => {
        const { object, lookup } = ctx;
        if (!refChanged(ctx, (o) => o.spec.clusterRef)) return [];
        const { parent: cluster, errors } = await resolveRef<ClusterAdmitted>(lookup, Cluster, 'spec.clusterRef.name', object.spec.clusterRef);
        if (!cluster || errors.length) return errors;
        const clusterName = nameOf(cluster);
        const maxHosts = cluster.spec.maxHosts ?? 16;
        const members = others(lookup.referencing<HostAdmitted>(Host, 'clusterRef', clusterName), object);
        if (members.length >= maxHosts) {
          errors.push({
            field: 'spec.clusterRef.name',
            message: `cluster ${clusterName} already has ${members.length} host${members.length === 1 ? '' : 's'}, its spec.maxHosts; raise the cluster's maxHosts or add the host to another cluster`,
          });
        }
        // Only an agent that has reported tells which hypervisor the host runs (see reportedHypervisor).
        const wanted = cluster.spec.hypervisor ?? 'KVM';
        const has = reportedHypervisor(object);
        if (has && has !== wanted) {
          errors.push({
            field: 'spec.clusterRef.name',
            message: `cluster ${clusterName} runs ${wanted} but this host runs ${has}; a cluster holds one hypervisor type: add the host to a ${has} cluster`,
          });
        }
        const arch = object.status?.arch;
        if (arch && arch !== (cluster.spec.arch ?? 'x86_64')) {
          errors.push({
            field: 'spec.clusterRef.name',
            message: `cluster ${clusterName} is ${cluster.spec.arch ?? 'x86_64'} but this host is ${arch}; add the host to a ${arch} cluster`,
          });
        }
        return errors;
      },
      ({ object, operation, lookup }) => {
        if (operation !== 'CREATE') return [];
        const twin = others(lookup.list<HostAdmitted>(Host), object).find((h) => h.spec.nodeName === object.spec.nodeName);
        if (!twin) return [];
        return [
          {
            field: 'spec.nodeName',
            message: `node ${object.spec.nodeName} already has Host ${nameOf(twin)} (cluster ${twin.spec.clusterRef.name}); a node runs one agent, which adopts one Host: use that Host, or delete it first`,
          },
        ];
      },
    ],
  });
}

// PrimaryStorage --------------------------------------------------------------------------

type PrimaryStorageAdmitted = Admitted<PrimaryStorageObject>;

/** The zone a cluster is in, through its pod. */
async function zoneOfCluster(lookup: Lookup, cluster: ClusterAdmitted): Promise<string | undefined> {
  return (await lookup.get<PodAdmitted>(Pod, cluster.spec.podRef.name))?.spec.zoneRef.name;
}

function outsideZone(field: string, what: string, zone: string | undefined, wanted: string): FieldError[] {
  if (zone === undefined || zone === wanted) return [];
  return [{ field, message: `${what} is in zone ${zone}, not spec.zoneRef ${wanted}; name one of zone ${wanted}, or fix spec.zoneRef` }];
}

export function primaryStorageAdmission(lookup: Lookup): KindAdmission<PrimaryStorageAdmitted> {
  return kindAdmission<PrimaryStorageAdmitted>(PrimaryStorage, lookup, {
    defaults(pool) {
      defaultDisplayName(pool);
      // scope Cluster arrives from the schema default; Local storage is always one host's.
      if (pool.spec.protocol === 'Local' && pool.spec.scope === 'Cluster' && !pool.spec.clusterRef && pool.spec.hostRef) pool.spec.scope = 'Host';
      if (pool.spec.scope === 'Zone') pool.spec.hypervisor ??= 'KVM';
    },
    rules: [
      async (ctx) => {
        const { object, lookup } = ctx;
        const zone = object.spec.zoneRef.name;
        const errors = (await resolveRef(lookup, Zone, 'spec.zoneRef.name', object.spec.zoneRef, refChanged(ctx, (o) => o.spec.zoneRef))).errors;
        const cluster = await resolveNew<ClusterAdmitted, PrimaryStorageAdmitted>(ctx, Cluster, 'spec.clusterRef.name', (o) => o.spec.clusterRef);
        errors.push(...cluster.errors);
        if (cluster.parent) errors.push(...outsideZone('spec.clusterRef.name', `cluster ${nameOf(cluster.parent)}`, await zoneOfCluster(lookup, cluster.parent), zone));
        const host = await resolveNew<HostAdmitted, PrimaryStorageAdmitted>(ctx, Host, 'spec.hostRef.name', (o) => o.spec.hostRef);
        errors.push(...host.errors);
        if (host.parent) {
          const hostCluster = await lookup.get<ClusterAdmitted>(Cluster, host.parent.spec.clusterRef.name);
          if (hostCluster) errors.push(...outsideZone('spec.hostRef.name', `host ${nameOf(host.parent)}`, await zoneOfCluster(lookup, hostCluster), zone));
        }
        return errors;
      },
      whenChanged((p) => [p.spec.server, p.spec.path], ({ object, lookup }) => {
        if (object.spec.protocol !== 'NFS' && object.spec.protocol !== 'RBD') return [];
        const same = others(lookup.list<PrimaryStorageAdmitted>(PrimaryStorage), object).find(
          (p) => p.spec.protocol === object.spec.protocol && p.spec.server === object.spec.server && p.spec.path === object.spec.path,
        );
        if (!same) return [];
        return [
          {
            field: 'spec.path',
            message: `${object.spec.protocol} ${object.spec.server ?? ''}:${object.spec.path} is already primary storage ${nameOf(same)}; a pool is added once: use that pool or give another export`,
          },
        ];
      }),
    ],
  });
}

// SecondaryStorage ------------------------------------------------------------------------

type SecondaryStorageAdmitted = Admitted<SecondaryStorageObject>;

export function secondaryStorageAdmission(lookup: Lookup): KindAdmission<SecondaryStorageAdmitted> {
  return kindAdmission<SecondaryStorageAdmitted>(SecondaryStorage, lookup, {
    defaults(store) {
      defaultDisplayName(store);
      // provider NFS arrives from the schema default; a file:/// URL can only be Local.
      if (store.spec.provider === 'NFS' && store.spec.url.startsWith('file:///')) store.spec.provider = 'Local';
    },
    rules: [
      async (ctx) => (await resolveRef(ctx.lookup, Zone, 'spec.zoneRef.name', ctx.object.spec.zoneRef, refChanged(ctx, (o) => o.spec.zoneRef))).errors,
      whenChanged((store) => store.spec.url, ({ object, lookup }) => {
        // A Local store is a directory on one host: two single-host zones may well use the same path.
        if (object.spec.provider !== 'NFS') return [];
        const same = others(lookup.list<SecondaryStorageAdmitted>(SecondaryStorage), object).find((s) => s.spec.url === object.spec.url);
        if (!same) return [];
        return [{ field: 'spec.url', message: `${object.spec.url} is already image store ${nameOf(same)} (zone ${same.spec.zoneRef.name}); use that store or give another URL` }];
      }),
    ],
  });
}

// PhysicalNetwork -------------------------------------------------------------------------

/** Traffic types a zone carries on one physical network only; Guest may span several (by tags). */
const SINGLE_NETWORK_TRAFFIC = new Set(['Management', 'Public', 'Storage']);

function inRanges(id: number, ranges: { start: number; end: number }[] | undefined): boolean {
  return (ranges ?? []).some((r) => id >= r.start && id <= r.end);
}

export function physicalNetworkAdmission(lookup: Lookup): KindAdmission<PhysicalNetworkAdmitted> {
  return kindAdmission<PhysicalNetworkAdmitted>(PhysicalNetwork, lookup, {
    defaults: defaultDisplayName,
    rules: [
      whenChanged((p) => [p.spec.zoneRef, p.spec.trafficTypes], async ({ object, lookup }) => {
        const { parent: zone, errors } = await resolveRef<ZoneAdmitted>(lookup, Zone, 'spec.zoneRef.name', object.spec.zoneRef);
        const siblings = others(lookup.referencing<PhysicalNetworkAdmitted>(PhysicalNetwork, 'zoneRef', object.spec.zoneRef.name), object);
        if (zone?.spec.networkType === 'Basic' && siblings.length > 0) {
          errors.push({
            field: 'spec.zoneRef.name',
            message: `zone ${nameOf(zone)} is Basic and already has physical network ${nameOf(siblings[0]!)}; a Basic zone has exactly one: add the traffic types to it instead`,
          });
        }
        object.spec.trafficTypes.forEach((traffic, i) => {
          if (!SINGLE_NETWORK_TRAFFIC.has(traffic.type)) return;
          const holder = siblings.find((s) => s.spec.trafficTypes.some((t) => t.type === traffic.type));
          if (holder) {
            errors.push({
              field: `spec.trafficTypes[${i}].type`,
              message: `zone ${object.spec.zoneRef.name} already carries ${traffic.type} traffic on physical network ${nameOf(holder)}; a zone carries it on one physical network: remove it here or there`,
            });
          }
        });
        return errors;
      }),
      ({ object, oldObject, lookup }) => {
        if (!oldObject) return [];
        const allocations = lookup.referencing<Admitted<VlanAllocationObject>>(VlanAllocation, 'physicalNetworkRef', nameOf(object));
        const errors: FieldError[] = [];
        for (const a of allocations) {
          const [field, ranges] = a.spec.isolation === 'VLAN' ? (['spec.vlanRanges', object.spec.vlanRanges] as const) : (['spec.vniRanges', object.spec.vniRanges] as const);
          const wasIn = inRanges(a.spec.id, a.spec.isolation === 'VLAN' ? oldObject.spec.vlanRanges : oldObject.spec.vniRanges);
          if (wasIn && !inRanges(a.spec.id, ranges)) {
            const user = a.spec.networkRef ? ` to network ${a.spec.networkRef.namespace}/${a.spec.networkRef.name}` : '';
            errors.push({ field, message: `${a.spec.isolation} ${a.spec.id} is allocated${user} and would fall outside every range; keep it inside a range, or release it first` });
            break;
          }
        }
        return errors;
      },
    ],
  });
}

// IPRange ---------------------------------------------------------------------------------

/** The traffic type a range's purpose rides on. */
const TRAFFIC_OF_PURPOSE: Record<string, string> = { Public: 'Public', Guest: 'Guest', Management: 'Management', Storage: 'Storage' };

const rangeAddresses = (r: IPRangeAdmitted) => [r.spec.gateway, r.spec.netmask, r.spec.startIp, r.spec.endIp];

export function ipRangeAdmission(lookup: Lookup): KindAdmission<IPRangeAdmitted> {
  return kindAdmission<IPRangeAdmitted>(IPRange, lookup, {
    rules: [
      async (ctx) => {
        const { object, lookup } = ctx;
        const spec = object.spec;
        const zone = spec.zoneRef.name;
        const changed = (read: (s: IPRangeAdmitted['spec']) => NameRef | undefined) => refChanged(ctx, (o) => read(o.spec));
        const errors = (await resolveRef(lookup, Zone, 'spec.zoneRef.name', spec.zoneRef, changed((s) => s.zoneRef))).errors;

        const pod = await resolveNew<PodAdmitted, IPRangeAdmitted>(ctx, Pod, 'spec.podRef.name', (o) => o.spec.podRef);
        errors.push(...pod.errors);
        if (pod.parent) errors.push(...outsideZone('spec.podRef.name', `pod ${nameOf(pod.parent)}`, pod.parent.spec.zoneRef.name, zone));

        const network = await resolveNew<Admitted<NetworkObject>, IPRangeAdmitted>(ctx, Network, 'spec.networkRef.name', (o) => o.spec.networkRef);
        errors.push(...network.errors);
        if (network.parent) {
          const ref = `network ${spec.networkRef?.namespace}/${spec.networkRef?.name}`;
          errors.push(...outsideZone('spec.networkRef.name', ref, network.parent.spec.zoneRef.name, zone));
          const offering = await lookup.get<Admitted<NetworkOfferingObject>>(NetworkOffering, network.parent.spec.networkOfferingRef.name);
          if (offering && offering.spec.guestIpType !== 'Shared') {
            errors.push({
              field: 'spec.networkRef.name',
              message: `${ref} is ${offering.spec.guestIpType} (offering ${nameOf(offering)}); Guest IP ranges serve Shared networks only: name a Shared network`,
            });
          }
        }

        const physical = await resolveNew<PhysicalNetworkAdmitted, IPRangeAdmitted>(ctx, PhysicalNetwork, 'spec.physicalNetworkRef.name', (o) => o.spec.physicalNetworkRef);
        errors.push(...physical.errors);
        if (physical.parent) {
          const pn = physical.parent;
          errors.push(...outsideZone('spec.physicalNetworkRef.name', `physical network ${nameOf(pn)}`, pn.spec.zoneRef.name, zone));
          const traffic = TRAFFIC_OF_PURPOSE[spec.purpose]!;
          if (!pn.spec.trafficTypes.some((t) => t.type === traffic)) {
            errors.push({
              field: 'spec.physicalNetworkRef.name',
              message: `physical network ${nameOf(pn)} carries no ${traffic} traffic (it carries ${pn.spec.trafficTypes.map((t) => t.type).join(', ')}); name the one carrying ${traffic}, or add ${traffic} to its spec.trafficTypes`,
            });
          }
          if (spec.vlan !== undefined && inRanges(spec.vlan, pn.spec.vlanRanges)) {
            const range = pn.spec.vlanRanges!.find((r) => spec.vlan! >= r.start && spec.vlan! <= r.end)!;
            errors.push({
              field: 'spec.vlan',
              message: `VLAN ${spec.vlan} is in physical network ${nameOf(pn)}'s guest VLAN range ${range.start}-${range.end}, which guest networks draw from; pick a VLAN outside the guest ranges`,
            });
          }
        }
        errors.push(...(await dedicationErrors(lookup, spec.dedication, dedicationChanged(ctx))));
        return errors;
      },
      whenChanged(rangeAddresses, ({ object }) => subnetRangeErrors(object.spec)),
      whenChanged((r) => [rangeAddresses(r), r.spec.zoneRef, r.spec.purpose], ({ object, lookup }) => {
        const mine = ipRangeInterval(object);
        if (!mine) return [];
        const spec = object.spec;
        const ranges = others(lookup.list<IPRangeAdmitted>(IPRange), object).filter(
          // Within a zone no two ranges share an address; public and management addresses are unique cloud-wide.
          (r) => r.spec.zoneRef.name === spec.zoneRef.name || (r.spec.purpose === spec.purpose && (spec.purpose === 'Public' || spec.purpose === 'Management')),
        );
        const pods = lookup.list<PodAdmitted>(Pod).filter((p) => p.spec.zoneRef.name === spec.zoneRef.name || spec.purpose === 'Management');
        return overlapErrors(mine, [...rangeClaims(ranges), ...podClaims(pods)]);
      }),
      whenChanged((r) => [rangeAddresses(r), r.spec.vlan, r.spec.physicalNetworkRef], ({ object, lookup }) => {
        const spec = object.spec;
        if (spec.vlan === undefined) return [];
        const mine = subnetOf(spec.gateway, spec.netmask);
        const other = others(lookup.referencing<IPRangeAdmitted>(IPRange, 'zoneRef', spec.zoneRef.name), object).find(
          (r) => r.spec.vlan === spec.vlan && (r.spec.physicalNetworkRef?.name ?? '') === (spec.physicalNetworkRef?.name ?? '') && (r.spec.gateway !== spec.gateway || r.spec.netmask !== spec.netmask),
        );
        if (!other || !mine) return [];
        return [
          {
            field: 'spec.vlan',
            message: `VLAN ${spec.vlan} already carries subnet ${subnetOf(other.spec.gateway, other.spec.netmask)?.cidr} (gateway ${other.spec.gateway}, range ${nameOf(other)}), not ${mine.cidr}; one VLAN holds one subnet: use gateway ${other.spec.gateway} and netmask ${other.spec.netmask}, or another VLAN`,
          },
        ];
      }),
    ],
  });
}

// Offerings -------------------------------------------------------------------------------

type OfferingScope = { domainRefs?: NameRef[]; zoneRefs?: NameRef[] };

/** The domains and zones an offering is limited to must exist when it names them: at its creation, or when an update adds them (its scope may change). */
async function scopeErrors(lookup: Lookup, spec: OfferingScope, old?: OfferingScope): Promise<FieldError[]> {
  const errors: FieldError[] = [];
  for (const [field, kind] of [['domainRefs', Domain], ['zoneRefs', Zone]] as const) {
    const kept = new Set((old?.[field] ?? []).map((ref) => ref.name));
    for (const [i, ref] of (spec[field] ?? []).entries()) {
      if (!kept.has(ref.name)) errors.push(...(await resolveRef(lookup, kind, `spec.${field}[${i}].name`, ref)).errors);
    }
  }
  return errors;
}

function offeringAdmission<T extends KubeObject & { spec: { displayName?: string; displayText?: string; domainRefs?: NameRef[]; zoneRefs?: NameRef[] } }>(
  kind: KindInfo,
  lookup: Lookup,
  extraDefaults?: (object: T) => void,
  extraRules: ((ctx: RuleContext<T>) => Promise<FieldError[]>)[] = [],
): KindAdmission<T> {
  return kindAdmission<T>(kind, lookup, {
    defaults(offering) {
      defaultDisplayText(offering);
      extraDefaults?.(offering);
    },
    rules: [({ object, oldObject, operation, lookup }) => scopeErrors(lookup, object.spec, operation === 'CREATE' ? undefined : oldObject?.spec), ...extraRules],
  });
}

export function serviceOfferingAdmission(lookup: Lookup): KindAdmission<Admitted<ServiceOfferingObject>> {
  return offeringAdmission<Admitted<ServiceOfferingObject>>(ServiceOffering, lookup, undefined, [
    async ({ object, operation, lookup }) =>
      operation === 'CREATE' ? (await resolveRef(lookup, DiskOffering, 'spec.diskOfferingRef.name', object.spec.diskOfferingRef)).errors : [],
  ]);
}

export function diskOfferingAdmission(lookup: Lookup): KindAdmission<Admitted<DiskOfferingObject>> {
  return offeringAdmission<Admitted<DiskOfferingObject>>(DiskOffering, lookup);
}

export function networkOfferingAdmission(lookup: Lookup): KindAdmission<Admitted<NetworkOfferingObject>> {
  return offeringAdmission<Admitted<NetworkOfferingObject>>(NetworkOffering, lookup, (offering) => {
    // specifyIpRanges false arrives from the schema default; a Shared offering always takes explicit ranges.
    if (offering.spec.guestIpType === 'Shared') offering.spec.specifyIpRanges = true;
  });
}

export const infraAdmissions = (lookup: Lookup): KindAdmission[] =>
  [
    zoneAdmission(lookup),
    podAdmission(lookup),
    clusterAdmission(lookup),
    hostAdmission(lookup),
    primaryStorageAdmission(lookup),
    secondaryStorageAdmission(lookup),
    physicalNetworkAdmission(lookup),
    ipRangeAdmission(lookup),
    serviceOfferingAdmission(lookup),
    diskOfferingAdmission(lookup),
    networkOfferingAdmission(lookup),
  ] as unknown as KindAdmission[];
