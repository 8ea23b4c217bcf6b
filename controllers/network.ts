/**
 * Network: a guest network in CloudStack's states, following its offering's guest type.
 *
 * - Isolated and L2 without spec.vlan: Allocated when created; Implementing, then
 *   Implemented, when a VM that wants to run is placed on it (or at once for a persistent
 *   offering): a VNI (or VLAN id) is claimed from the physical network's ranges by creating a
 *   VlanAllocation, whose creation is the lock. Idle (no VM wanting to run on it) for the
 *   global network.gc.wait, it is Shutdown: broadcastUri is cleared, then the id released.
 * - With spec.vlan (Shared networks, specifyVlan offerings): that id is claimed the same way
 *   and the network is Setup from creation.
 * - The effective CIDR, gateway and netmask (status) come from spec, or the zone's guest CIDR
 *   when spec has none (admission normally fills spec); L2 networks have none.
 * - A network with VMs cannot be deleted: the finalizer holds it and DeletionBlocked names
 *   the VMs. Once none is left it is Destroy: its VLAN or VNI and any address left on it are
 *   released, then the finalizer goes.
 * - spec.restartRequestedAt is mirrored in status.lastRestartAt once the network's records
 *   are re-asserted; agents re-apply a network whenever it changes.
 *
 * status.hosts belongs to the network-hosts controller (its own field manager).
 * Observe (from the caches) → plan (`planNetwork`, pure) → apply (claims, releases, status).
 */
import { VLAN_MAX } from '../crds/common.ts';
import {
  IPAddress,
  Network,
  VirtualMachine,
  VlanAllocation,
  type IPAddressObject,
  type NetworkObject,
  type NetworkOfferingObject,
  type PhysicalNetworkObject,
  type VirtualMachineObject,
  type VlanAllocationObject,
  type ZoneObject,
} from '../crds/index.ts';
import type { Condition, ConditionUpdate } from '../lib/conditions.ts';
import type { EventInput } from '../lib/events.ts';
import { broadcastUri, LABEL_NETWORK_UID, parseBroadcastUri, vlanAllocationName } from '../lib/guest-identity.ts';
import { guestAddressing, guestPoolSize, intToIp, parseCidr } from '../lib/ipv4.ts';
import { isAlreadyExists, isConflict, isNotFound, keyOf, type ResourceClient } from '../lib/kube-client.ts';
import type { Manager } from '../lib/manager.ts';
import { addFinalizer, hasFinalizer, isBeingDeleted, removeFinalizer } from '../lib/ownership.ts';
import { commitFailure, commitStatus } from '../lib/status.ts';
import { clientFor, INDEX, LABEL_ZONE, listNames, OPERATOR_FIELD_MANAGER, operatorStatus, type InfraContext } from './infra-context.ts';
import { DELETION_BLOCKED } from './reconciler.ts';

/** Holds a network while VMs use it, and until its VLAN or VNI and addresses are released. */
export const NETWORK_FINALIZER = 'network.kumulus.io/network';
export const IN_USE = 'InUse';

type Isolation = 'VLAN' | 'VXLAN';
type IdRange = { start: number; end: number };

const WRITER = operatorStatus({
  fields: ['cidr', 'gateway', 'netmask', 'broadcastDomainType', 'broadcastUri', 'physicalNetwork', 'addressesTotal', 'addressesAllocated', 'lastRestartAt'],
  conditions: ['Ready', IN_USE, DELETION_BLOCKED],
});

const RUNNING_STATES = new Set(['Starting', 'Running', 'Stopping', 'Migrating']);

/** A VM needs its networks on its host: placed, not being expunged, and running or meant to run. */
export function wantsNetwork(vm: VirtualMachineObject): boolean {
  if (vm.metadata.deletionTimestamp !== undefined || vm.status?.placement?.host === undefined) return false;
  return (vm.spec.state ?? 'Running') === 'Running' || RUNNING_STATES.has(vm.status.state ?? '');
}

