import { parseBytes, type AccountObject, type NetworkObject, type TemplateObject, type VirtualMachineObject } from '../../crds/index.ts';
import { derivedUuid, readsOf } from '../lists/cache.ts';
import { INDEX } from '../lists/indexes.ts';
import type { Fields } from '../protocol/envelope.ts';
import type { Infra } from './context.ts';
import { apiDate } from './infra-views.ts';
import { displayName } from './names.ts';

/**
 * Compute objects as CloudStack shows them (compute.md §1.2): owner fields from the namespace's
 * Account, parents resolved through the caches, empty collections as [], details as strings,
 * and the fields CloudStack leaves out in a state left out the same way.
 */

const MiB = 2 ** 20;

/** The annotation keeping a VM's or volume's CloudStack `details` (a JSON object of strings), so both doors see them. */
export const DETAILS_ANNOTATION = 'cloudstack.kumulus.io/details';

/** The Account owning a namespace. */
export function accountOfNamespace(infra: Infra, namespace: string | undefined): AccountObject | undefined {
  return namespace === undefined ? undefined : infra.cache.accounts.byIndex(INDEX.namespace, namespace)[0];
}

/** account, domain, domainid, domainpath of whatever lives in an account's namespace. */
export function ownerFields(infra: Infra, namespace: string | undefined): Fields {
  const account = accountOfNamespace(infra, namespace);
  const domain = account ? infra.cache.domains.byName(account.spec.domainRef.name) : undefined;
  return {
    account: account ? displayName(account) : undefined,
    domain: domain ? displayName(domain) : undefined,
    domainid: domain?.metadata.uid,
    domainpath: domain?.status?.path,
  };
}

/** Annotations a CloudStack tag is kept in (createTags): the prefix and the tag's key, so kubectl shows tags too. */
export const TAG_PREFIX = 'tags.cloudstack.kumulus.io/';

/** The resource tags of an object (ResourceTagResponse), from its tag annotations; `[]` without any. */
export function tagFields(infra: Infra, obj: { metadata: { uid?: string; namespace?: string; annotations?: Record<string, string> } }, resourceType: string): Fields[] {
  const owner = ownerFields(infra, obj.metadata.namespace);
  return Object.entries(obj.metadata.annotations ?? {})
    .filter(([key]) => key.startsWith(TAG_PREFIX))
    .map(([key, value]) => ({ key: key.slice(TAG_PREFIX.length), value, resourcetype: resourceType, resourceid: obj.metadata.uid, ...owner }))
    .sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
}

/** `tags[i].key=…&tags[i].value=…` of a list: the object carries every one asked. */
export function hasTags(obj: { metadata: { annotations?: Record<string, string> } }, tags: readonly Record<string, string>[] | undefined): boolean {
  return (tags ?? []).every((t) => t['key'] !== undefined && obj.metadata.annotations?.[`${TAG_PREFIX}${t['key']}`] === t['value']);
}

/**
 * Where a VM's user data came from, when it is a registered UserData (deploy or reset with
 * userdataid): a JSON object {id, name, details} the API writes beside the copy in
 * spec.userData, so the VM shows userdataid, userdataname and userdatadetails as CloudStack does.
 */
export const USERDATA_ANNOTATION = 'cloudstack.kumulus.io/userdata';

export interface UserDataLink {
  readonly id: string;
  readonly name: string;
  /** userdatadetails, as CloudStack shows them (a Java map's text, `{key=value}`). */
  readonly details?: string;
}

export function userDataLinkOf(vm: { metadata: { annotations?: Record<string, string> } }): UserDataLink | undefined {
  const raw = vm.metadata.annotations?.[USERDATA_ANNOTATION];
  if (raw === undefined) return undefined;
  try {
    const parsed = JSON.parse(raw) as Partial<UserDataLink>;
    return typeof parsed.id === 'string' && typeof parsed.name === 'string' ? { id: parsed.id, name: parsed.name, ...(typeof parsed.details === 'string' ? { details: parsed.details } : {}) } : undefined;
  } catch {
    return undefined;
  }
}

