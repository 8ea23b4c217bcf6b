import { PhysicalNetwork, SUBJECT_ANNOTATION, type PhysicalNetworkObject } from '../../crds/index.ts';
import { isConflict, type ResourceClient } from '../../lib/kube-client.ts';
import { derivedUuid } from '../lists/cache.ts';
import { INDEX } from '../lists/indexes.ts';
import { byCreation, equalsIgnoringCase, findOptional, keywordMatches, mustFind } from '../lists/filters.ts';
import type { Fields } from '../protocol/envelope.ts';
import { entityNotFound, internalError, invalidParameterValue } from '../protocol/errors.ts';
import type { CommandContext } from './define.ts';
import { type Command, defineCommand } from './define.ts';
import type { Infra } from './context.ts';
import { failure } from './errors.ts';
import { createNamed, displayName, objectName } from './names.ts';
import { canonical, commaList, zoneFields, zoneNamed } from './infra-views.ts';

/**
 * Physical networks, their traffic types and network service providers (step 3 of the
 * bring-up). Traffic types and providers live inside the PhysicalNetwork; their ids are
 * name-based UUIDs derived from the network's uid, so they are as stable as the network's.
 */

type Spec = PhysicalNetworkObject['spec'];
type TrafficType = Spec['trafficTypes'][number];
export type Provider = NonNullable<Spec['serviceProviders']>[number];

const TRAFFIC_TYPES = ['Guest', 'Management', 'Public', 'Storage'] as const;
const ISOLATION = ['VLAN', 'VXLAN'] as const;
export const PROVIDERS = ['VirtualRouter', 'VpcVirtualRouter', 'InternalLbVm', 'SecurityGroupProvider', 'ConfigDrive'] as const;
const PROVIDER_STATES = ['Enabled', 'Disabled', 'Shutdown'] as const;
/** The bridge a traffic type rides on when addTrafficType names none (CloudStack's KVM default). */
const DEFAULT_KVM_LABEL = 'cloudbr0';
const PN_PARAMS = { 'spec.displayName': 'name', 'spec.vlanRanges': 'vlan', 'spec.vniRanges': 'vlan', 'spec.isolationMethods': 'isolationmethods', 'spec.zoneRef.name': 'zoneid' };

export const SERVICES: Record<Provider['name'], string[]> = {
  VirtualRouter: ['Dhcp', 'Dns', 'UserData', 'SourceNat', 'StaticNat', 'PortForwarding', 'Lb', 'Firewall', 'Vpn', 'Gateway'],
  VpcVirtualRouter: ['Dhcp', 'Dns', 'UserData', 'SourceNat', 'StaticNat', 'PortForwarding', 'Lb', 'NetworkACL', 'Vpn', 'Gateway'],
  InternalLbVm: ['Lb'],
  SecurityGroupProvider: ['SecurityGroup'],
  ConfigDrive: ['UserData'],
};

export const trafficTypeId = (pn: PhysicalNetworkObject, type: string) => derivedUuid(pn.metadata.uid ?? '', `traffictype/${type}`);
export const providerId = (pn: PhysicalNetworkObject, name: string) => derivedUuid(pn.metadata.uid ?? '', `provider/${name}`);

/** `100-199` or `100-199,300-400` (CloudStack's `vlan`) as ranges, or undefined when malformed. */
function parseRanges(text: string): { start: number; end: number }[] | undefined {
  const ranges = text.split(/[,;]/).map((part) => {
    const match = /^\s*(\d+)\s*(?:-\s*(\d+)\s*)?$/.exec(part);
    if (!match) return undefined;
    const start = Number(match[1]);
    return { start, end: match[2] === undefined ? start : Number(match[2]) };
  });
  return ranges.every((r) => r !== undefined) ? ranges : undefined;
}

function showRanges(ranges: { start: number; end: number }[] | undefined): string | undefined {
  return ranges?.length ? ranges.map((r) => (r.start === r.end ? String(r.start) : `${r.start}-${r.end}`)).join(';') : undefined;
}

/** The providers CloudStack adds to a new physical network, all Disabled until enabled. */
function defaultProviders(): Provider[] {
  return PROVIDERS.map((name) => ({ name, state: 'Disabled' }));
}

