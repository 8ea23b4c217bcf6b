import { DiskOffering, NetworkOffering, ServiceOffering, parseBytes, type KindInfo, type DiskOfferingObject, type NetworkOfferingObject, type ServiceOfferingObject, type ZoneObject } from '../../crds/index.ts';
import type { KubeObject } from '../../lib/kube-client.ts';
import type { Cached } from '../lists/cache.ts';
import { byCreation, equalsIgnoringCase, findOptional, keywordMatches, mustFind } from '../lists/filters.ts';
import { domainLine } from '../lists/scope.ts';
import { isRootAdmin } from '../protocol/auth.ts';
import type { Fields } from '../protocol/envelope.ts';
import { entityNotFound, invalidParameterValue } from '../protocol/errors.ts';
import { type Command, type CommandContext, defineCommand } from './define.ts';
import type { Infra } from './context.ts';
import { failure } from './errors.ts';
import { createNamed, objectName } from './names.ts';
import { apiDate, commaList } from './infra-views.ts';

/**
 * Service, disk and network offerings. What sizes a VM, a volume or a network is immutable
 * (DESIGN.md); the update commands change what CloudStack's change: name, display text, sort
 * key, scope, tags, and a network offering's state and availability. The CRD keeps the rest
 * immutable, so kubectl meets the same line. Deleting one in use leaves it Inactive (hidden)
 * until its users are gone.
 */

type Scoped = KubeObject & {
  spec: { displayName?: string; displayText?: string; sortKey?: number; domainRefs?: { name: string }[]; zoneRefs?: { name: string }[] };
  status?: { state?: string };
};

const MiB = 2 ** 20;
const GiB = 2 ** 30;
const names = (refs: { name: string }[] | undefined, cache: Cached<KubeObject & { spec: { displayName?: string } }>, field: 'uid' | 'display') =>
  refs?.length ? refs.map((r) => (field === 'uid' ? cache.byName(r.name)?.metadata.uid : (cache.byName(r.name)?.spec.displayName ?? r.name)) ?? r.name).join(',') : undefined;

function scopeFields(infra: Infra, offering: Scoped): Fields {
  const domains = infra.cache.domains as unknown as Cached<KubeObject & { spec: { displayName?: string } }>;
  const zones = infra.cache.zones as unknown as Cached<KubeObject & { spec: { displayName?: string } }>;
  return {
    name: offering.spec.displayName ?? offering.metadata.name,
    displaytext: offering.spec.displayText ?? offering.spec.displayName ?? offering.metadata.name,
    domainid: names(offering.spec.domainRefs, domains, 'uid'),
    domain: names(offering.spec.domainRefs, domains, 'display'),
    zoneid: names(offering.spec.zoneRefs, zones, 'uid'),
    zone: names(offering.spec.zoneRefs, zones, 'display'),
    created: apiDate(offering.metadata.creationTimestamp),
    hasannotations: false,
  };
}

function rateFields(spec: { bytesReadRate?: number; bytesWriteRate?: number; iopsReadRate?: number; iopsWriteRate?: number; cacheMode?: string }): Fields {
  return { diskBytesReadRate: spec.bytesReadRate, diskBytesWriteRate: spec.bytesWriteRate, diskIopsReadRate: spec.iopsReadRate, diskIopsWriteRate: spec.iopsWriteRate, cacheMode: spec.cacheMode };
}

export function serviceOfferingItem(infra: Infra, o: ServiceOfferingObject): Fields {
  const s = o.spec;
  const disk = s.diskOfferingRef ? infra.cache.diskOfferings.byName(s.diskOfferingRef.name) : undefined;
  const memory = parseBytes(s.memory);
  return {
    id: o.metadata.uid,
    ...scopeFields(infra, o),
    cpunumber: s.cpuNumber,
    cpuspeed: s.cpuSpeed ?? 1000,
    memory: memory === undefined ? undefined : Math.round(memory / MiB),
    iscustomized: s.customized !== undefined,
    offerha: s.offerHa ?? false,
    limitcpuuse: s.limitCpuUse ?? false,
    isvolatile: s.isVolatile ?? false,
    dynamicscalingenabled: s.dynamicScalingEnabled ?? true,
    hosttags: commaList(s.hostTags),
    storagetags: commaList(s.storageTags),
    storagetype: s.storageType ?? 'shared',
    provisioningtype: s.provisioningType ?? 'thin',
    networkrate: s.networkRate,
    rootdisksize: s.rootDiskSize === undefined ? undefined : Math.round(parseBytes(s.rootDiskSize) / GiB),
    diskofferingid: disk?.metadata.uid,
    diskofferingname: disk ? (disk.spec.displayName ?? disk.metadata.name) : undefined,
    deploymentplanner: s.deploymentPlanner,
    state: o.status?.state ?? 'Active',
    issystem: false,
    defaultuse: false,
    iscustomizediops: false,
    ...rateFields(s),
  };
}

export function diskOfferingItem(infra: Infra, o: DiskOfferingObject): Fields {
  const s = o.spec;
  const size = parseBytes(s.diskSize);
  return {
    id: o.metadata.uid,
    ...scopeFields(infra, o),
    disksize: size === undefined ? 0 : Math.round(size / GiB),
    iscustomized: s.customized !== undefined,
    miniops: s.minIops,
    maxiops: s.maxIops,
    tags: commaList(s.storageTags),
    storagetype: s.storageType ?? 'shared',
    provisioningtype: s.provisioningType ?? 'thin',
    encrypt: s.encrypt ?? false,
    displayoffering: s.displayOffering ?? true,
    state: o.status?.state ?? 'Active',
    iscustomizediops: false,
    disksizestrictness: false,
    ...rateFields(s),
  };
}