// Plan ---------------------------------------------------------------------------------------

export interface NetworkObservation {
  network: NetworkObject;
  offering?: NetworkOfferingObject;
  zone?: ZoneObject;
  /** The physical networks of the network's zone. */
  physicalNetworks: PhysicalNetworkObject[];
  /** VMs naming the network in spec.networks. */
  vms: VirtualMachineObject[];
  /** VlanAllocations naming the network's uid. */
  allocations: VlanAllocationObject[];
  addressesAllocated: number;
  gcWaitSeconds: number;
  now: Date;
}

/** The VLAN id or VNI the network should hold, and where to claim it. */
export interface Claim {
  physicalNetwork: string;
  isolation: Isolation;
  /** The one id to claim (spec.vlan), or the ranges to take the first free id from. */
  id?: number;
  ranges?: IdRange[];
}

export interface NetworkPlan {
  /** Deletion: what still uses the network; empty when it may go. */
  blockedBy?: string[];
  /** Claim this when the network holds no matching allocation. */
  claim?: Claim;
  /** Allocations to release (after the status without them is written). */
  release: VlanAllocationObject[];
  state: string;
  fields: Record<string, unknown>;
  conditions: ConditionUpdate[];
  /** Reconcile again after this long (the idle timer). */
  requeueAfterMs?: number;
  /** Set when spec.restartRequestedAt is to be marked done. */
  restart?: string;
}

function conditionOf(network: NetworkObject, type: string): Condition | undefined {
  return network.status?.conditions?.find((c) => c.type === type);
}

function tagsMatch(offering: NetworkOfferingObject | undefined, pn: PhysicalNetworkObject): boolean {
  const wanted = offering?.spec.tags ?? [];
  return wanted.every((t) => pn.spec.tags?.includes(t));
}

/** The physical network carrying the guest network: the named one, else the zone's carrying Guest traffic with the offering's tags. */
function physicalNetworkOf(o: NetworkObservation): PhysicalNetworkObject | string {
  const named = o.network.spec.physicalNetworkRef?.name ?? o.network.status?.physicalNetwork;
  if (named) return o.physicalNetworks.find((pn) => pn.metadata.name === named) ?? `physical network ${named} does not exist`;
  const zone = o.network.spec.zoneRef.name;
  const guest = o.physicalNetworks.filter((pn) => pn.spec.trafficTypes.some((t) => t.type === 'Guest'));
  const tagged = guest.filter((pn) => tagsMatch(o.offering, pn)).sort((a, b) => (a.metadata.name ?? '').localeCompare(b.metadata.name ?? ''));
  if (tagged[0]) return tagged[0];
  if (guest.length === 0) return `no physical network of zone ${zone} carries Guest traffic: add Guest to a physical network's spec.trafficTypes`;
  return `no physical network of zone ${zone} carrying Guest traffic has the offering's tags ${(o.offering?.spec.tags ?? []).join(', ')}: tag one, or use another offering`;
}

/** What to claim on the physical network: the given id, or the first free one, VXLAN preferred. */
function claimOf(network: NetworkObject, pn: PhysicalNetworkObject): Claim | string {
  const methods = pn.spec.isolationMethods;
  const name = pn.metadata.name ?? '';
  const given = network.spec.vlan;
  if (given !== undefined) {
    const isolation: Isolation = given > VLAN_MAX || !methods.includes('VLAN') ? 'VXLAN' : 'VLAN';
    return { physicalNetwork: name, isolation, id: given };
  }
  if (methods.includes('VXLAN') && (pn.spec.vniRanges?.length ?? 0) > 0) return { physicalNetwork: name, isolation: 'VXLAN', ranges: pn.spec.vniRanges };
  if (methods.includes('VLAN') && (pn.spec.vlanRanges?.length ?? 0) > 0) return { physicalNetwork: name, isolation: 'VLAN', ranges: pn.spec.vlanRanges };
  return `physical network ${name} has no VNI or VLAN range to allocate from: add spec.vniRanges or spec.vlanRanges`;
}