export function detailsOf(obj: { metadata: { annotations?: Record<string, string> } }): Record<string, string> {
  const raw = obj.metadata.annotations?.[DETAILS_ANNOTATION];
  if (raw === undefined) return {};
  try {
    const parsed = JSON.parse(raw) as unknown;
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return {};
    return Object.fromEntries(Object.entries(parsed).map(([k, v]) => [k, String(v)]));
  } catch {
    return {};
  }
}

/** CloudStack's OS type id for an OS type name: stable on every replica (listOsTypes serves the same ids). */
export function osTypeId(name: string): string {
  return derivedUuid('ostype', name);
}

/** The states in which a VM has a host (CloudStack leaves hostid out otherwise). */
const ON_HOST = new Set(['Starting', 'Running', 'Stopping', 'Migrating']);

function templateOf(infra: Infra, vm: VirtualMachineObject): TemplateObject | undefined {
  const ref = vm.spec.templateRef ?? vm.spec.isoRef;
  return ref ? infra.cache.templates.byName(ref.name, ref.namespace ?? vm.metadata.namespace) : undefined;
}

function networkOf(infra: Infra, vm: VirtualMachineObject, name: string): NetworkObject | undefined {
  return infra.cache.networks.byName(name, vm.metadata.namespace);
}

/** A NIC's id: from its VM and its network, so the same on every replica and through stop, start and re-plumbing. */
export function nicId(vm: VirtualMachineObject, network: string): string {
  return derivedUuid(vm.metadata.uid ?? '', `nic/${network}`);
}

/** The NICs of a VM (NicResponse): those implemented (status.nics), else those asked for. */
export function nicFields(infra: Infra, vm: VirtualMachineObject): Fields[] {
  const vmId = vm.metadata.uid ?? '';
  const implemented = vm.status?.nics;
  const nics = implemented?.length
    ? implemented
    : (vm.spec.networks ?? []).map((n, i, all) => ({ network: n.name, deviceId: i, isDefault: n.default ?? (!all.some((o) => o.default) && i === 0), ipAddress: n.ipAddress, macAddress: n.macAddress }));
  return nics.map((nic) => {
    const network = networkOf(infra, vm, nic.network);
    const offering = network ? infra.cache.networkOfferings.byName(network.spec.networkOfferingRef.name) : undefined;
    const implementedNic = nic as { netmask?: string; gateway?: string; isolationUri?: string; broadcastUri?: string };
    return {
      id: nicId(vm, nic.network),
      networkid: network?.metadata.uid,
      networkname: network ? displayName(network) : nic.network,
      netmask: implementedNic.netmask ?? network?.status?.netmask,
      gateway: implementedNic.gateway ?? network?.status?.gateway,
      ipaddress: nic.ipAddress,
      isolationuri: implementedNic.isolationUri,
      broadcasturi: implementedNic.broadcastUri,
      traffictype: 'Guest',
      type: offering?.spec.guestIpType,
      isdefault: nic.isDefault,
      macaddress: nic.macAddress,
      deviceid: String(nic.deviceId),
      virtualmachineid: vmId,
      secondaryip: [],
      extradhcpoption: [],
    };
  });
}

/** listVirtualMachines `details=`: the groups of fields a caller may ask for (ApiConstants.VMDetails), in CloudStack's order. */
export const VM_DETAILS = ['all', 'group', 'nics', 'stats', 'secgrp', 'tmpl', 'servoff', 'diskoff', 'backoff', 'iso', 'volume', 'min', 'affgrp'] as const;

/** The fields each group adds (UserVmJoinDaoImpl); the others are always there. Stats are not collected here, so `stats` adds only what servoff does. */
const DETAIL_FIELDS: Readonly<Record<string, readonly string[]>> = {
  group: ['group', 'groupid'],
  nics: ['nic', 'ipaddress'],
  secgrp: ['securitygroup'],
  tmpl: ['templateid', 'templatename', 'templatedisplaytext', 'templateformat', 'templatetype', 'passwordenabled'],
  servoff: ['serviceofferingid', 'serviceofferingname', 'cpunumber', 'cpuspeed', 'memory'],
  stats: ['cpunumber', 'cpuspeed', 'memory'],
  diskoff: ['diskofferingid', 'diskofferingname'],
  iso: ['isoid', 'isoname', 'isodisplaytext'],
  volume: ['rootdeviceid', 'rootdevicetype'],
  affgrp: ['affinitygroup'],
};

