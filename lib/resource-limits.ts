/**
 * CloudStack's resource limits per account and domain, counted one way for admission (both
 * doors) and the API's listResourceLimits and updateResourceCount.
 *
 * Limits live in spec.resourceLimits of the Account and the Domain (crds/iam.ts); -1 is
 * unlimited. An account's absent limit is the global max.account.* setting; a domain's is its
 * parent's, and ROOT is unlimited (CloudStack's findCorrectResourceLimitForDomain). Root
 * administrators' accounts have no limits. Usage is counted from the objects themselves, never
 * from a counter that can drift: VMs not destroyed (with their cores and memory), volumes
 * (with their sizes), networks and templates of the account's namespace; a domain's usage is
 * the sum over the accounts of its subtree.
 */
import { parseBytes, type AccountObject, type DiskOfferingObject, type DomainObject, type ServiceOfferingObject, type VirtualMachineObject, type VolumeObject } from '../crds/index.ts';
import type { KubeObject } from './kube-client.ts';
import type { Settings, SettingName } from './settings.ts';
import { vmDemand, volumeBytes } from './usage.ts';

export type LimitField = keyof NonNullable<AccountObject['spec']['resourceLimits']>;

export interface ResourceType {
  /** CloudStack's resourcetype code. */
  readonly code: number;
  /** CloudStack's resourcetypename, as its messages spell it. */
  readonly name: string;
  /** The field of spec.resourceLimits. */
  readonly field: LimitField;
  /** The global setting of an account's default limit. */
  readonly setting: SettingName;
  /** Units of usage per unit of limit: primary storage is limited in GiB and counted in bytes. */
  readonly unit: number;
}

const GIB = 2 ** 30;
const MIB = 2 ** 20;

export const RESOURCE_TYPES: readonly ResourceType[] = [
  { code: 0, name: 'user_vm', field: 'userVm', setting: 'max.account.user.vms', unit: 1 },
  { code: 1, name: 'public_ip', field: 'publicIp', setting: 'max.account.public.ips', unit: 1 },
  { code: 2, name: 'volume', field: 'volume', setting: 'max.account.volumes', unit: 1 },
  { code: 3, name: 'snapshot', field: 'snapshot', setting: 'max.account.snapshots', unit: 1 },
  { code: 4, name: 'template', field: 'template', setting: 'max.account.templates', unit: 1 },
  { code: 5, name: 'project', field: 'project', setting: 'max.account.projects', unit: 1 },
  { code: 6, name: 'network', field: 'network', setting: 'max.account.networks', unit: 1 },
  { code: 7, name: 'vpc', field: 'vpc', setting: 'max.account.vpcs', unit: 1 },
  { code: 8, name: 'cpu', field: 'cpu', setting: 'max.account.cpus', unit: 1 },
  { code: 9, name: 'memory', field: 'memory', setting: 'max.account.memory', unit: 1 },
  { code: 10, name: 'primary_storage', field: 'primaryStorage', setting: 'max.account.primary.storage', unit: GIB },
  { code: 11, name: 'secondary_storage', field: 'secondaryStorage', setting: 'max.account.secondary.storage', unit: GIB },
];

export const UNLIMITED = -1;

/** Usage per resource type, in counting units (memory in MiB, storage in bytes); absent is 0. */
export type Usage = Partial<Record<LimitField, number>>;

type Limited = { spec: { resourceLimits?: Partial<Record<LimitField, number>> } };

/** The account's limit of `type`: its own, else the global default; root administrators are unlimited. */
export function accountLimit(account: Limited & { spec: { accountType?: string } }, type: ResourceType, settings: Settings): number {
  if (account.spec.accountType === 'Admin') return UNLIMITED;
  return account.spec.resourceLimits?.[type.field] ?? settings.number(type.setting);
}