function matches(a: VlanAllocationObject, claim: Claim): boolean {
  if (a.spec.physicalNetworkRef.name !== claim.physicalNetwork || a.spec.isolation !== claim.isolation) return false;
  if (claim.id !== undefined) return a.spec.id === claim.id;
  return (claim.ranges ?? []).some((r) => a.spec.id >= r.start && a.spec.id <= r.end);
}

/** The effective addressing: spec, else the zone's guest CIDR (admission normally fills spec). */
function addressingOf(network: NetworkObject, zone: ZoneObject | undefined, l2: boolean): Record<string, unknown> {
  if (l2) return {};
  const cidr = network.spec.cidr ?? zone?.spec.guestCidr;
  const net = cidr ? parseCidr(cidr) : undefined;
  if (!cidr || !net) return {};
  const gateway = network.spec.gateway ?? intToIp(net.network + 1);
  const addressing = guestAddressing({ spec: { ...network.spec, cidr, gateway } });
  return { cidr, gateway, netmask: addressing?.netmask, addressesTotal: addressing ? guestPoolSize(addressing) : 0 };
}

function idleTimer(o: NetworkObservation, users: number, wanted: boolean, holding: boolean): { condition: ConditionUpdate; expired: boolean; remainingMs?: number } {
  if (users > 0) return { condition: { type: IN_USE, status: 'True', reason: 'VirtualMachinesRunning', message: `${users} VM(s) placed on it want to run` }, expired: false };
  const previous = conditionOf(o.network, IN_USE);
  const since = previous?.status === 'False' && previous.lastTransitionTime ? new Date(previous.lastTransitionTime) : o.now;
  const deadline = since.getTime() + o.gcWaitSeconds * 1000;
  const remainingMs = Math.max(0, deadline - o.now.getTime());
  const keeps = wanted ? 'its offering keeps it implemented' : holding ? `shut down at ${new Date(deadline).toISOString()} (network.gc.wait ${o.gcWaitSeconds}s)` : 'implemented when a VM is placed on it';
  return { condition: { type: IN_USE, status: 'False', reason: 'Idle', message: `no VM on it wants to run; ${keeps}` }, expired: remainingMs === 0, remainingMs };
}