/** Only the fields of the groups asked for (`details=`), as CloudStack answers; every field for `all` or no choice. */
export function vmDetailSubset(fields: Fields, details: readonly string[] | undefined): Fields {
  if (details === undefined || details.length === 0 || details.includes('all')) return fields;
  const kept = new Set(details.flatMap((d) => DETAIL_FIELDS[d] ?? []));
  const dropped = new Set(Object.values(DETAIL_FIELDS).flat().filter((f) => !kept.has(f)));
  return Object.fromEntries(Object.entries(fields).filter(([name]) => !dropped.has(name)));
}

/** The virtualmachine object (UserVmResponse). */
export function vmFields(infra: Infra, vm: VirtualMachineObject): Fields {
  const { cache } = infra;
  const spec = vm.spec;
  const state = vm.status?.state ?? (spec.state === 'Stopped' ? 'Stopped' : spec.state === 'Destroyed' ? 'Destroyed' : 'Starting');
  const zone = cache.zones.byName(spec.zoneRef.name);
  const offering = cache.serviceOfferings.byName(spec.serviceOfferingRef.name);
  const template = templateOf(infra, vm);
  const iso = spec.attachedIsoRef ? cache.templates.byName(spec.attachedIsoRef.name, spec.attachedIsoRef.namespace ?? vm.metadata.namespace) : undefined;
  const host = vm.status?.placement && ON_HOST.has(state) ? cache.hosts.byName(vm.status.placement.host) : undefined;
  const memory = parseBytes(spec.memory ?? offering?.spec.memory);
  const keyPair = spec.sshKeyPairRef ? cache.sshKeyPairs.byName(spec.sshKeyPairRef.name, vm.metadata.namespace) : undefined;
  const rootDisk = spec.rootDiskOfferingRef ? cache.diskOfferings.byName(spec.rootDiskOfferingRef.name) : undefined;
  const affinity = (spec.affinityGroupRefs ?? []).map((ref) => cache.affinityGroups.byName(ref.name, vm.metadata.namespace));
  const nics = nicFields(infra, vm);
  const name = spec.hostName ?? vm.metadata.name ?? '';
  const group = spec.group === undefined ? undefined : cache.instanceGroups.byIndex(INDEX.shownName, `${vm.metadata.namespace ?? ''}/${spec.group}`)[0];
  const userData = userDataLinkOf(vm);
  return {
    id: vm.metadata.uid,
    name,
    displayname: spec.displayName ?? name,
    ...ownerFields(infra, vm.metadata.namespace),
    created: apiDate(vm.metadata.creationTimestamp),
    state,
    haenable: offering?.spec.offerHa ?? false,
    zoneid: zone?.metadata.uid,
    zonename: zone ? displayName(zone) : spec.zoneRef.name,
    hostid: host?.metadata.uid,
    hostname: host?.spec.nodeName,
    // The image the VM was deployed from (an ISO too, as CloudStack's vm_template_id), and the ISO in its drive.
    templateid: template?.metadata.uid,
    templatename: template ? displayName(template) : undefined,
    templatedisplaytext: template ? (template.spec.displayText ?? displayName(template)) : undefined,
    templateformat: template?.spec.format,
    templatetype: template?.spec.templateType ?? 'USER',
    isoid: iso?.metadata.uid,
    isoname: iso ? displayName(iso) : undefined,
    isodisplaytext: iso ? (iso.spec.displayText ?? displayName(iso)) : undefined,
    passwordenabled: template?.spec.passwordEnabled ?? false,
    serviceofferingid: offering?.metadata.uid,
    serviceofferingname: offering ? displayName(offering) : spec.serviceOfferingRef.name,
    diskofferingid: rootDisk?.metadata.uid,
    diskofferingname: rootDisk ? displayName(rootDisk) : undefined,
    cpunumber: spec.cpuNumber ?? offering?.spec.cpuNumber,
    cpuspeed: spec.cpuSpeed ?? offering?.spec.cpuSpeed ?? 1000,
    memory: memory === undefined ? undefined : Math.round(memory / MiB),
    guestosid: template ? osTypeId(template.spec.osType ?? 'Other Linux (64-bit)') : undefined,
    ostypeid: template ? osTypeId(template.spec.osType ?? 'Other Linux (64-bit)') : undefined,
    osdisplayname: template?.spec.osType ?? 'Other Linux (64-bit)',
    rootdeviceid: 0,
    rootdevicetype: 'ROOT',
    securitygroup: [],
    nic: nics,
    ipaddress: nics.find((n) => n['isdefault'] === true)?.['ipaddress'],
    hypervisor: template?.spec.hypervisor ?? 'KVM',
    instancename: vm.status?.instanceName ?? `i-${(vm.metadata.uid ?? '').slice(0, 8)}`,
    details: detailsOf(vm),
    affinitygroup: affinity.filter((g) => g !== undefined).map((g) => ({ id: g.metadata.uid, name: displayName(g), type: g.spec.type, description: g.spec.description })),
    keypairs: keyPair ? displayName(keyPair) : undefined,
    group: spec.group,
    groupid: group?.metadata.uid,
    displayvm: true,
    // Comments (annotations) and delete protection (4.20) are not offered: no VM has either.
    hasannotations: false,
    deleteprotection: false,
    isdynamicallyscalable: template?.spec.isDynamicallyScalable ?? false,
    bootmode: spec.bootMode === 'SECURE' ? 'secure' : 'legacy',
    boottype: spec.bootType === 'UEFI' ? 'UEFI' : 'Bios',
    arch: template?.spec.arch ?? 'x86_64',
    userdata: spec.userData,
    userdataid: userData?.id,
    userdataname: userData?.name,
    userdatadetails: userData?.details,
    lastupdated: apiDate(vm.status?.conditions?.find((c) => c.type === 'Ready')?.lastTransitionTime),
    tags: tagFields(infra, vm, 'UserVm'),
  };
}


