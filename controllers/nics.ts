/**
 * A VM's NICs and their addresses (IPAM), for the VM controller: `ensureNics` gives the
 * entries of the VM's status.nics, claiming the addresses they need; `releaseNics` frees them
 * when the VM is expunged. The VM controller writes status.nics itself (one writer per field).
 *
 * IPAM follows Kubernetes' Service IP allocator (KEP-1880): each address is one IPAddress
 * object named after the network's uid and the address, so creating it is the lock and
 * AlreadyExists means taken: try the next. The informer cache only suggests which addresses
 * are free; the apiserver decides. An address names the NIC holding it (consumerRef, uid
 * included) and belongs to it until the VM is expunged: stop, start and migration never touch
 * it. Nothing here frees an address because a process went away; an address whose VM is gone
 * is collected by the IPAddress controller after a grace period (ip-address.ts).
 *
 * A crash anywhere is harmless: an address created but not yet in the VM's status is found
 * again by its consumer uid and reused; two held by one NIC (a lost answer, a new leader's
 * cache that had not seen the first) are resolved by keeping the requested one, else the one
 * the VM's status records, else the lowest, and deleting the others. The second may reach the
 * cache after the VM's last reconcile (a create the apiserver committed late), so the VM
 * controller watches addresses appear and go (nicAddressWatch).
 */
import { IPAddress, Network, VirtualMachine, type IPAddressObject, type NetworkObject, type NetworkOfferingObject, type VirtualMachineObject } from '../crds/index.ts';
import { ipAddressName, LABEL_CONSUMER_UID, LABEL_NETWORK_UID, nicMac } from '../lib/guest-identity.ts';
import { guestAddressing, guestAddressProblem, guestPool, guestPoolSize, intToIp, ipToInt, type GuestAddressing } from '../lib/ipv4.ts';
import type { WatchSource } from '../lib/controller.ts';
import { isAlreadyExists, isConflict, isNotFound, type ResourceClient } from '../lib/kube-client.ts';
import type { NicAllocator } from './compute-context.ts';
import { clientFor, INDEX, OPERATOR_FIELD_MANAGER, type InfraContext } from './infra-context.ts';

export type NicStatus = NonNullable<NonNullable<VirtualMachineObject['status']>['nics']>[number];

/** Why a VM cannot have its NICs; `field` is the spec field to fix. */
export type NicRefusalReason =
  | 'NetworkNotFound'
  | 'NetworkDeleting'
  | 'NetworkZoneMismatch'
  | 'AddressOutsideRange'
  | 'AddressReserved'
  | 'AddressTaken'
  /** CloudStack's InsufficientAddressCapacityException: the API answers 533. */
  | 'InsufficientAddressCapacity';

export type NicsOutcome =
  /** The entries of status.nics, in spec.networks order. */
  | { result: 'ready'; nics: NicStatus[] }
  /** Nothing is wrong, something is not there yet (a network not reconciled); watch networks and call again. */
  | { result: 'waiting'; reason: 'NetworkPending'; message: string }
  /** The VM as specified cannot have its NICs; nothing more was claimed. `insufficientCapacity`: CloudStack's 533. */
  | { result: 'refused'; reason: NicRefusalReason; field: string; message: string; insufficientCapacity: boolean };

type NicSpec = NonNullable<VirtualMachineObject['spec']['networks']>[number];
type Refusal = Extract<NicsOutcome, { result: 'refused' }>;
type Waiting = Extract<NicsOutcome, { result: 'waiting' }>;

/** How long this process remembers an address it saw taken, or claimed, that its cache has not shown yet. */
const HINT_TTL_MS = 30_000;

/**
 * What this process claimed or saw taken and its cache does not show yet, so concurrent
 * calls of one process do not race each other for the same address, and a call right after
 * a claim finds it. Only hints: the apiserver's create is the lock.
 */
interface Hints {
  /** Addresses (as numbers) per network uid, with when the hint expires. */
  taken: Map<string, Map<number, number>>;
  /** IPAddress objects this process created, by name, until the cache has them. */
  created: Map<string, { obj: IPAddressObject; expires: number }>;
}

const hintsOf = new WeakMap<InfraContext, Hints>();