/** The plan for one network, from the caches' view. Pure. */
export function planNetwork(o: NetworkObservation): NetworkPlan {
  const network = o.network;
  const l2 = o.offering?.spec.guestIpType === 'L2';
  const users = o.vms.filter(wantsNetwork);
  const fields: Record<string, unknown> = { ...addressingOf(network, o.zone, l2), addressesAllocated: l2 ? undefined : o.addressesAllocated, lastRestartAt: network.status?.lastRestartAt };
  const current = network.status?.broadcastUri;
  const restart = network.spec.restartRequestedAt !== undefined && network.spec.restartRequestedAt !== network.status?.lastRestartAt ? network.spec.restartRequestedAt : undefined;
  if (restart) fields.lastRestartAt = restart;

  if (isBeingDeleted(network)) {
    const blockedBy = o.vms.map((vm) => `VirtualMachine ${keyOf(vm)}`).sort();
    if (blockedBy.length > 0) {
      const message = `deletion waits for ${blockedBy.length} VM(s) on the network to be expunged or detached: ${listNames(blockedBy, 10)}`;
      return {
        blockedBy,
        release: [],
        state: network.status?.state ?? 'Allocated',
        fields: { ...fields, broadcastUri: current, broadcastDomainType: network.status?.broadcastDomainType, physicalNetwork: network.status?.physicalNetwork },
        conditions: [
          { type: 'Ready', status: 'False', reason: 'Deleting', message },
          { type: IN_USE, status: users.length > 0 ? 'True' : 'False', reason: users.length > 0 ? 'VirtualMachinesRunning' : 'Idle', message: `${o.vms.length} VM(s) name it` },
          { type: DELETION_BLOCKED, status: 'True', reason: 'VirtualMachinesRemain', message },
        ],
      };
    }
    return {
      blockedBy: [],
      release: o.allocations,
      state: 'Destroy',
      fields: { ...fields, physicalNetwork: network.status?.physicalNetwork },
      conditions: [
        { type: 'Ready', status: 'False', reason: 'Deleting', message: 'releasing its VLAN or VNI and addresses' },
        { type: IN_USE, status: 'False', reason: 'Idle', message: 'no VM names it' },
        { type: DELETION_BLOCKED, status: 'False', reason: 'NoDependents', message: '' },
      ],
    };
  }

  const notReady = (reason: string, message: string): NetworkPlan => ({
    release: [],
    state: network.status?.state ?? 'Allocated',
    fields: { ...fields, broadcastUri: current, broadcastDomainType: network.status?.broadcastDomainType, physicalNetwork: network.status?.physicalNetwork },
    conditions: [
      { type: 'Ready', status: 'False', reason, message },
      idleTimer(o, users.length, false, false).condition,
    ],
  });
  if (!o.offering) return notReady('OfferingNotFound', `NetworkOffering ${network.spec.networkOfferingRef.name} does not exist: create it or fix spec.networkOfferingRef.name`);
  if (!o.zone) return notReady('ZoneNotFound', `Zone ${network.spec.zoneRef.name} does not exist: create it or fix spec.zoneRef.name`);
  if (!l2 && fields.cidr === undefined) return notReady('NoCidr', `no CIDR: set spec.cidr, or give zone ${network.spec.zoneRef.name} a spec.guestCidr`);
  const pn = physicalNetworkOf(o);
  if (typeof pn === 'string') return notReady('PhysicalNetworkNotFound', pn);
  fields.physicalNetwork = pn.metadata.name;
  const claim = claimOf(network, pn);
  if (typeof claim === 'string') return notReady('NoIsolationRange', claim);

  const given = network.spec.vlan !== undefined;
  const persistent = o.offering.spec.persistent === true;
  const wanted = given || persistent || users.length > 0;
  const holding = o.allocations.filter((a) => matches(a, claim));
  const recorded = parseBroadcastUri(current);
  const keep = holding.find((a) => recorded && a.spec.isolation === recorded.isolation && a.spec.id === recorded.id) ?? [...holding].sort((a, b) => a.spec.id - b.spec.id)[0];
  const stray = o.allocations.filter((a) => a !== keep);
  const timer = idleTimer(o, users.length, given || persistent, keep !== undefined);
  const implementedState = given ? 'Setup' : 'Implemented';
  const implemented = (a: VlanAllocationObject) => ({
    ...fields,
    broadcastUri: broadcastUri(a.spec.isolation, a.spec.id),
    broadcastDomainType: a.spec.isolation === 'VLAN' ? 'Vlan' : 'Vxlan',
  });
  const ready: ConditionUpdate = { type: 'Ready', status: 'True', reason: 'NetworkReady', message: '' };

  if (wanted || (keep && !timer.expired)) {
    if (keep) {
      return {
        release: stray,
        state: implementedState,
        fields: implemented(keep),
        conditions: [ready, timer.condition],
        ...(wanted ? {} : { requeueAfterMs: timer.remainingMs }),
        ...(restart ? { restart } : {}),
      };
    }
    return {
      claim,
      release: stray,
      state: given ? 'Allocated' : 'Implementing',
      fields,
      conditions: [{ type: 'Ready', status: 'True', reason: 'Implementing', message: '' }, timer.condition],
      ...(restart ? { restart } : {}),
    };
  }
  // Idle long enough, or never implemented: nothing held, and the status says so before any release.
  const shutDown = keep !== undefined || network.status?.state === 'Implemented' || network.status?.state === 'Shutdown' || network.status?.state === 'Implementing';
  return { release: o.allocations, state: shutDown ? 'Shutdown' : 'Allocated', fields, conditions: [ready, timer.condition], ...(restart ? { restart } : {}) };
}