/** Enabled or Disabled, as CloudStack names a network offering's state; one deleted while in use (Inactive) is Disabled. */
function networkOfferingState(o: NetworkOfferingObject): 'Enabled' | 'Disabled' {
  return o.status?.state === 'Inactive' || o.spec.state === 'Disabled' ? 'Disabled' : 'Enabled';
}

export function networkOfferingItem(infra: Infra, o: NetworkOfferingObject): Fields {
  const s = o.spec;
  return {
    id: o.metadata.uid,
    ...scopeFields(infra, o),
    guestiptype: s.guestIpType,
    traffictype: s.trafficType ?? 'Guest',
    service: (s.services ?? []).map((service) => ({ name: service.name, provider: [{ name: service.provider ?? 'VirtualRouter' }] })),
    specifyvlan: s.specifyVlan ?? false,
    specifyipranges: s.specifyIpRanges ?? false,
    ispersistent: s.persistent ?? false,
    conservemode: s.conserveMode ?? true,
    egressdefaultpolicy: s.egressDefaultAllow ?? true,
    availability: s.availability ?? 'Optional',
    internetprotocol: s.internetProtocol ?? 'IPv4',
    forvpc: s.forVpc ?? false,
    networkrate: s.networkRate,
    tags: commaList(s.tags),
    state: networkOfferingState(o),
    isdefault: false,
    fornsx: false,
    fortungsten: false,
    supportsinternallb: false,
    supportspublicaccess: false,
    supportsstrechedl2subnet: false,
  };
}

/** domainid / zoneid lists of a create command, as references; an unknown id is CloudStack's 431. */
function refsOf<T extends KubeObject>(cache: Cached<T>, ids: readonly string[] | undefined, label: string, param: string): { name: string }[] | undefined {
  if (ids === undefined || ids.length === 0 || (ids.length === 1 && ids[0]?.toLowerCase() === 'public') || (ids.length === 1 && ids[0] === 'all')) return undefined;
  return ids.map((id) => {
    const found = cache.byUid(id);
    if (!found) throw entityNotFound(label, param, id);
    return { name: found.metadata.name ?? '' };
  });
}

interface OfferingFilters {
  readonly id?: string;
  readonly name?: string;
  readonly keyword?: string;
  readonly domainid?: string;
  readonly zoneid?: string;
  readonly state?: string;
}

/** What every offering list shares: id, name, keyword, domain and zone scope, state; non-admins see public offerings and their domains'. */
function listScoped<T extends Scoped>(infra: Infra, ctx: CommandContext, cache: Cached<T>, label: string, p: OfferingFilters, stateOf: (o: T) => string): T[] {
  const one = findOptional(cache, p.id, label, 'id');
  const domain = findOptional(infra.cache.domains, p.domainid, label, 'domainid');
  const zone: ZoneObject | undefined = findOptional(infra.cache.zones, p.zoneid, label, 'zoneid');
  const visible = isRootAdmin(ctx.caller) ? undefined : domainLine(infra.cache, ctx.caller);
  return (one ? [one] : cache.list())
    .filter((o) => {
      const domains = o.spec.domainRefs?.map((r) => r.name);
      const zones = o.spec.zoneRefs?.map((r) => r.name);
      const name = o.spec.displayName ?? o.metadata.name;
      return (
        equalsIgnoringCase(p.name, name) &&
        keywordMatches(p.keyword, name, o.spec.displayText) &&
        (domain === undefined || domains === undefined || domains.includes(domain.metadata.name ?? '')) &&
        (visible === undefined || domains === undefined || domains.some((d) => visible.has(d))) &&
        (zone === undefined || zones === undefined || zones.includes(zone.metadata.name ?? '')) &&
        (p.state === undefined ? one !== undefined || stateOf(o) !== 'Inactive' : equalsIgnoringCase(p.state, stateOf(o)))
      );
    })
    .sort((a, b) => (a.spec.sortKey ?? 0) - (b.spec.sortKey ?? 0) || byCreation(a, b));
}

async function deleteOffering(infra: Infra, ctx: CommandContext, kind: KindInfo, cache: Cached<KubeObject>, id: string, label: string): Promise<undefined> {
  await infra.mayRead(ctx, kind);
  const offering = mustFind(cache, id, label, 'id');
  await infra
    .resource(ctx, kind)
    .delete({ name: offering.metadata.name ?? '' }, { preconditions: { uid: id } })
    .catch((err: unknown) => failure(err, ctx, { label, id }));
  return undefined;
}

const RATE_PARAMS = {
  bytesreadrate: { type: 'long', description: 'bytes read rate of the disk offering' },
  byteswriterate: { type: 'long', description: 'bytes write rate of the disk offering' },
  iopsreadrate: { type: 'long', description: 'io requests read rate of the disk offering' },
  iopswriterate: { type: 'long', description: 'io requests write rate of the disk offering' },
  cachemode: { type: 'string', description: 'the cache mode to use for this disk offering. none, writeback or writethrough', oneOf: ['none', 'writeback', 'writethrough'] },
} as const;