function hints(ctx: InfraContext): Hints {
  let h = hintsOf.get(ctx);
  if (!h) hintsOf.set(ctx, (h = { taken: new Map(), created: new Map() }));
  return h;
}

function refused(reason: NicRefusalReason, field: string, message: string): Refusal {
  return { result: 'refused', reason, field, message, insufficientCapacity: reason === 'InsufficientAddressCapacity' };
}

function isRefusal(x: unknown): x is Refusal | Waiting {
  return typeof x === 'object' && x !== null && 'result' in x;
}

/** The network of a NIC: from the cache, a miss confirmed by one GET (it may be milliseconds old). */
async function networkOf(ctx: InfraContext, namespace: string, name: string, signal: AbortSignal): Promise<NetworkObject | undefined> {
  const cached = ctx.informers.networks.get({ namespace, name });
  if (cached) return cached;
  return clientFor<NetworkObject>(ctx, Network)
    .get({ namespace, name }, { signal })
    .catch((err: unknown) => {
      if (isNotFound(err)) return undefined;
      throw err;
    });
}

function offeringOf(ctx: InfraContext, network: NetworkObject): NetworkOfferingObject | undefined {
  return ctx.informers.networkOfferings.get(network.spec.networkOfferingRef.name);
}

/** Addresses of the VM on a network: cached ones and those this process created since. */
function heldBy(ctx: InfraContext, vmUid: string, networkUid: string): IPAddressObject[] {
  const h = hints(ctx);
  const now = Date.now();
  const held = new Map<string, IPAddressObject>();
  for (const a of ctx.informers.ipAddresses.byIndex(INDEX.consumerUid, vmUid)) {
    if (a.metadata.labels?.[LABEL_NETWORK_UID] === networkUid && a.metadata.deletionTimestamp === undefined) held.set(a.metadata.name ?? '', a);
  }
  for (const [name, { obj, expires }] of h.created) {
    if (ctx.informers.ipAddresses.get(name) || expires < now) h.created.delete(name);
    else if (obj.spec.consumerRef?.uid === vmUid && obj.metadata.labels?.[LABEL_NETWORK_UID] === networkUid) held.set(name, obj);
  }
  return [...held.values()];
}

/** Addresses (as numbers) on the network that the cache or this process's hints say are taken. */
function takenOn(ctx: InfraContext, networkUid: string): Set<number> {
  const taken = new Set<number>();
  for (const a of ctx.informers.ipAddresses.byIndex(INDEX.networkUid, networkUid)) {
    const n = ipToInt(a.spec.address);
    if (n !== undefined) taken.add(n);
  }
  const now = Date.now();
  const hinted = hints(ctx).taken.get(networkUid);
  for (const [n, expires] of hinted ?? []) {
    if (expires < now) hinted?.delete(n);
    else taken.add(n);
  }
  return taken;
}

function hintTaken(ctx: InfraContext, networkUid: string, address: number): void {
  const h = hints(ctx);
  let m = h.taken.get(networkUid);
  if (!m) h.taken.set(networkUid, (m = new Map<number, number>()));
  m.set(address, Date.now() + HINT_TTL_MS);
}

function ipAddressBody(vm: VirtualMachineObject, network: NetworkObject, address: string, mac: string): IPAddressObject {
  const vmUid = vm.metadata.uid ?? '';
  const networkUid = network.metadata.uid ?? '';
  return {
    apiVersion: IPAddress.apiVersion,
    kind: IPAddress.kind,
    metadata: { name: ipAddressName(networkUid, address), labels: { [LABEL_NETWORK_UID]: networkUid, [LABEL_CONSUMER_UID]: vmUid } },
    spec: {
      address,
      purpose: 'Guest',
      networkRef: { namespace: network.metadata.namespace ?? '', name: network.metadata.name ?? '' },
      macAddress: mac,
      consumerRef: { kind: 'VirtualMachine', namespace: vm.metadata.namespace ?? '', name: vm.metadata.name ?? '', uid: vmUid, nic: network.metadata.name ?? '' },
    },
  };
}

/**
 * Creates the IPAddress: 'created', or 'taken' when another holds the address. An address
 * this VM already holds under that name (a claim whose answer was lost) counts as created.
 */