// Apply --------------------------------------------------------------------------------------

function allocationBody(network: NetworkObject, claim: Claim, id: number, zone: string): VlanAllocationObject {
  return {
    apiVersion: VlanAllocation.apiVersion,
    kind: VlanAllocation.kind,
    metadata: { name: vlanAllocationName(claim.physicalNetwork, claim.isolation, id), labels: { [LABEL_NETWORK_UID]: network.metadata.uid ?? '', [LABEL_ZONE]: zone } },
    spec: {
      physicalNetworkRef: { name: claim.physicalNetwork },
      isolation: claim.isolation,
      id,
      networkRef: { namespace: network.metadata.namespace ?? '', name: network.metadata.name ?? '', uid: network.metadata.uid ?? '' },
    },
  };
}

/**
 * Claims the VLAN id or VNI: the given one, or the first free one of the ranges (the cache
 * suggests, AlreadyExists says taken: next), or why nothing could be claimed.
 */
async function claimId(
  ctx: InfraContext,
  client: ResourceClient<VlanAllocationObject>,
  network: NetworkObject,
  claim: Claim,
  signal: AbortSignal,
): Promise<VlanAllocationObject | { reason: 'VlanInUse' | 'InsufficientVlanCapacity'; message: string }> {
  const zone = network.spec.zoneRef.name;
  const what = claim.isolation === 'VLAN' ? 'VLAN' : 'VNI';
  const tryId = async (id: number): Promise<VlanAllocationObject | undefined> => {
    try {
      return await client.create(allocationBody(network, claim, id, zone), { fieldManager: OPERATOR_FIELD_MANAGER, signal });
    } catch (err) {
      if (!isAlreadyExists(err)) throw err;
      const holder = await client.get({ name: vlanAllocationName(claim.physicalNetwork, claim.isolation, id) }, { signal }).catch(() => undefined);
      return holder?.spec.networkRef?.uid === network.metadata.uid ? holder : undefined;
    }
  };
  if (claim.id !== undefined) {
    const got = await tryId(claim.id);
    if (got) return got;
    const holder = ctx.informers.vlanAllocations.get(vlanAllocationName(claim.physicalNetwork, claim.isolation, claim.id));
    const user = holder?.spec.networkRef ? ` by network ${holder.spec.networkRef.namespace}/${holder.spec.networkRef.name}` : '';
    return { reason: 'VlanInUse', message: `${what} ${claim.id} of physical network ${claim.physicalNetwork} is already used${user}: create the network with another spec.vlan` };
  }
  const tried = new Set<number>();
  for (let pass = 0; pass < 2; pass++) {
    const allocations =
      pass === 0
        ? ctx.informers.vlanAllocations.byIndex(INDEX.physicalNetwork, claim.physicalNetwork)
        : (await client.list({ signal })).items.filter((a) => a.spec.physicalNetworkRef.name === claim.physicalNetwork);
    const taken = new Set(allocations.filter((a) => a.spec.isolation === claim.isolation).map((a) => a.spec.id));
    for (const range of claim.ranges ?? []) {
      for (let id = range.start; id <= range.end; id++) {
        if (taken.has(id) || tried.has(id)) continue;
        tried.add(id);
        const got = await tryId(id);
        if (got) return got;
      }
    }
  }
  const ranges = (claim.ranges ?? []).map((r) => `${r.start}-${r.end}`).join(', ');
  return {
    reason: 'InsufficientVlanCapacity',
    message: `no free ${what} on physical network ${claim.physicalNetwork} (ranges ${ranges}): widen its spec.${claim.isolation === 'VLAN' ? 'vlanRanges' : 'vniRanges'}, or delete idle networks`,
  };
}