/** The providers of a network: its spec, or (for one written without any) what the controller reports. */
export function providersOf(pn: PhysicalNetworkObject): Provider[] {
  return pn.spec.serviceProviders ?? pn.status?.serviceProviders ?? [
    { name: 'VirtualRouter', state: 'Enabled' },
    { name: 'ConfigDrive', state: 'Enabled' },
  ];
}

export function physicalNetworkItem(infra: Infra, pn: PhysicalNetworkObject): Fields {
  const spec = pn.spec;
  return {
    id: pn.metadata.uid,
    name: displayName(pn),
    ...zoneFields(zoneNamed(infra, spec.zoneRef.name)),
    state: pn.status?.state ?? spec.state ?? 'Enabled',
    isolationmethods: spec.isolationMethods.join(','),
    vlan: showRanges(spec.isolationMethods.includes('VLAN') ? spec.vlanRanges : spec.vniRanges),
    broadcastdomainrange: spec.broadcastDomainRange ?? 'ZONE',
    networkspeed: spec.networkSpeed,
    tags: commaList(spec.tags),
  };
}

function trafficTypeItem(pn: PhysicalNetworkObject, traffic: TrafficType): Fields {
  return {
    id: trafficTypeId(pn, traffic.type),
    traffictype: traffic.type,
    physicalnetworkid: pn.metadata.uid,
    kvmnetworklabel: traffic.kvmLabel,
  };
}

export function providerItem(pn: PhysicalNetworkObject, provider: Provider): Fields {
  const observed = pn.status?.serviceProviders?.find((p) => p.name === provider.name)?.state;
  return {
    id: providerId(pn, provider.name),
    name: provider.name,
    physicalnetworkid: pn.metadata.uid,
    state: provider.state ?? observed ?? 'Enabled',
    servicelist: SERVICES[provider.name],
    canenableindividualservice: provider.name === 'VirtualRouter' || provider.name === 'VpcVirtualRouter',
    destinationphysicalnetworkid: '0',
  };
}

/** listTrafficTypes answers with traffic types, not the provider fields the catalogue lists (ListTrafficTypesCmd declares the wrong class). */
const trafficTypeFieldTypes = {
  id: 'string',
  traffictype: 'string',
  physicalnetworkid: 'string',
  kvmnetworklabel: 'string',
  jobid: 'string',
  jobstatus: 'number',
} as const;

/** Reads the network fresh as the caller, changes it, writes it back with its resourceVersion; a conflict is retried. */
export async function modify(resource: ResourceClient<PhysicalNetworkObject>, name: string, change: (spec: Spec) => Spec): Promise<PhysicalNetworkObject> {
  for (let attempt = 1; ; attempt++) {
    const current = await resource.get({ name });
    try {
      return await resource.update({ ...current, spec: change(current.spec) });
    } catch (err) {
      if (!isConflict(err) || attempt >= 5) throw err;
    }
  }
}