const vmRows = new WeakMap<VirtualMachineObject, { unchanged(): boolean; fields: Fields }>();

/**
 * vmFields, kept per VM object until the VM changes (the informer then holds a new object) or
 * one of the objects its row was built from does (readsOf: its zone, offering, template, host,
 * key pair, disk offering, affinity groups, networks and their offerings, instance group,
 * account, domain): a page of 500 VMs is served from built rows, the same objects each time,
 * so their conformed form and JSON are kept too (define.ts, envelope.ts).
 */
export function vmRow(infra: Infra, vm: VirtualMachineObject): Fields {
  const kept = vmRows.get(vm);
  if (kept?.unchanged()) return kept.fields;
  const reads = readsOf(infra.cache);
  const fields = vmFields({ ...infra, cache: reads.cache }, vm);
  reads.seal();
  vmRows.set(vm, { unchanged: reads.unchanged, fields });
  return fields;
}

/** The totals listVirtualMachinesMetrics adds, in the UI's units: cores × MHz as GHz, memory in MB. */
export function vmTotals(infra: Infra, vm: VirtualMachineObject): Fields {
  const offering = infra.cache.serviceOfferings.byName(vm.spec.serviceOfferingRef.name);
  const cores = vm.spec.cpuNumber ?? offering?.spec.cpuNumber ?? 0;
  const speed = vm.spec.cpuSpeed ?? offering?.spec.cpuSpeed ?? 1000;
  const memory = parseBytes(vm.spec.memory ?? offering?.spec.memory) ?? 0;
  return { cputotal: `${((cores * speed) / 1000).toFixed(2)} Ghz`, memorytotal: `${(memory / MiB).toFixed(2)} MB` };
}