async function releaseAllocation(client: ResourceClient<VlanAllocationObject>, a: VlanAllocationObject, signal: AbortSignal): Promise<void> {
  await client.delete({ name: a.metadata.name ?? '' }, { preconditions: { uid: a.metadata.uid }, signal }).catch((err: unknown) => {
    if (!isNotFound(err) && !isConflict(err)) throw err;
  });
}

function stateEvents(from: string | undefined, to: string, plan: NetworkPlan): EventInput[] {
  if (from === to) return [];
  if (from === undefined) return [{ reason: 'NETWORK.CREATE', note: `network created, ${to}` }];
  if (to === 'Implemented' || to === 'Setup') return [{ reason: 'ZONE.VLAN.ASSIGN', note: `${to} on ${String(plan.fields.broadcastUri)}` }];
  if (to === 'Shutdown') return [{ reason: 'ZONE.VLAN.RELEASE', note: 'idle for network.gc.wait: shut down, its VLAN or VNI released' }];
  return [{ reason: 'NETWORK.UPDATE', note: `state ${from} → ${to}` }];
}

export function registerNetworkController(manager: Manager, ctx: InfraContext): void {
  const i = ctx.informers;
  const client = clientFor<NetworkObject>(ctx, Network);
  const allocations = clientFor<VlanAllocationObject>(ctx, VlanAllocation);
  const vmClient = clientFor<VirtualMachineObject>(ctx, VirtualMachine);

  const observe = (network: NetworkObject): NetworkObservation => {
    const zone = network.spec.zoneRef.name;
    const uid = network.metadata.uid ?? '';
    return {
      network,
      offering: i.networkOfferings.get(network.spec.networkOfferingRef.name),
      zone: i.zones.get(zone),
      physicalNetworks: i.physicalNetworks.byIndex(INDEX.zone, zone),
      vms: i.vms.byIndex(INDEX.network, keyOf(network)),
      allocations: i.vlanAllocations.byIndex(INDEX.networkUid, uid),
      addressesAllocated: i.ipAddresses.byIndex(INDEX.networkUid, uid).length,
      gcWaitSeconds: ctx.settings().number('network.gc.wait'),
      now: ctx.now(),
    };
  };

  /** Whether a VM on the network wants to run, asked of the apiserver: a shutdown must not race a placement the cache has not seen. */
  const usedNow = async (network: NetworkObject, signal: AbortSignal): Promise<boolean> => {
    const vms = await vmClient.list({ namespace: network.metadata.namespace, signal });
    return vms.items.some((vm) => wantsNetwork(vm) && vm.spec.networks?.some((n) => n.name === network.metadata.name));
  };

  const requestOf = (n: NetworkObject) => ({ namespace: n.metadata.namespace, name: n.metadata.name ?? '' });
  const networksOfZone = (zone: string | undefined) => i.networks.list().filter((n) => n.spec.zoneRef.name === zone).map(requestOf);

  manager.addController<NetworkObject>({
    name: 'network',
    for: i.networks,
    watches: [
      { informer: i.vms, map: (vm) => ((vm as VirtualMachineObject).spec.networks ?? []).map((n) => ({ namespace: vm.metadata.namespace, name: n.name })) },
      { informer: i.networkOfferings, map: (o) => i.networks.byIndex(INDEX.networkOffering, o.metadata.name ?? '').map(requestOf) },
      { informer: i.zones, map: (z) => networksOfZone(z.metadata.name) },
      { informer: i.physicalNetworks, map: (pn) => networksOfZone((pn as PhysicalNetworkObject).spec.zoneRef.name) },
      { informer: i.vlanAllocations, map: (a) => { const ref = (a as VlanAllocationObject).spec.networkRef; return ref ? [{ namespace: ref.namespace, name: ref.name }] : []; } },
      { informer: i.ipAddresses, map: (a) => { const ref = (a as IPAddressObject).spec.networkRef; return ref ? [{ namespace: ref.namespace, name: ref.name }] : []; } },
      { informer: i.configurations, map: () => i.networks.list().map(requestOf) },
    ],
    async reconcile(rctx, request) {
      let network = i.networks.get(request);
      if (!network) return;
      const signal = rctx.signal;
      try {
        if (isBeingDeleted(network) && !hasFinalizer(network, NETWORK_FINALIZER)) return;
        if (!isBeingDeleted(network)) network = await addFinalizer(client, network, NETWORK_FINALIZER, signal);
        let plan = planNetwork(observe(network));
        if (plan.state === 'Shutdown' && plan.release.length > 0 && (await usedNow(network, signal))) {
          rctx.log.info('idle by the cache but not by the apiserver: shutdown waits for the cache');
          return { requeueAfter: 1000 };
        }
        if (plan.claim) {
          const got = await claimId(ctx, allocations, network, plan.claim, signal);
          if (!('metadata' in got)) {
            plan = { ...plan, conditions: plan.conditions.map((c) => (c.type === 'Ready' ? { type: 'Ready', status: 'False', ...got } : c)) };
          } else {
            rctx.log.info('claimed', { allocation: got.metadata.name });
            const seen = observe(network);
            plan = planNetwork({ ...seen, allocations: [...seen.allocations.filter((a) => a.metadata.name !== got.metadata.name), got] });
          }
        }
        const from = network.status?.state;
        // Status first: a released id is never still advertised in broadcastUri.
        const wrote = await commitStatus(client, network, WRITER, { state: plan.state, fields: plan.fields, conditions: plan.conditions }, signal, ctx.now());
        for (const a of plan.release) {
          await releaseAllocation(allocations, a, signal);
          rctx.log.info('released', { allocation: a.metadata.name });
        }
        if (wrote) for (const event of stateEvents(from, plan.state, plan)) ctx.events.event(network, event);
        if (wrote && plan.restart) ctx.events.event(network, { reason: 'NETWORK.RESTART', note: `restart ${plan.restart} requested: every host re-applies the network` });
        if (plan.blockedBy !== undefined) {
          if (plan.blockedBy.length > 0) {
            if (wrote && conditionOf(network, DELETION_BLOCKED)?.status !== 'True') ctx.events.event(network, { type: 'Warning', reason: 'DeletionBlocked', note: plan.conditions.find((c) => c.type === DELETION_BLOCKED)?.message });
            return;
          }
          await releaseAddresses(ctx, network, signal);
          await removeFinalizer(client, network, NETWORK_FINALIZER, signal);
          ctx.events.event(network, { reason: 'NETWORK.DELETE', note: 'network deleted, its VLAN or VNI and addresses released' });
          return;
        }
        return plan.requeueAfterMs !== undefined ? { requeueAfter: plan.requeueAfterMs + 100 } : undefined;
      } catch (err) {
        if (isNotFound(err)) return;
        if (isConflict(err)) return { requeue: true };
        await commitFailure(client, network, WRITER, err, signal).catch(() => undefined);
        throw err;
      }
    },
  });
}

/** Deletes the addresses left on a network being deleted (no VM names it any more), asked of the apiserver. */
async function releaseAddresses(ctx: InfraContext, network: NetworkObject, signal: AbortSignal): Promise<void> {
  const client = clientFor<IPAddressObject>(ctx, IPAddress);
  const left = await client.list({ labelSelector: `${LABEL_NETWORK_UID}=${network.metadata.uid ?? ''}`, signal });
  for (const a of left.items) {
    await client.delete({ name: a.metadata.name ?? '' }, { preconditions: { uid: a.metadata.uid }, signal }).catch((err: unknown) => {
      if (!isNotFound(err) && !isConflict(err)) throw err;
    });
  }
}