/** The domain's limit of a type: its own, else its nearest ancestor's; ROOT (no parent) is unlimited. `chain` runs from the domain up to ROOT. */
export function domainLimit(chain: readonly (Limited & { spec: { parentRef?: unknown } })[], field: LimitField): number {
  for (const domain of chain) {
    if (!domain.spec.parentRef) return UNLIMITED;
    const own = domain.spec.resourceLimits?.[field];
    if (own !== undefined) return own;
  }
  return UNLIMITED;
}

/** The domain and its ancestors up to ROOT, by name; a missing parent or a cycle ends the chain. */
export function domainChain(name: string | undefined, domains: ReadonlyMap<string, DomainObject>): DomainObject[] {
  const chain: DomainObject[] = [];
  for (let next = name; next !== undefined; ) {
    const domain = domains.get(next);
    if (!domain || chain.includes(domain)) break;
    chain.push(domain);
    next = domain.spec.parentRef?.name;
  }
  return chain;
}

const add = (a: Usage, b: Usage): Usage => {
  const sum: Usage = { ...a };
  for (const [field, n] of Object.entries(b) as [LimitField, number][]) sum[field] = (sum[field] ?? 0) + n;
  return sum;
};

export const sumUsage = (all: readonly Usage[]): Usage => all.reduce(add, {});

const gone = (obj: { metadata: { deletionTimestamp?: string } }) => obj.metadata.deletionTimestamp !== undefined;

/**
 * What a VM counts: one user_vm with its cores and memory (MiB), plus the volumes it creates
 * (root and data disks) and the sizes it asks for them. A destroyed VM counts nothing, as
 * CloudStack decrements on destroy and counts again on recover.
 */
function vmUsage(vm: VirtualMachineObject, offering: ServiceOfferingObject['spec'] | undefined, diskSize: (offering: string) => number): Usage {
  if (gone(vm) || vm.spec.state === 'Destroyed') return {};
  const demand = vmDemand(vm, offering);
  const disks = vm.spec.dataDisks ?? [];
  const bytes = (vm.spec.rootDiskSize ? parseBytes(vm.spec.rootDiskSize) : 0) + disks.reduce((n, d) => n + (d.size ? parseBytes(d.size) : diskSize(d.diskOfferingRef.name)), 0);
  return { userVm: 1, cpu: demand.cores, memory: Math.ceil(demand.memoryBytes / MIB), volume: 1 + disks.length, primaryStorage: bytes };
}

/**
 * What a volume counts on its own: one volume and its bytes. A volume a VM made (owned by it)
 * was counted with the VM, so it counts nothing here; nor does a destroyed one (spec, not the
 * lagging status), as CloudStack decrements on destroyVolume and counts again on recoverVolume.
 */
function volumeUsage(volume: VolumeObject, diskSize: (offering: string) => number): Usage {
  if (gone(volume) || ownedByVm(volume) || volume.spec.destroyed === true) return {};
  // The size asked for first: a resize raises spec.size before the agent measures it.
  const bytes = volume.spec.size ? parseBytes(volume.spec.size) : volumeBytes(volume, undefined) || (volume.spec.diskOfferingRef ? diskSize(volume.spec.diskOfferingRef.name) : 0);
  return { volume: 1, primaryStorage: bytes };
}

function ownedByVm(volume: { metadata: { ownerReferences?: { kind: string }[] } }): boolean {
  return (volume.metadata.ownerReferences ?? []).some((r) => r.kind === 'VirtualMachine');
}

/** The offerings an object's usage depends on, by name. */
export interface Offerings {
  service(name: string): ServiceOfferingObject['spec'] | undefined;
  disk(name: string): DiskOfferingObject['spec'] | undefined;
}

/** The kinds whose objects count, and the types each counts. */
export const COUNTED_FROM: Readonly<Record<string, readonly LimitField[]>> = {
  VirtualMachine: ['userVm', 'cpu', 'memory', 'volume', 'primaryStorage'],
  Volume: ['volume', 'primaryStorage'],
  Network: ['network'],
  Template: ['template'],
};