export function physicalNetworkCommands(infra: Infra): Command[] {
  const { cache } = infra;
  const pnOf = (job: { spec: { targetRef: { uid?: string; name: string } } }) =>
    job.spec.targetRef.uid !== undefined ? cache.physicalNetworks.byUid(job.spec.targetRef.uid) : cache.physicalNetworks.byName(job.spec.targetRef.name);
  for (const command of ['createPhysicalNetwork', 'updatePhysicalNetwork']) {
    infra.jobResults.set(command, (job) => {
      const pn = pnOf(job);
      return pn && physicalNetworkItem(infra, pn);
    });
  }
  for (const command of ['addTrafficType', 'updateTrafficType']) {
    infra.jobResults.set(command, (job) => {
      const pn = pnOf(job);
      const traffic = pn?.spec.trafficTypes.find((t) => t.type === job.metadata.annotations?.[SUBJECT_ANNOTATION]);
      return pn && traffic && trafficTypeItem(pn, traffic);
    });
  }
  infra.jobResults.set('updateNetworkServiceProvider', (job) => {
    const pn = pnOf(job);
    const provider = pn && providersOf(pn).find((p) => p.name === job.metadata.annotations?.[SUBJECT_ANNOTATION]);
    return pn && provider && providerItem(pn, provider);
  });

  const resource = (ctx: CommandContext) => infra.resource<PhysicalNetworkObject>(ctx, PhysicalNetwork);

  /** The network holding the traffic type with this id. */
  function findTrafficType(id: string, label: string): { pn: PhysicalNetworkObject; traffic: TrafficType } {
    for (const pn of cache.physicalNetworks.list()) {
      const traffic = pn.spec.trafficTypes.find((t) => trafficTypeId(pn, t.type) === id);
      if (traffic) return { pn, traffic };
    }
    throw entityNotFound(label, 'id', id);
  }

  const createPhysicalNetwork = defineCommand({
    name: 'createPhysicalNetwork',
    kind: 'async',
    description: 'Creates a physical network',
    params: {
      name: { type: 'string', description: 'the name of the physical network', required: true },
      zoneid: { type: 'uuid', description: 'the Zone ID for the physical network', required: true, entity: 'zone' },
      isolationmethods: { type: 'list', description: 'the isolation method for the physical network: VLAN, VXLAN' },
      vlan: { type: 'string', description: 'the VLAN (or VXLAN VNI) range(s) for the physical network, such as 100-199' },
      broadcastdomainrange: { type: 'string', description: 'the broadcast domain range for the physical network[Pod or Zone]. In Acton release it can be Zone only in Advance zone, and Pod in Basic', oneOf: ['ZONE', 'POD', 'Zone', 'Pod'] },
      networkspeed: { type: 'string', description: 'the speed for the physical network[1G/10G]' },
      tags: { type: 'list', description: 'Tag the physical network' },
    },
    async handle(p, ctx) {
      const label = 'createphysicalnetwork';
      await infra.mayRead(ctx, PhysicalNetwork);
      const zone = mustFind(cache.zones, p.zoneid, label, 'zoneid');
      const methods = (p.isolationmethods ?? ['VLAN']).map((m) => canonical(m, ISOLATION) ?? m);
      const bad = methods.find((m) => !(ISOLATION as readonly string[]).includes(m));
      if (bad !== undefined) throw invalidParameterValue(`Invalid isolation method ${bad}: Kumulus isolates guest networks by ${ISOLATION.join(' or ')}`);
      const ranges = p.vlan === undefined ? undefined : parseRanges(p.vlan);
      if (p.vlan !== undefined && ranges === undefined) throw invalidParameterValue(`Invalid parameter vlan value=${p.vlan}: give a range such as 100-199, or several separated by commas`);
      const vlanKey = methods.includes('VLAN') ? 'vlanRanges' : 'vniRanges';
      const pn = await createNamed(resource(ctx), objectName(p.name), (name) => ({
        apiVersion: PhysicalNetwork.apiVersion,
        kind: PhysicalNetwork.kind,
        metadata: { name },
        spec: {
          displayName: p.name,
          zoneRef: { name: zone.metadata.name ?? '' },
          isolationMethods: methods as Spec['isolationMethods'],
          ...(ranges ? { [vlanKey]: ranges } : {}),
          ...(p.broadcastdomainrange !== undefined ? { broadcastDomainRange: p.broadcastdomainrange.toUpperCase() as 'ZONE' | 'POD' } : {}),
          ...(p.networkspeed !== undefined ? { networkSpeed: p.networkspeed } : {}),
          ...(p.tags !== undefined ? { tags: p.tags } : {}),
          trafficTypes: [],
          serviceProviders: defaultProviders(),
          // CloudStack creates physical networks Disabled; updatePhysicalNetwork state=Enabled finishes them.
          state: 'Disabled' as const,
        },
      })).catch((err: unknown) => failure(err, ctx, { label, params: PN_PARAMS }));
      return { id: pn.metadata.uid, jobid: await infra.submitJob(ctx, { target: pn, kind: PhysicalNetwork }) };
    },
  });

  const updatePhysicalNetwork = defineCommand({
    name: 'updatePhysicalNetwork',
    kind: 'async',
    description: 'Updates a physical network',
    params: {
      id: { type: 'uuid', description: 'physical network id', required: true, entity: 'physicalnetwork' },
      state: { type: 'string', description: 'Enabled/Disabled', oneOf: ['Enabled', 'Disabled'] },
      vlan: { type: 'string', description: 'the VLAN (or VXLAN VNI) range(s) for the physical network, such as 100-199' },
      tags: { type: 'list', description: 'Tag the physical network' },
      networkspeed: { type: 'string', description: 'the speed for the physical network[1G/10G]' },
    },
    async handle(p, ctx) {
      const label = 'updatephysicalnetwork';
      await infra.mayRead(ctx, PhysicalNetwork);
      const pn = mustFind(cache.physicalNetworks, p.id, label, 'id');
      const ranges = p.vlan === undefined ? undefined : parseRanges(p.vlan);
      if (p.vlan !== undefined && ranges === undefined) throw invalidParameterValue(`Invalid parameter vlan value=${p.vlan}: give a range such as 100-199, or several separated by commas`);
      const vlanKey = pn.spec.isolationMethods.includes('VLAN') ? 'vlanRanges' : 'vniRanges';
      const spec = { state: p.state, tags: p.tags, networkSpeed: p.networkspeed, ...(ranges ? { [vlanKey]: ranges } : {}) };
      const updated = await resource(ctx)
        .patch({ name: pn.metadata.name ?? '' }, { spec }, 'merge')
        .catch((err: unknown) => failure(err, ctx, { label, id: p.id, params: PN_PARAMS }));
      return { jobid: await infra.submitJob(ctx, { target: updated, kind: PhysicalNetwork }) };
    },
  });

  const deletePhysicalNetwork = defineCommand({
    name: 'deletePhysicalNetwork',
    kind: 'async',
    description: 'Deletes a Physical Network.',
    params: { id: { type: 'uuid', description: 'the ID of the Physical network', required: true, entity: 'physicalnetwork' } },
    async handle(p, ctx) {
      const label = 'deletephysicalnetwork';
      await infra.mayRead(ctx, PhysicalNetwork);
      const pn = mustFind(cache.physicalNetworks, p.id, label, 'id');
      const name = pn.metadata.name ?? '';
      const ranges = cache.ipRanges.byIndex(INDEX.zone, pn.spec.zoneRef.name).filter((r) => r.spec.physicalNetworkRef?.name === name);
      if (ranges.length > 0) throw internalError(`The Physical Network is not deletable because there are IP ranges using it (${ranges.map((r) => r.metadata.name).join(', ')})`);
      await resource(ctx)
        .delete({ name }, { preconditions: { uid: p.id } })
        .catch((err: unknown) => failure(err, ctx, { label, id: p.id }));
      return { jobid: await infra.submitJob(ctx, { target: pn, kind: PhysicalNetwork, deleted: true }) };
    },
  });

  const listPhysicalNetworks = defineCommand({
    name: 'listPhysicalNetworks',
    kind: 'list',
    description: 'Lists physical networks',
    params: {
      id: { type: 'uuid', description: 'list physical network by id', entity: 'physicalnetwork' },
      name: { type: 'string', description: 'search by name' },
      zoneid: { type: 'uuid', description: 'the Zone ID for the physical network', entity: 'zone' },
      keyword: { type: 'string', description: 'List by keyword' },
    },
    async handle(p, ctx) {
      const label = 'listphysicalnetworks';
      await infra.mayRead(ctx, PhysicalNetwork);
      const one = findOptional(cache.physicalNetworks, p.id, label, 'id');
      const zone = findOptional(cache.zones, p.zoneid, label, 'zoneid');
      const networks = one ? [one] : zone ? cache.physicalNetworks.byIndex(INDEX.zone, zone.metadata.name ?? '') : cache.physicalNetworks.list();
      return networks
        .filter((pn) => (zone === undefined || pn.spec.zoneRef.name === zone.metadata.name) && equalsIgnoringCase(p.name, displayName(pn)) && keywordMatches(p.keyword, displayName(pn)))
        .sort(byCreation);
    },
    mapItem: (pn) => physicalNetworkItem(infra, pn),
  });

  const addTrafficType = defineCommand({
    name: 'addTrafficType',
    kind: 'async',
    description: 'Adds traffic type to a physical network',
    params: {
      physicalnetworkid: { type: 'uuid', description: 'the Physical Network ID', required: true, entity: 'physicalnetwork' },
      traffictype: { type: 'string', description: 'the trafficType to be added to the physical network', required: true, oneOf: TRAFFIC_TYPES },
      kvmnetworklabel: { type: 'string', description: `The network name label of the physical device dedicated to this traffic on a KVM host (default ${DEFAULT_KVM_LABEL})` },
      vlan: { type: 'string', description: 'The VLAN id to be used for Management traffic by the host' },
      isolationmethod: { type: 'string', description: 'Used if physical network has multiple isolation types and traffic type is public. Choose which isolation method. Valid options currently \'vlan\' or \'vxlan\', defaults to \'vlan\'.' },
    },
    async handle(p, ctx) {
      const label = 'addtraffictype';
      await infra.mayRead(ctx, PhysicalNetwork);
      const pn = mustFind(cache.physicalNetworks, p.physicalnetworkid, label, 'physicalnetworkid');
      if (pn.spec.trafficTypes.some((t) => t.type === p.traffictype)) throw invalidParameterValue(`This physical network already supports the traffic type: ${p.traffictype}`);
      const vlan = p.vlan === undefined || p.vlan === '' || p.vlan.toLowerCase() === 'untagged' ? undefined : Number(p.vlan);
      if (vlan !== undefined && !Number.isInteger(vlan)) throw invalidParameterValue(`Invalid parameter vlan value=${p.vlan}: give a VLAN id from 1 to 4094`);
      const traffic: TrafficType = { type: p.traffictype as TrafficType['type'], kvmLabel: p.kvmnetworklabel ?? DEFAULT_KVM_LABEL, ...(vlan !== undefined ? { vlan } : {}) };
      const params = { ...PN_PARAMS, 'spec.trafficTypes': 'traffictype', [`spec.trafficTypes[${pn.spec.trafficTypes.length}].kvmLabel`]: 'kvmnetworklabel', [`spec.trafficTypes[${pn.spec.trafficTypes.length}].type`]: 'traffictype', [`spec.trafficTypes[${pn.spec.trafficTypes.length}].vlan`]: 'vlan' };
      const updated = await modify(resource(ctx), pn.metadata.name ?? '', (spec) => {
        if (spec.trafficTypes.some((t) => t.type === traffic.type)) throw invalidParameterValue(`This physical network already supports the traffic type: ${traffic.type}`);
        return { ...spec, trafficTypes: [...spec.trafficTypes, traffic] };
      }).catch((err: unknown) => failure(err, ctx, { label, id: p.physicalnetworkid, params }));
      return { id: trafficTypeId(updated, traffic.type), jobid: await infra.submitJob(ctx, { target: updated, kind: PhysicalNetwork, subject: traffic.type }) };
    },
  });

  const updateTrafficType = defineCommand({
    name: 'updateTrafficType',
    kind: 'async',
    description: 'Updates traffic type of a physical network',
    params: {
      id: { type: 'uuid', description: 'traffic type id', required: true, entity: 'traffictype' },
      kvmnetworklabel: { type: 'string', description: 'The network name label of the physical device dedicated to this traffic on a KVM host' },
    },
    async handle(p, ctx) {
      const label = 'updatetraffictype';
      await infra.mayRead(ctx, PhysicalNetwork);
      const { pn, traffic } = findTrafficType(p.id, label);
      const index = pn.spec.trafficTypes.indexOf(traffic);
      const updated = await modify(resource(ctx), pn.metadata.name ?? '', (spec) => ({
        ...spec,
        trafficTypes: spec.trafficTypes.map((t) => (t.type === traffic.type && p.kvmnetworklabel !== undefined ? { ...t, kvmLabel: p.kvmnetworklabel } : t)),
      })).catch((err: unknown) => failure(err, ctx, { label, id: p.id, params: { [`spec.trafficTypes[${index}].kvmLabel`]: 'kvmnetworklabel' } }));
      return { jobid: await infra.submitJob(ctx, { target: updated, kind: PhysicalNetwork, subject: traffic.type }) };
    },
  });

  const deleteTrafficType = defineCommand({
    name: 'deleteTrafficType',
    kind: 'async',
    description: 'Deletes traffic type of a physical network',
    params: { id: { type: 'uuid', description: 'traffic type id', required: true, entity: 'traffictype' } },
    async handle(p, ctx) {
      const label = 'deletetraffictype';
      await infra.mayRead(ctx, PhysicalNetwork);
      const { pn, traffic } = findTrafficType(p.id, label);
      const updated = await modify(resource(ctx), pn.metadata.name ?? '', (spec) => ({ ...spec, trafficTypes: spec.trafficTypes.filter((t) => t.type !== traffic.type) })).catch(
        (err: unknown) => failure(err, ctx, { label, id: p.id }),
      );
      return { jobid: await infra.submitJob(ctx, { target: updated, kind: PhysicalNetwork, subject: traffic.type }) };
    },
  });

  const listTrafficTypes = defineCommand({
    name: 'listTrafficTypes',
    kind: 'list',
    description: 'Lists traffic types of a given physical network.',
    fieldTypes: trafficTypeFieldTypes,
    params: {
      physicalnetworkid: { type: 'uuid', description: 'the Physical Network ID', required: true, entity: 'physicalnetwork' },
      keyword: { type: 'string', description: 'List by keyword' },
    },
    async handle(p, ctx) {
      await infra.mayRead(ctx, PhysicalNetwork);
      const pn = mustFind(cache.physicalNetworks, p.physicalnetworkid, 'listtraffictypes', 'physicalnetworkid');
      return pn.spec.trafficTypes.filter((t) => keywordMatches(p.keyword, t.type)).map((traffic) => ({ pn, traffic }));
    },
    mapItem: ({ pn, traffic }) => trafficTypeItem(pn, traffic),
  });

  const listNetworkServiceProviders = defineCommand({
    name: 'listNetworkServiceProviders',
    kind: 'list',
    description: 'Lists network serviceproviders for a given physical network.',
    params: {
      physicalnetworkid: { type: 'uuid', description: 'the Physical Network ID', entity: 'physicalnetwork' },
      name: { type: 'string', description: 'list providers by name' },
      state: { type: 'string', description: 'list providers by state' },
      keyword: { type: 'string', description: 'List by keyword' },
    },
    async handle(p, ctx) {
      await infra.mayRead(ctx, PhysicalNetwork);
      const one = findOptional(cache.physicalNetworks, p.physicalnetworkid, 'listnetworkserviceproviders', 'physicalnetworkid');
      return (one ? [one] : cache.physicalNetworks.list().sort(byCreation))
        .flatMap((pn) => providersOf(pn).map((provider) => ({ pn, provider })))
        .filter(({ pn, provider }) => {
          const item = providerItem(pn, provider);
          return equalsIgnoringCase(p.name, provider.name) && equalsIgnoringCase(p.state, item['state'] as string) && keywordMatches(p.keyword, provider.name);
        });
    },
    mapItem: ({ pn, provider }) => providerItem(pn, provider),
  });

  const updateNetworkServiceProvider = defineCommand({
    name: 'updateNetworkServiceProvider',
    kind: 'async',
    description: 'Updates a network serviceProvider of a physical network',
    params: {
      id: { type: 'uuid', description: 'network service provider id', required: true, entity: 'networkserviceprovider' },
      state: { type: 'string', description: 'Enabled/Disabled/Shutdown the physical network service provider', oneOf: PROVIDER_STATES },
      servicelist: { type: 'list', description: 'the list of services to be enabled for this physical network service provider' },
    },
    async handle(p, ctx) {
      const label = 'updatenetworkserviceprovider';
      await infra.mayRead(ctx, PhysicalNetwork);
      const found = cache.physicalNetworks
        .list()
        .flatMap((pn) => providersOf(pn).map((provider) => ({ pn, provider })))
        .find(({ pn, provider }) => providerId(pn, provider.name) === p.id);
      if (!found) throw entityNotFound(label, 'id', p.id);
      const unsupported = p.servicelist?.find((s) => !SERVICES[found.provider.name].includes(s));
      if (unsupported !== undefined) throw invalidParameterValue(`Service ${unsupported} is not supported by the network service provider ${found.provider.name}`);
      const updated = await modify(resource(ctx), found.pn.metadata.name ?? '', (spec) => {
        const providers = spec.serviceProviders ?? providersOf(found.pn);
        return { ...spec, serviceProviders: providers.map((provider) => (provider.name === found.provider.name && p.state !== undefined ? { ...provider, state: p.state as Provider['state'] } : provider)) };
      }).catch((err: unknown) => failure(err, ctx, { label, id: p.id }));
      return { jobid: await infra.submitJob(ctx, { target: updated, kind: PhysicalNetwork, subject: found.provider.name }) };
    },
  });

  return [
    createPhysicalNetwork,
    updatePhysicalNetwork,
    deletePhysicalNetwork,
    listPhysicalNetworks,
    addTrafficType,
    updateTrafficType,
    deleteTrafficType,
    listTrafficTypes,
    listNetworkServiceProviders,
    updateNetworkServiceProvider,
  ];
}