async function claim(ctx: InfraContext, client: ResourceClient<IPAddressObject>, body: IPAddressObject, signal: AbortSignal): Promise<{ outcome: 'created'; obj: IPAddressObject } | { outcome: 'taken'; holder?: IPAddressObject }> {
  const networkUid = body.metadata.labels?.[LABEL_NETWORK_UID] ?? '';
  const address = ipToInt(body.spec.address) ?? 0;
  hintTaken(ctx, networkUid, address);
  try {
    const obj = await client.create(body, { fieldManager: OPERATOR_FIELD_MANAGER, signal });
    hints(ctx).created.set(obj.metadata.name ?? '', { obj, expires: Date.now() + HINT_TTL_MS });
    return { outcome: 'created', obj };
  } catch (err) {
    if (!isAlreadyExists(err)) {
      hints(ctx).taken.get(networkUid)?.delete(address);
      throw err;
    }
  }
  const holder = await client.get({ name: body.metadata.name ?? '' }, { signal }).catch((err: unknown) => {
    if (isNotFound(err)) return undefined;
    throw err;
  });
  if (holder && holder.spec.consumerRef?.uid === body.spec.consumerRef?.uid && holder.metadata.deletionTimestamp === undefined) return { outcome: 'created', obj: holder };
  return { outcome: 'taken', holder };
}

async function release(ctx: InfraContext, client: ResourceClient<IPAddressObject>, obj: IPAddressObject, signal: AbortSignal): Promise<void> {
  hints(ctx).created.delete(obj.metadata.name ?? '');
  await client.delete({ name: obj.metadata.name ?? '' }, { preconditions: { uid: obj.metadata.uid }, signal }).catch((err: unknown) => {
    // Gone already, or the name now holds another claim (uid precondition): nothing of ours to free.
    if (isNotFound(err) || isConflict(err)) return;
    throw err;
  });
}

/** The next free address of the pool, claimed; undefined when the network is full. */
async function claimNext(
  ctx: InfraContext,
  client: ResourceClient<IPAddressObject>,
  vm: VirtualMachineObject,
  network: NetworkObject,
  addressing: GuestAddressing,
  mac: string,
  signal: AbortSignal,
): Promise<IPAddressObject | undefined> {
  const pool = guestPool(addressing);
  if (!pool) return undefined;
  const networkUid = network.metadata.uid ?? '';
  const tried = new Set<number>();
  // Twice at most: from the cache and this process's hints (re-read at each address, as
  // concurrent calls claim others), then, if that looked full, from a fresh list: the cache
  // may still hold deleted addresses.
  for (let pass = 0; pass < 2; pass++) {
    const taken = pass === 0 ? takenOn(ctx, networkUid) : await liveTaken(client, networkUid, signal);
    const hinted = pass === 0 ? hints(ctx).taken : new Map<string, Map<number, number>>();
    for (let n = pool.first; n <= pool.last; n++) {
      if (pool.reserved.has(n) || taken.has(n) || tried.has(n) || hinted.get(networkUid)?.has(n)) continue;
      tried.add(n);
      const result = await claim(ctx, client, ipAddressBody(vm, network, intToIp(n), mac), signal);
      if (result.outcome === 'created') return result.obj;
    }
  }
  return undefined;
}

async function liveTaken(client: ResourceClient<IPAddressObject>, networkUid: string, signal: AbortSignal): Promise<Set<number>> {
  const list = await client.list({ labelSelector: `${LABEL_NETWORK_UID}=${networkUid}`, signal });
  return new Set(list.items.map((a) => ipToInt(a.spec.address)).filter((n): n is number => n !== undefined));
}

/** Of several addresses one NIC holds, the one to keep: `preferred` when held, else the lowest. */
function keeper(held: IPAddressObject[], preferred: string | undefined): IPAddressObject {
  return held.find((a) => a.spec.address === preferred) ?? [...held].sort((a, b) => (ipToInt(a.spec.address) ?? 0) - (ipToInt(b.spec.address) ?? 0))[0]!;
}

function isDefaultNic(nics: readonly NicSpec[], i: number): boolean {
  return nics[i]?.default === true || (!nics.some((n) => n.default === true) && i === 0);
}