/** What one object of `kind` counts (nothing for other kinds). */
export function objectUsage(kind: string, obj: KubeObject, offerings: Offerings): Usage {
  const diskSize = (name: string) => {
    const size = offerings.disk(name)?.diskSize;
    return size === undefined ? 0 : parseBytes(size);
  };
  if (gone(obj)) return {};
  switch (kind) {
    case 'VirtualMachine': {
      const vm = obj as VirtualMachineObject;
      return vmUsage(vm, offerings.service(vm.spec.serviceOfferingRef.name), diskSize);
    }
    case 'Volume':
      return volumeUsage(obj as VolumeObject, diskSize);
    case 'Network':
      return { network: 1 };
    case 'Template':
      return { template: 1 };
    default:
      return {};
  }
}

/** The cause reason of an admission refusal by a resource limit (403 Forbidden), which the CloudStack API answers with 535. */
export const LIMIT_EXCEEDED = 'ResourceLimitExceeded';

/** One limit a request would pass. */
export interface Exceeded {
  type: ResourceType;
  /** The account's name, or undefined for a domain's limit. */
  account?: string;
  /** The domain whose limit it is (the account's domain for an account limit). */
  domainUid: string;
  domainName: string;
  limit: number;
  used: number;
  asked: number;
}

/**
 * The limits passed when usage goes from `before` to `after` (the owner's whole usage without
 * and with the request): only types the request raises, and only when the result is over the
 * limit, so a limit lowered below usage keeps what exists.
 */
export function exceededTypes(limitOf: (type: ResourceType) => number, before: Usage, after: Usage): { type: ResourceType; limit: number; used: number; asked: number }[] {
  return RESOURCE_TYPES.flatMap((type) => {
    const was = before[type.field] ?? 0;
    const will = after[type.field] ?? 0;
    const limit = limitOf(type);
    if (will <= was || limit === UNLIMITED || will <= limit * type.unit) return [];
    return [{ type, limit, used: was, asked: will - was }];
  });
}

/** CloudStack's text for a passed limit (ResourceLimitManagerImpl), as the API answers it with 535. */
export function exceededText(e: Exceeded): string {
  return e.account !== undefined
    ? `Maximum number of resources of type '${e.type.name}' for account name=${e.account} in domain id=${e.domainUid} has been exceeded.`
    : `Maximum number of resources of type '${e.type.name}' for domain id=${e.domainUid} has been exceeded.`;
}

const shown = (type: ResourceType, n: number) => (type.unit === GIB ? `${(n / GIB).toFixed(1)} GiB` : type.name === 'memory' ? `${n} MiB` : `${n}`);

/** The full refusal: CloudStack's text, the figures, and how to raise the limit through either door. */
export function exceededMessage(e: Exceeded): string {
  const figures = `The limit is ${e.limit}${e.type.unit === GIB ? ' GiB' : e.type.name === 'memory' ? ' MiB' : ''}, ${shown(e.type, e.used)} in use, this asks for ${shown(e.type, e.asked)} more.`;
  const raise =
    e.account !== undefined
      ? `Free some, or have an administrator raise it: updateResourceLimit resourcetype=${e.type.code} account=${e.account} domainid=${e.domainUid} max=<n>, or spec.resourceLimits.${e.type.field} of Account ${e.account}.`
      : `Free some, or have an administrator raise it: updateResourceLimit resourcetype=${e.type.code} domainid=${e.domainUid} max=<n>, or spec.resourceLimits.${e.type.field} of Domain ${e.domainName}.`;
  return `${exceededText(e)} ${figures} ${raise}`;
}

/** The CloudStack text at the head of a refusal made by exceededMessage. */
export function exceededTextOf(message: string): string | undefined {
  return /Maximum number of resources of type '[a-z_]+' for (?:account name=.*? in )?domain id=\S+ has been exceeded\./.exec(message)?.[0];
}