function rateSpec(p: { bytesreadrate?: number; byteswriterate?: number; iopsreadrate?: number; iopswriterate?: number; cachemode?: string }): Record<string, unknown> {
  return { bytesReadRate: p.bytesreadrate, bytesWriteRate: p.byteswriterate, iopsReadRate: p.iopsreadrate, iopsWriteRate: p.iopswriterate, cacheMode: p.cachemode };
}

/** Drops undefined members, so a created spec holds only what was given (the CRD defaults the rest). */
function defined<T extends Record<string, unknown>>(spec: T): T {
  return Object.fromEntries(Object.entries(spec).filter(([, v]) => v !== undefined)) as T;
}

const tagList = (text: string | undefined) => text?.split(',').map((t) => t.trim()).filter((t) => t !== '');

/** A tags parameter of an update as a merge patch: absent leaves the tags, an empty text removes them. */
const tagPatch = (text: string | undefined) => (text === undefined ? undefined : (tagList(text)?.length ? tagList(text) : null));

/** domainid / zoneid of an update as a merge patch: ids restrict the scope, `public` or `all` removes it. */
function scopePatch<T extends KubeObject>(cache: Cached<T>, text: string | undefined, label: string, param: string): { name: string }[] | null | undefined {
  if (text === undefined) return undefined;
  return refsOf(cache, tagList(text), label, param) ?? null;
}

/** The params every offering update takes, beyond the id (catalogue: update{Service,Disk,Network}Offering). */
const UPDATE_PARAMS = {
  name: { type: 'string', description: 'the name of the offering' },
  displaytext: { type: 'string', description: 'the display text of the offering', length: 4096 },
  sortkey: { type: 'integer', description: 'sort key of the offering, integer' },
  domainid: { type: 'string', description: 'the ID of the containing domain(s) as comma separated string, public for public offerings' },
  zoneid: { type: 'string', description: 'the ID of the containing zone(s) as comma separated string, all for all zones offerings' },
} as const;

/** The merge patch of what every offering update changes. */
function presentationPatch(infra: Infra, p: { name?: string; displaytext?: string; sortkey?: number; domainid?: string; zoneid?: string }, label: string): Record<string, unknown> {
  return {
    displayName: p.name,
    displayText: p.displaytext,
    sortKey: p.sortkey,
    domainRefs: scopePatch(infra.cache.domains, p.domainid, label, 'domainid'),
    zoneRefs: scopePatch(infra.cache.zones, p.zoneid, label, 'zoneid'),
  };
}

/** A service or disk offering's `state` on update: it is the controller's (Inactive once deleted in use), so only the state it has is accepted. */
function keepState(state: string | undefined, o: { status?: { state?: string } }, what: string, deleteCommand: string): void {
  const current = o.status?.state ?? 'Active';
  if (state === undefined || equalsIgnoringCase(state, current)) return;
  throw invalidParameterValue(`The state of a ${what} is ${current} and follows its life: it turns Inactive when ${deleteCommand} is called while it is in use; it cannot be set to ${state}`);
}

const SERVICE_OFFERING_PARAMS = {
  'spec.displayName': 'name',
  'spec.displayText': 'displaytext',
  'spec.cpuNumber': 'cpunumber',
  'spec.cpuSpeed': 'cpuspeed',
  'spec.memory': 'memory',
  'spec.customized': 'customized',
  'spec.customized.minCpuNumber': 'mincpunumber',
  'spec.customized.maxCpuNumber': 'maxcpunumber',
  'spec.customized.minMemory': 'minmemory',
  'spec.customized.maxMemory': 'maxmemory',
  'spec.hostTags': 'hosttags',
  'spec.storageTags': 'tags',
  'spec.diskOfferingRef.name': 'diskofferingid',
  'spec.rootDiskSize': 'rootdisksize',
  'spec.offerHa': 'offerha',
};
const DISK_OFFERING_PARAMS = { 'spec.displayName': 'name', 'spec.displayText': 'displaytext', 'spec.diskSize': 'disksize', 'spec.customized': 'customized', 'spec.minIops': 'miniops', 'spec.maxIops': 'maxiops', 'spec.storageTags': 'tags' };
const NETWORK_OFFERING_PARAMS = { 'spec.displayName': 'name', 'spec.displayText': 'displaytext', 'spec.guestIpType': 'guestiptype', 'spec.services': 'supportedservices', 'spec.specifyIpRanges': 'specifyipranges', 'spec.specifyVlan': 'specifyvlan' };