/** One NIC: its address claimed (or kept), or why not. */
async function ensureNic(ctx: InfraContext, vm: VirtualMachineObject, nics: readonly NicSpec[], i: number, signal: AbortSignal): Promise<NicStatus | Refusal | Waiting> {
  const nic = nics[i]!;
  const namespace = vm.metadata.namespace ?? '';
  const vmUid = vm.metadata.uid ?? '';
  const nameField = `spec.networks[${i}].name`;
  const ipField = `spec.networks[${i}].ipAddress`;
  const network = await networkOf(ctx, namespace, nic.name, signal);
  if (!network) return refused('NetworkNotFound', nameField, `network ${nic.name} does not exist in namespace ${namespace}: create it, or name an existing network`);
  if (network.spec.zoneRef.name !== vm.spec.zoneRef.name) {
    return refused('NetworkZoneMismatch', nameField, `network ${nic.name} is in zone ${network.spec.zoneRef.name}, not the VM's zone ${vm.spec.zoneRef.name}; attach a network of zone ${vm.spec.zoneRef.name}`);
  }
  const networkUid = network.metadata.uid ?? '';
  const client = clientFor<IPAddressObject>(ctx, IPAddress);
  const held = heldBy(ctx, vmUid, networkUid);
  if (network.metadata.deletionTimestamp !== undefined && held.length === 0) {
    return refused('NetworkDeleting', nameField, `network ${nic.name} is being deleted; attach another network`);
  }
  const offering = offeringOf(ctx, network);
  if (!offering) return { result: 'waiting', reason: 'NetworkPending', message: `network ${nic.name}: its NetworkOffering ${network.spec.networkOfferingRef.name} is not known yet` };
  const mac = (nic.macAddress ?? nicMac(vmUid, networkUid)).toLowerCase();
  const entry: NicStatus = { network: nic.name, deviceId: i, isDefault: isDefaultNic(nics, i), macAddress: mac };
  const uri = network.status?.broadcastUri;
  if (uri) Object.assign(entry, { isolationUri: uri, broadcastUri: uri });
  if (offering.spec.guestIpType === 'L2') return entry;

  const addressing = guestAddressing(network);
  if (!addressing) return { result: 'waiting', reason: 'NetworkPending', message: `network ${nic.name} has no CIDR yet: its controller has not settled it` };
  Object.assign(entry, { ...(addressing.netmask ? { netmask: addressing.netmask } : {}), ...(addressing.gateway ? { gateway: addressing.gateway } : {}) });

  const requested = nic.ipAddress;
  if (requested !== undefined && !held.some((a) => a.spec.address === requested)) {
    const problem = guestAddressProblem(addressing, requested, nic.name);
    if (problem) return refused(problem.reason, ipField, problem.message);
    const result = await claim(ctx, client, ipAddressBody(vm, network, requested, mac), signal);
    if (result.outcome === 'taken') {
      const other = result.holder?.spec.consumerRef;
      const who = other && other.namespace === namespace ? ` by VM ${other.name}` : '';
      return refused('AddressTaken', ipField, `${requested} is already allocated on network ${nic.name}${who}; choose another address, or leave ${ipField} out to get the next free one`);
    }
    held.push(result.obj);
  }
  if (held.length === 0) {
    const obj = await claimNext(ctx, client, vm, network, addressing, mac, signal);
    if (!obj) {
      const size = guestPoolSize(addressing);
      return refused(
        'InsufficientAddressCapacity',
        nameField,
        `network ${nic.name} has no free address: all ${size} guest addresses of ${addressing.startIp}-${addressing.endIp} (less the gateway and the DHCP service address) are allocated; expunge a VM on it, or deploy on another network`,
      );
    }
    held.push(obj);
  }
  const recorded = vm.status?.nics?.find((n) => n.network === nic.name)?.ipAddress;
  // A requested address replaces whatever the NIC held before; otherwise what status records stays.
  const keep = keeper(held, requested ?? recorded);
  for (const extra of held) if (extra !== keep) await release(ctx, client, extra, signal);
  return { ...entry, ipAddress: keep.spec.address };
}