export function offeringCommands(infra: Infra): Command[] {
  const { cache } = infra;

  const createServiceOffering = defineCommand({
    name: 'createServiceOffering',
    kind: 'object',
    description: 'Creates a service offering.',
    params: {
      name: { type: 'string', description: 'the name of the service offering', required: true },
      displaytext: { type: 'string', description: 'The display text of the service offering, defaults to \'name\'.', required: true },
      cpunumber: { type: 'integer', description: 'the CPU number of the service offering' },
      cpuspeed: { type: 'integer', description: 'the CPU speed of the service offering in MHz.' },
      memory: { type: 'integer', description: 'the total memory of the service offering in MB' },
      customized: { type: 'boolean', description: 'Whether service offering size is custom or not' },
      mincpunumber: { type: 'integer', description: 'The minimum number of CPUs to be set with Custom Computer Offering' },
      maxcpunumber: { type: 'integer', description: 'The maximum number of CPUs to be set with Custom Computer Offering' },
      minmemory: { type: 'integer', description: 'The minimum memory size of the custom service offering in MB' },
      maxmemory: { type: 'integer', description: 'The maximum memory size of the custom service offering in MB' },
      offerha: { type: 'boolean', description: 'the HA for the service offering' },
      limitcpuuse: { type: 'boolean', description: 'restrict the CPU usage to committed service offering' },
      isvolatile: { type: 'boolean', description: 'true if the virtual machine needs to be volatile so that on every reboot of VM, original root disk is dettached then destroyed and a fresh root disk is created and attached to VM' },
      dynamicscalingenabled: { type: 'boolean', description: 'true if virtual machine needs to be dynamically scalable of cpu or memory' },
      hosttags: { type: 'string', description: 'the host tag for this service offering.' },
      tags: { type: 'string', description: 'the tags for this service offering.' },
      storagetype: { type: 'string', description: 'the storage type of the service offering. Values are local and shared.', oneOf: ['local', 'shared'] },
      provisioningtype: { type: 'string', description: 'provisioning type used to create volumes. Valid values are thin, sparse, fat.', oneOf: ['thin', 'sparse', 'fat'] },
      networkrate: { type: 'integer', description: 'data transfer rate in megabits per second allowed. Supported only for non-System offering and system offerings having "domainrouter" systemvmtype' },
      rootdisksize: { type: 'long', description: 'the Root disk size in GB.' },
      diskofferingid: { type: 'uuid', description: 'the ID of the disk offering to which service offering should be mapped', entity: 'diskoffering' },
      deploymentplanner: { type: 'string', description: 'The deployment planner heuristics used to deploy a VM of this offering. If null, value of global config vm.deployment.planner is used' },
      issystem: { type: 'boolean', description: 'is this a system vm offering' },
      domainid: { type: 'list', items: 'uuid', description: 'the ID of the containing domain(s), null for public offerings' },
      zoneid: { type: 'list', items: 'uuid', description: 'the ID of the containing zone(s), null for public offerings' },
      ...RATE_PARAMS,
    },
    async handle(p, ctx) {
      const label = 'createserviceoffering';
      await infra.mayRead(ctx, ServiceOffering);
      if (p.issystem === true) throw invalidParameterValue('System VM offerings are not supported: Kumulus runs no system VMs');
      const disk = findOptional(cache.diskOfferings, p.diskofferingid, label, 'diskofferingid');
      const customized = p.customized === true || (p.cpunumber === undefined && p.memory === undefined && (p.maxcpunumber !== undefined || p.maxmemory !== undefined));
      const spec = defined({
        displayName: p.name,
        displayText: p.displaytext,
        cpuNumber: customized ? undefined : p.cpunumber,
        cpuSpeed: p.cpuspeed,
        memory: customized || p.memory === undefined ? undefined : `${p.memory}Mi`,
        customized: customized
          ? defined({
              minCpuNumber: p.mincpunumber,
              maxCpuNumber: p.maxcpunumber ?? p.cpunumber,
              minMemory: p.minmemory === undefined ? undefined : `${p.minmemory}Mi`,
              maxMemory: p.maxmemory === undefined ? (p.memory === undefined ? undefined : `${p.memory}Mi`) : `${p.maxmemory}Mi`,
            })
          : undefined,
        offerHa: p.offerha,
        limitCpuUse: p.limitcpuuse,
        isVolatile: p.isvolatile,
        dynamicScalingEnabled: p.dynamicscalingenabled,
        hostTags: tagList(p.hosttags),
        storageTags: tagList(p.tags),
        storageType: p.storagetype,
        provisioningType: p.provisioningtype,
        networkRate: p.networkrate,
        rootDiskSize: p.rootdisksize === undefined ? undefined : `${p.rootdisksize}Gi`,
        diskOfferingRef: disk ? { name: disk.metadata.name ?? '' } : undefined,
        deploymentPlanner: p.deploymentplanner,
        domainRefs: refsOf(cache.domains, p.domainid, label, 'domainid'),
        zoneRefs: refsOf(cache.zones, p.zoneid, label, 'zoneid'),
        ...rateSpec(p),
      });
      return createNamed(infra.resource<ServiceOfferingObject>(ctx, ServiceOffering), objectName(p.name), (name) => ({
        apiVersion: ServiceOffering.apiVersion,
        kind: ServiceOffering.kind,
        metadata: { name },
        spec: spec as ServiceOfferingObject['spec'],
      })).catch((err: unknown) => failure(err, ctx, { label, params: SERVICE_OFFERING_PARAMS }));
    },
    map: (o) => serviceOfferingItem(infra, o),
  });

  const listServiceOfferings = defineCommand({
    name: 'listServiceOfferings',
    kind: 'list',
    description: 'Lists all available service offerings.',
    params: {
      id: { type: 'uuid', description: 'ID of the service offering', entity: 'serviceoffering' },
      name: { type: 'string', description: 'name of the service offering' },
      keyword: { type: 'string', description: 'List by keyword' },
      domainid: { type: 'uuid', description: 'the ID of the domain associated with the service offering', entity: 'domain' },
      zoneid: { type: 'uuid', description: 'id of zone disk offering is associated with', entity: 'zone' },
      state: { type: 'string', description: 'Filter by state of the service offering. Defaults to \'Active\'. If set to \'all\' shows both Active & Inactive offerings.' },
      issystem: { type: 'boolean', description: 'is this a system vm offering' },
      cpunumber: { type: 'integer', description: 'The number of CPUs the offering has' },
      memory: { type: 'integer', description: 'The memory the offering has in MB' },
      cpuspeed: { type: 'integer', description: 'The CPU speed of the offering in MHz' },
      storagetype: { type: 'string', description: 'The storage type of the service offering. Values are local and shared.' },
      account: { type: 'string', description: 'list resources by account. Must be used with the domainId parameter.' },
      isrecursive: { type: 'boolean', description: 'defaults to false, but if true, lists all resources from the parent specified by the domainId till leaves.' },
      listall: { type: 'boolean', description: 'If set to false, list only resources belonging to the command\'s caller; if set to true - list resources that the caller is authorized to see. Default value is false' },
    },
    async handle(p, ctx) {
      await infra.mayRead(ctx, ServiceOffering);
      if (p.issystem === true) return [];
      const state = p.state?.toLowerCase() === 'all' ? undefined : p.state;
      const rows = listScoped(infra, ctx, cache.serviceOfferings, 'listserviceofferings', { ...p, state }, (o) => o.status?.state ?? 'Active');
      return rows.filter((o) => {
        const item = serviceOfferingItem(infra, o);
        return (
          (p.cpunumber === undefined || o.spec.customized !== undefined || item['cpunumber'] === p.cpunumber) &&
          (p.memory === undefined || o.spec.customized !== undefined || item['memory'] === p.memory) &&
          (p.cpuspeed === undefined || item['cpuspeed'] === p.cpuspeed) &&
          equalsIgnoringCase(p.storagetype, o.spec.storageType ?? 'shared')
        );
      });
    },
    mapItem: (o) => serviceOfferingItem(infra, o),
  });

  const updateServiceOffering = defineCommand({
    name: 'updateServiceOffering',
    kind: 'object',
    description: 'Updates a service offering: its name, display text, sort key, scope and tags (its sizes are immutable).',
    params: {
      id: { type: 'uuid', description: 'the ID of the service offering to be updated', required: true, entity: 'serviceoffering' },
      ...UPDATE_PARAMS,
      hosttags: { type: 'string', description: 'comma-separated list of host tags for the service offering.' },
      storagetags: { type: 'string', description: 'comma-separated list of tags for the service offering, tags should match with existing storage pool tags' },
      state: { type: 'string', description: 'state of the service offering' },
    },
    async handle(p, ctx) {
      const label = 'updateserviceoffering';
      await infra.mayRead(ctx, ServiceOffering);
      const o = mustFind(cache.serviceOfferings, p.id, label, 'id');
      keepState(p.state, o, 'service offering', 'deleteServiceOffering');
      const spec = { ...presentationPatch(infra, p, label), hostTags: tagPatch(p.hosttags), storageTags: tagPatch(p.storagetags) };
      return infra
        .resource<ServiceOfferingObject>(ctx, ServiceOffering)
        .patch({ name: o.metadata.name ?? '' }, { spec }, 'merge')
        .catch((err: unknown) => failure(err, ctx, { label, id: p.id, params: SERVICE_OFFERING_PARAMS }));
    },
    map: (o) => serviceOfferingItem(infra, o),
  });

  const deleteServiceOffering = defineCommand({
    name: 'deleteServiceOffering',
    kind: 'success',
    description: 'Deletes a service offering.',
    params: { id: { type: 'uuid', description: 'the ID of the service offering', required: true, entity: 'serviceoffering' } },
    handle: (p, ctx) => deleteOffering(infra, ctx, ServiceOffering, cache.serviceOfferings as unknown as Cached<KubeObject>, p.id, 'deleteserviceoffering'),
  });

  const createDiskOffering = defineCommand({
    name: 'createDiskOffering',
    kind: 'object',
    description: 'Creates a disk offering.',
    params: {
      name: { type: 'string', description: 'name of the disk offering', required: true },
      displaytext: { type: 'string', description: 'An alternate display text of the disk offering, defaults to \'name\'.', required: true, length: 4096 },
      disksize: { type: 'long', description: 'size of the disk offering in GB (1GB = 1,073,741,824 bytes)' },
      customized: { type: 'boolean', description: 'whether disk offering size is custom or not' },
      miniops: { type: 'long', description: 'min iops of the disk offering' },
      maxiops: { type: 'long', description: 'max iops of the disk offering' },
      tags: { type: 'string', description: 'tags for the disk offering', length: 4096 },
      storagetype: { type: 'string', description: 'the storage type of the disk offering. Values are local and shared.', oneOf: ['local', 'shared'] },
      provisioningtype: { type: 'string', description: 'provisioning type used to create volumes. Valid values are thin, sparse, fat.', oneOf: ['thin', 'sparse', 'fat'] },
      encrypt: { type: 'boolean', description: 'Volumes using this offering should be encrypted' },
      displayoffering: { type: 'boolean', description: 'an optional field, whether to display the offering to the end user or not.' },
      domainid: { type: 'list', items: 'uuid', description: 'the ID of the containing domain(s), null for public offerings' },
      zoneid: { type: 'list', items: 'uuid', description: 'the ID of the containing zone(s), null for public offerings' },
      ...RATE_PARAMS,
    },
    async handle(p, ctx) {
      const label = 'creatediskoffering';
      await infra.mayRead(ctx, DiskOffering);
      const spec = defined({
        displayName: p.name,
        displayText: p.displaytext,
        diskSize: p.customized === true || p.disksize === undefined ? undefined : `${p.disksize}Gi`,
        customized: p.customized === true ? {} : undefined,
        minIops: p.miniops,
        maxIops: p.maxiops,
        storageTags: tagList(p.tags),
        storageType: p.storagetype,
        provisioningType: p.provisioningtype,
        encrypt: p.encrypt,
        displayOffering: p.displayoffering,
        domainRefs: refsOf(cache.domains, p.domainid, label, 'domainid'),
        zoneRefs: refsOf(cache.zones, p.zoneid, label, 'zoneid'),
        ...rateSpec(p),
      });
      return createNamed(infra.resource<DiskOfferingObject>(ctx, DiskOffering), objectName(p.name), (name) => ({
        apiVersion: DiskOffering.apiVersion,
        kind: DiskOffering.kind,
        metadata: { name },
        spec: spec as DiskOfferingObject['spec'],
      })).catch((err: unknown) => failure(err, ctx, { label, params: DISK_OFFERING_PARAMS }));
    },
    map: (o) => diskOfferingItem(infra, o),
  });

  const listDiskOfferings = defineCommand({
    name: 'listDiskOfferings',
    kind: 'list',
    description: 'Lists all available disk offerings.',
    params: {
      id: { type: 'uuid', description: 'ID of the disk offering', entity: 'diskoffering' },
      name: { type: 'string', description: 'name of the disk offering' },
      keyword: { type: 'string', description: 'List by keyword' },
      domainid: { type: 'uuid', description: 'the ID of the domain of the disk offering.', entity: 'domain' },
      zoneid: { type: 'uuid', description: 'id of zone disk offering is associated with', entity: 'zone' },
      state: { type: 'string', description: 'Filter by state of the disk offering. Defaults to \'Active\'. If set to \'all\' shows both Active & Inactive offerings.' },
      storagetype: { type: 'string', description: 'The storage type of the disk offering. Values are local and shared.' },
      encrypt: { type: 'boolean', description: 'listed offerings support disk encryption' },
      account: { type: 'string', description: 'list resources by account. Must be used with the domainId parameter.' },
      isrecursive: { type: 'boolean', description: 'defaults to false, but if true, lists all resources from the parent specified by the domainId till leaves.' },
      listall: { type: 'boolean', description: 'If set to false, list only resources belonging to the command\'s caller; if set to true - list resources that the caller is authorized to see. Default value is false' },
    },
    async handle(p, ctx) {
      await infra.mayRead(ctx, DiskOffering);
      const state = p.state?.toLowerCase() === 'all' ? undefined : p.state;
      return listScoped(infra, ctx, cache.diskOfferings, 'listdiskofferings', { ...p, state }, (o) => o.status?.state ?? 'Active').filter(
        (o) => equalsIgnoringCase(p.storagetype, o.spec.storageType ?? 'shared') && (p.encrypt === undefined || p.encrypt === (o.spec.encrypt ?? false)),
      );
    },
    mapItem: (o) => diskOfferingItem(infra, o),
  });

  const updateDiskOffering = defineCommand({
    name: 'updateDiskOffering',
    kind: 'object',
    description: 'Updates a disk offering: its name, display text, sort key, visibility, scope and storage tags (its size and limits are immutable).',
    params: {
      id: { type: 'uuid', description: 'ID of the disk offering', required: true, entity: 'diskoffering' },
      ...UPDATE_PARAMS,
      displayoffering: { type: 'boolean', description: 'an optional field, whether to display the offering to the end user or not.' },
      tags: { type: 'string', description: 'comma-separated list of tags for the disk offering, tags should match with existing storage pool tags', length: 4096 },
      state: { type: 'string', description: 'state of the disk offering' },
      ...RATE_PARAMS,
    },
    async handle(p, ctx) {
      const label = 'updatediskoffering';
      await infra.mayRead(ctx, DiskOffering);
      const o = mustFind(cache.diskOfferings, p.id, label, 'id');
      keepState(p.state, o, 'disk offering', 'deleteDiskOffering');
      const limits = Object.keys(RATE_PARAMS).filter((param) => p[param as keyof typeof RATE_PARAMS] !== undefined);
      if (limits.length > 0) {
        throw invalidParameterValue(`${limits.join(', ')} cannot change: a disk offering's rate limits and cache mode are immutable, since its volumes run with them; create a new disk offering and move the volumes to it`);
      }
      const spec = { ...presentationPatch(infra, p, label), displayOffering: p.displayoffering, storageTags: tagPatch(p.tags) };
      return infra
        .resource<DiskOfferingObject>(ctx, DiskOffering)
        .patch({ name: o.metadata.name ?? '' }, { spec }, 'merge')
        .catch((err: unknown) => failure(err, ctx, { label, id: p.id, params: DISK_OFFERING_PARAMS }));
    },
    map: (o) => diskOfferingItem(infra, o),
  });

  const deleteDiskOffering = defineCommand({
    name: 'deleteDiskOffering',
    kind: 'success',
    description: 'Updates a disk offering.',
    params: { id: { type: 'uuid', description: 'ID of the disk offering', required: true, entity: 'diskoffering' } },
    handle: (p, ctx) => deleteOffering(infra, ctx, DiskOffering, cache.diskOfferings as unknown as Cached<KubeObject>, p.id, 'deletediskoffering'),
  });

  const SERVICES = ['Dhcp', 'Dns', 'UserData', 'SourceNat', 'StaticNat', 'PortForwarding', 'Lb', 'Firewall', 'SecurityGroup', 'Vpn', 'NetworkACL', 'Gateway', 'Connectivity'] as const;
  const NETWORK_PROVIDERS = ['VirtualRouter', 'VpcVirtualRouter', 'InternalLbVm', 'SecurityGroupProvider', 'ConfigDrive'] as const;

  const createNetworkOffering = defineCommand({
    name: 'createNetworkOffering',
    kind: 'object',
    description: 'Creates a network offering.',
    params: {
      name: { type: 'string', description: 'the name of the network offering', required: true },
      displaytext: { type: 'string', description: 'the display text of the network offering, defaults to the value of \'name\'.', required: true },
      guestiptype: { type: 'string', description: 'guest type of the network offering: Shared, Isolated or L2', required: true, oneOf: ['Isolated', 'Shared', 'L2'] },
      traffictype: { type: 'string', description: 'the traffic type for the network offering. Supported type in current release is GUEST only', required: true, oneOf: ['GUEST', 'Guest'] },
      supportedservices: { type: 'list', description: 'services supported by the network offering' },
      serviceproviderlist: { type: 'map', description: 'provider to service mapping. If not specified, the provider for the service will be mapped to the default provider on the physical network' },
      specifyvlan: { type: 'boolean', description: 'true if network offering supports vlans' },
      specifyipranges: { type: 'boolean', description: 'true if network offering supports specifying ip ranges; defaulted to false if not specified' },
      ispersistent: { type: 'boolean', description: 'true if network offering supports persistent networks; defaulted to false if not specified' },
      conservemode: { type: 'boolean', description: 'true if the network offering is IP conserve mode enabled' },
      egressdefaultpolicy: { type: 'boolean', description: 'true if guest network default egress policy is allow; false if default egress policy is deny' },
      availability: { type: 'string', description: 'the availability of network offering. The default value is Optional.  Another value is Required, which will make it as the default network offering for new networks ', oneOf: ['Optional', 'Required'] },
      internetprotocol: { type: 'string', description: 'The internet protocol of network offering. Options are ipv4 and dualstack. Default is ipv4. dualstack will create a network offering that supports both IPv4 and IPv6' },
      forvpc: { type: 'boolean', description: 'true if network offering is meant to be used for VPC, false otherwise.' },
      networkrate: { type: 'integer', description: 'data transfer rate in megabits per second allowed' },
      tags: { type: 'string', description: 'the tags for the network offering.', length: 4096 },
      enable: { type: 'boolean', description: 'set to true if the offering is to be enabled during creation. Default is false' },
      domainid: { type: 'list', items: 'uuid', description: 'the ID of the containing domain(s), null for public offerings' },
      zoneid: { type: 'list', items: 'uuid', description: 'the ID of the containing zone(s), null for public offerings' },
    },
    async handle(p, ctx) {
      const label = 'createnetworkoffering';
      await infra.mayRead(ctx, NetworkOffering);
      const providers = new Map((p.serviceproviderlist ?? []).map((entry) => [entry['service'] ?? '', entry['provider'] ?? '']));
      const services = (p.supportedservices ?? []).map((service) => {
        const name = SERVICES.find((s) => s.toLowerCase() === service.toLowerCase());
        if (name === undefined) throw invalidParameterValue(`Invalid service ${service}; supported services: ${SERVICES.join(', ')}`);
        const providerText = providers.get(service) ?? providers.get(name);
        const provider = providerText === undefined ? undefined : NETWORK_PROVIDERS.find((x) => x.toLowerCase() === providerText.toLowerCase());
        if (providerText !== undefined && provider === undefined) throw invalidParameterValue(`Invalid network service provider ${providerText} for service ${name}; use one of: ${NETWORK_PROVIDERS.join(', ')}`);
        return defined({ name, provider });
      });
      const protocol = p.internetprotocol === undefined ? undefined : p.internetprotocol.toLowerCase() === 'dualstack' ? 'DualStack' : p.internetprotocol.toLowerCase() === 'ipv4' ? 'IPv4' : 'invalid';
      if (protocol === 'invalid') throw invalidParameterValue(`Invalid internetprotocol ${p.internetprotocol ?? ''}: use ipv4 or dualstack`);
      const spec = defined({
        displayName: p.name,
        displayText: p.displaytext,
        guestIpType: p.guestiptype,
        trafficType: 'Guest',
        services: services.length ? services : undefined,
        specifyVlan: p.specifyvlan,
        specifyIpRanges: p.specifyipranges,
        persistent: p.ispersistent,
        conserveMode: p.conservemode,
        egressDefaultAllow: p.egressdefaultpolicy,
        availability: p.availability,
        internetProtocol: protocol,
        forVpc: p.forvpc,
        networkRate: p.networkrate,
        tags: tagList(p.tags),
        // CloudStack creates a network offering Disabled unless enable=true; Kumulus creates it Enabled unless enable=false says otherwise.
        state: p.enable === false ? 'Disabled' : undefined,
        domainRefs: refsOf(cache.domains, p.domainid, label, 'domainid'),
        zoneRefs: refsOf(cache.zones, p.zoneid, label, 'zoneid'),
      });
      return createNamed(infra.resource<NetworkOfferingObject>(ctx, NetworkOffering), objectName(p.name), (name) => ({
        apiVersion: NetworkOffering.apiVersion,
        kind: NetworkOffering.kind,
        metadata: { name },
        spec: spec as NetworkOfferingObject['spec'],
      })).catch((err: unknown) => failure(err, ctx, { label, params: NETWORK_OFFERING_PARAMS }));
    },
    map: (o) => networkOfferingItem(infra, o),
  });

  const listNetworkOfferings = defineCommand({
    name: 'listNetworkOfferings',
    kind: 'list',
    description: 'Lists all available network offerings.',
    params: {
      id: { type: 'uuid', description: 'list network offerings by ID', entity: 'networkoffering' },
      name: { type: 'string', description: 'list network offerings by name' },
      keyword: { type: 'string', description: 'List by keyword' },
      guestiptype: { type: 'string', description: 'list network offerings by guest type: shared, l2 or isolated' },
      traffictype: { type: 'string', description: 'list by traffic type' },
      state: { type: 'string', description: 'list network offerings by state' },
      domainid: { type: 'uuid', description: 'the ID of the containing domain(s), null for public offerings', entity: 'domain' },
      zoneid: { type: 'uuid', description: 'list network offerings available for network creation in specific zone', entity: 'zone' },
      specifyvlan: { type: 'boolean', description: 'the tags for the network offering.' },
      forvpc: { type: 'boolean', description: 'the network offering can be used only for network creation inside the VPC' },
      supportedservices: { type: 'list', description: 'list network offerings supporting certain services' },
    },
    async handle(p, ctx) {
      await infra.mayRead(ctx, NetworkOffering);
      const stateOf = networkOfferingState;
      const rows = listScoped(infra, ctx, cache.networkOfferings, 'listnetworkofferings', { ...p, state: undefined }, (o) => o.status?.state ?? 'Active');
      return rows.filter(
        (o) =>
          equalsIgnoringCase(p.guestiptype, o.spec.guestIpType) &&
          equalsIgnoringCase(p.traffictype, o.spec.trafficType ?? 'Guest') &&
          equalsIgnoringCase(p.state, stateOf(o)) &&
          (p.specifyvlan === undefined || p.specifyvlan === (o.spec.specifyVlan ?? false)) &&
          (p.forvpc === undefined || p.forvpc === (o.spec.forVpc ?? false)) &&
          (p.supportedservices ?? []).every((s) => (o.spec.services ?? []).some((x) => x.name.toLowerCase() === s.toLowerCase())),
      );
    },
    mapItem: (o) => networkOfferingItem(infra, o),
  });

  const updateNetworkOffering = defineCommand({
    name: 'updateNetworkOffering',
    kind: 'object',
    description: 'Updates a network offering: its name, display text, sort key, state, availability, scope and tags (its kind and services are immutable).',
    params: {
      id: { type: 'uuid', description: 'the id of the network offering', entity: 'networkoffering' },
      ...UPDATE_PARAMS,
      state: { type: 'string', description: 'update state for the network offering', oneOf: ['Enabled', 'Disabled'] },
      availability: { type: 'string', description: 'the availability of network offering. The value is Required makes this network offering default for Guest Virtual Networks. Only one network offering can have the value Required', oneOf: ['Optional', 'Required'] },
      tags: { type: 'string', description: 'the tags for the network offering.', length: 4096 },
      keepaliveenabled: { type: 'boolean', description: 'if true keepalive will be turned on in the loadbalancer. At the time of writing this has only an effect on haproxy; the mode http and httpclose options are unset in the haproxy conf file.' },
      maxconnections: { type: 'integer', description: 'maximum number of concurrent connections supported by the network offering' },
    },
    async handle(p, ctx) {
      const label = 'updatenetworkoffering';
      await infra.mayRead(ctx, NetworkOffering);
      if (p.id === undefined) throw invalidParameterValue('Unable to update the network offering: give its id');
      const o = mustFind(cache.networkOfferings, p.id, label, 'id');
      if (p.keepaliveenabled !== undefined || p.maxconnections !== undefined) {
        throw invalidParameterValue('keepaliveenabled and maxconnections configure a load balancer, and Kumulus networks offer no Lb service: leave them out');
      }
      if (p.state === 'Enabled' && o.status?.state === 'Inactive') {
        throw invalidParameterValue(`Network offering ${o.spec.displayName ?? o.metadata.name ?? ''} is being deleted while networks still use it; it cannot be enabled again: create a new offering`);
      }
      const spec = { ...presentationPatch(infra, p, label), state: p.state, availability: p.availability, tags: tagPatch(p.tags) };
      return infra
        .resource<NetworkOfferingObject>(ctx, NetworkOffering)
        .patch({ name: o.metadata.name ?? '' }, { spec }, 'merge')
        .catch((err: unknown) => failure(err, ctx, { label, id: p.id, params: NETWORK_OFFERING_PARAMS }));
    },
    map: (o) => networkOfferingItem(infra, o),
  });

  const deleteNetworkOffering = defineCommand({
    name: 'deleteNetworkOffering',
    kind: 'success',
    description: 'Deletes a network offering.',
    params: { id: { type: 'uuid', description: 'the ID of the network offering', required: true, entity: 'networkoffering' } },
    handle: (p, ctx) => deleteOffering(infra, ctx, NetworkOffering, cache.networkOfferings as unknown as Cached<KubeObject>, p.id, 'deletenetworkoffering'),
  });

  return [
    createServiceOffering,
    listServiceOfferings,
    updateServiceOffering,
    deleteServiceOffering,
    createDiskOffering,
    listDiskOfferings,
    updateDiskOffering,
    deleteDiskOffering,
    createNetworkOffering,
    listNetworkOfferings,
    updateNetworkOffering,
    deleteNetworkOffering,
  ];
}