/**
 * The entries of the VM's status.nics, in spec.networks order, each with its address claimed:
 * idempotent, so call it on every reconcile and write what it returns. Addresses of NICs no
 * longer in spec.networks are released. A refusal names the spec field and claims nothing
 * more; `waiting` means a network is not ready to hand out addresses yet.
 */
export async function ensureNics(ctx: InfraContext, vm: VirtualMachineObject, signal: AbortSignal): Promise<NicsOutcome> {
  const nics = vm.spec.networks ?? [];
  const entries: NicStatus[] = [];
  for (let i = 0; i < nics.length; i++) {
    const entry = await ensureNic(ctx, vm, nics, i, signal);
    if (isRefusal(entry)) return entry;
    entries.push(entry);
  }
  await releaseDetached(ctx, vm, signal);
  return { result: 'ready', nics: entries };
}

/** Frees the addresses the VM holds on networks it no longer names (a NIC removed, a network replaced). */
async function releaseDetached(ctx: InfraContext, vm: VirtualMachineObject, signal: AbortSignal): Promise<void> {
  const vmUid = vm.metadata.uid ?? '';
  const namespace = vm.metadata.namespace ?? '';
  const attached = (v: VirtualMachineObject) =>
    new Set((v.spec.networks ?? []).map((n) => ctx.informers.networks.get({ namespace, name: n.name })?.metadata.uid).filter((u): u is string => !!u));
  const detached = (v: VirtualMachineObject) => ctx.informers.ipAddresses.byIndex(INDEX.consumerUid, vmUid).filter((a) => !attached(v).has(a.metadata.labels?.[LABEL_NETWORK_UID] ?? ''));
  if (detached(vm).length === 0) return;
  // Confirmed against the stored VM: a stale copy must not free the address of a NIC just added.
  const fresh = await clientFor<VirtualMachineObject>(ctx, VirtualMachine)
    .get({ namespace, name: vm.metadata.name ?? '' }, { signal })
    .catch((err: unknown) => {
      if (isNotFound(err)) return undefined;
      throw err;
    });
  if (!fresh || fresh.metadata.uid !== vmUid) return;
  const client = clientFor<IPAddressObject>(ctx, IPAddress);
  for (const a of detached(fresh)) await release(ctx, client, a, signal);
}

/**
 * Frees every address the VM holds, for its expunge: resolves with how many it deleted once
 * the apiserver holds none (checked by a fresh list, not the cache).
 */
export async function releaseNics(ctx: InfraContext, vm: VirtualMachineObject, signal: AbortSignal): Promise<number> {
  const vmUid = vm.metadata.uid ?? '';
  const client = clientFor<IPAddressObject>(ctx, IPAddress);
  const live = await client.list({ labelSelector: `${LABEL_CONSUMER_UID}=${vmUid}`, signal });
  const all = new Map<string, IPAddressObject>();
  for (const a of [...ctx.informers.ipAddresses.byIndex(INDEX.consumerUid, vmUid), ...live.items]) {
    if (a.spec.consumerRef?.uid === vmUid) all.set(a.metadata.name ?? '', a);
  }
  for (const a of all.values()) await release(ctx, client, a, signal);
  for (const [name, { obj }] of hints(ctx).created) if (obj.spec.consumerRef?.uid === vmUid) hints(ctx).created.delete(name);
  return all.size;
}

/** ensureNics and releaseNics over one context, as the VM controller takes them (registerComputeControllers). */
export function nicAllocator(ctx: InfraContext): NicAllocator {
  return { ensureNics: (vm, signal) => ensureNics(ctx, vm, signal), releaseNics: (vm, signal) => releaseNics(ctx, vm, signal), watches: [nicAddressWatch(ctx)] };
}

/**
 * Requeues the VM whose NIC an address names when the address appears or goes: a claim the
 * apiserver committed after the VM's last pass is then found and the extra released.
 * Status-only updates of an address change nothing for the VM.
 */
export function nicAddressWatch(ctx: InfraContext): WatchSource {
  return {
    informer: ctx.informers.ipAddresses,
    map: (obj) => {
      const ref = (obj as IPAddressObject).spec.consumerRef;
      return ref?.kind === 'VirtualMachine' ? [{ namespace: ref.namespace, name: ref.name }] : [];
    },
    changed: () => false,
  };
}
