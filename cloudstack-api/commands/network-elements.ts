import { PhysicalNetwork, SUBJECT_ANNOTATION, type PhysicalNetworkObject } from '../../crds/index.ts';
import { derivedUuid } from '../lists/cache.ts';
import { byCreation, equalsIgnoringCase, findOptional, keywordMatches, mustFind } from '../lists/filters.ts';
import type { Fields } from '../protocol/envelope.ts';
import { entityNotFound, internalError, invalidParameterValue } from '../protocol/errors.ts';
import type { Infra } from './context.ts';
import { type Command, type CommandContext, defineCommand } from './define.ts';
import { failure } from './errors.ts';
import { modify, PROVIDERS, type Provider, providerId, providerItem, providersOf, SERVICES } from './physical-networks.ts';

/**
 * The network elements a zone bring-up configures after creating a physical network (Marvin's
 * configureProviders): the virtual router elements, which in Kumulus are the distributed DHCP
 * and DNS every host runs for its own VMs, adding and deleting providers, and which
 * implementor carries each traffic type. Elements and providers live in the PhysicalNetwork's
 * spec.serviceProviders; their ids are derived from the network's uid.
 */

const ROUTER_PROVIDERS = new Set<string>(['VirtualRouter', 'VpcVirtualRouter']);

export const routerElementId = (pn: PhysicalNetworkObject, provider: string) => derivedUuid(pn.metadata.uid ?? '', `vrelement/${provider}`);

/** What carries each traffic type in Kumulus, under CloudStack's implementor names. */
const TRAFFIC_IMPLEMENTORS: readonly { traffictype: string; traffictypeimplementor: string }[] = [
  { traffictype: 'Guest', traffictypeimplementor: 'GuestNetworkGuru' },
  { traffictype: 'Public', traffictypeimplementor: 'PublicNetworkGuru' },
  { traffictype: 'Management', traffictypeimplementor: 'PodBasedNetworkGuru' },
  { traffictype: 'Storage', traffictypeimplementor: 'StorageNetworkGuru' },
];

interface Element {
  readonly pn: PhysicalNetworkObject;
  readonly provider: Provider;
}

export function networkElementCommands(infra: Infra): Command[] {
  const { cache } = infra;
  const resource = (ctx: CommandContext) => infra.resource<PhysicalNetworkObject>(ctx, PhysicalNetwork);
  const pnOf = (job: { spec: { targetRef: { uid?: string; name: string } } }) =>
    job.spec.targetRef.uid !== undefined ? cache.physicalNetworks.byUid(job.spec.targetRef.uid) : cache.physicalNetworks.byName(job.spec.targetRef.name);
  const providerOfJob = (job: Parameters<typeof pnOf>[0] & { metadata: { annotations?: Record<string, string> } }): Element | undefined => {
    const pn = pnOf(job);
    const provider = pn && providersOf(pn).find((p) => p.name === job.metadata.annotations?.[SUBJECT_ANNOTATION]);
    return pn && provider ? { pn, provider } : undefined;
  };

  /** Router elements belong to the system account in ROOT, as CloudStack's do. */
  function elementItem({ pn, provider }: Element): Fields {
    const root = cache.domains.list().find((d) => d.spec.parentRef === undefined);
    return {
      id: routerElementId(pn, provider.name),
      nspid: providerId(pn, provider.name),
      enabled: provider.elementEnabled ?? true,
      account: 'system',
      domainid: root?.metadata.uid,
      domain: root ? (root.spec.displayName ?? 'ROOT') : undefined,
      domainpath: root ? (root.spec.displayName ?? 'ROOT') : undefined,
    };
  }

  const routerElements = (): Element[] =>
    cache.physicalNetworks
      .list()
      .sort(byCreation)
      .flatMap((pn) => providersOf(pn).filter((p) => ROUTER_PROVIDERS.has(p.name)).map((provider) => ({ pn, provider })));

  function findProvider(id: string, label: string): Element {
    for (const pn of cache.physicalNetworks.list()) {
      const provider = providersOf(pn).find((p) => providerId(pn, p.name) === id);
      if (provider) return { pn, provider };
    }
    throw entityNotFound(label, 'id', id);
  }

  infra.jobResults.set('configureVirtualRouterElement', (job) => {
    const element = providerOfJob(job);
    return element && elementItem(element);
  });
  infra.jobResults.set('addNetworkServiceProvider', (job) => {
    const element = providerOfJob(job);
    return element && providerItem(element.pn, element.provider);
  });

  const listVirtualRouterElements = defineCommand({
    name: 'listVirtualRouterElements',
    kind: 'list',
    description: 'Lists all available virtual router elements.',
    params: {
      id: { type: 'uuid', description: 'list virtual router elements by id', entity: 'virtualrouterelement' },
      nspid: { type: 'uuid', description: 'list virtual router elements by network service provider id', entity: 'networkserviceprovider' },
      enabled: { type: 'boolean', description: 'list network offerings by enabled state' },
      keyword: { type: 'string', description: 'List by keyword' },
    },
    async handle(p, ctx) {
      await infra.mayRead(ctx, PhysicalNetwork);
      const label = 'listvirtualrouterelements';
      const all = routerElements();
      if (p.id !== undefined && !all.some((e) => routerElementId(e.pn, e.provider.name) === p.id)) throw entityNotFound(label, 'id', p.id);
      if (p.nspid !== undefined && !cache.physicalNetworks.list().some((pn) => providersOf(pn).some((pr) => providerId(pn, pr.name) === p.nspid))) {
        throw entityNotFound(label, 'nspid', p.nspid);
      }
      return all.filter(
        (e) =>
          (p.id === undefined || routerElementId(e.pn, e.provider.name) === p.id) &&
          (p.nspid === undefined || providerId(e.pn, e.provider.name) === p.nspid) &&
          (p.enabled === undefined || (e.provider.elementEnabled ?? true) === p.enabled) &&
          keywordMatches(p.keyword, e.provider.name),
      );
    },
    mapItem: elementItem,
  });

  const configureVirtualRouterElement = defineCommand({
    name: 'configureVirtualRouterElement',
    kind: 'async',
    description: 'Configures a virtual router element.',
    params: {
      id: { type: 'uuid', description: 'the ID of the virtual router provider', required: true, entity: 'virtualrouterelement' },
      enabled: { type: 'boolean', description: 'Enabled/Disabled the service provider', required: true },
    },
    async handle(p, ctx) {
      const label = 'configurevirtualrouterelement';
      await infra.mayRead(ctx, PhysicalNetwork);
      const found = routerElements().find((e) => routerElementId(e.pn, e.provider.name) === p.id);
      if (!found) throw entityNotFound(label, 'id', p.id);
      const updated = await modify(resource(ctx), found.pn.metadata.name ?? '', (spec) => ({
        ...spec,
        serviceProviders: (spec.serviceProviders ?? providersOf(found.pn)).map((provider) => (provider.name === found.provider.name ? { ...provider, elementEnabled: p.enabled } : provider)),
      })).catch((err: unknown) => failure(err, ctx, { label, id: p.id }));
      return { jobid: await infra.submitJob(ctx, { target: updated, kind: PhysicalNetwork, subject: found.provider.name }) };
    },
  });

  const addNetworkServiceProvider = defineCommand({
    name: 'addNetworkServiceProvider',
    kind: 'async',
    description: 'Adds a network serviceProvider to a physical network',
    params: {
      name: { type: 'string', description: 'the name for the physical network service provider', required: true },
      physicalnetworkid: { type: 'uuid', description: 'the Physical Network ID to add the provider to', required: true, entity: 'physicalnetwork' },
      destinationphysicalnetworkid: { type: 'uuid', description: 'the destination Physical Network ID to bridge to', entity: 'physicalnetwork' },
      servicelist: { type: 'list', description: 'the list of services to be enabled for this physical network service provider' },
    },
    async handle(p, ctx) {
      const label = 'addnetworkserviceprovider';
      await infra.mayRead(ctx, PhysicalNetwork);
      const pn = mustFind(cache.physicalNetworks, p.physicalnetworkid, label, 'physicalnetworkid');
      findOptional(cache.physicalNetworks, p.destinationphysicalnetworkid, label, 'destinationphysicalnetworkid');
      const name = PROVIDERS.find((known) => known.toLowerCase() === p.name.toLowerCase());
      if (name === undefined) throw invalidParameterValue(`Invalid Network Service Provider=${p.name}`);
      const unsupported = p.servicelist?.find((service) => !SERVICES[name].includes(service));
      if (unsupported !== undefined) throw invalidParameterValue(`Service ${unsupported} is not supported by the network service provider ${name}`);
      const exists = () => internalError(`The '${name}' provider already exists on physical network : ${pn.metadata.uid}`);
      if (providersOf(pn).some((provider) => provider.name === name)) throw exists();
      const updated = await modify(resource(ctx), pn.metadata.name ?? '', (spec) => {
        const providers = spec.serviceProviders ?? providersOf(pn);
        if (providers.some((provider) => provider.name === name)) throw exists();
        // CloudStack adds a provider Disabled; updateNetworkServiceProvider enables it.
        return { ...spec, serviceProviders: [...providers, { name, state: 'Disabled' as const }] };
      }).catch((err: unknown) => failure(err, ctx, { label, id: p.physicalnetworkid }));
      return { id: providerId(updated, name), jobid: await infra.submitJob(ctx, { target: updated, kind: PhysicalNetwork, subject: name }) };
    },
  });

  const deleteNetworkServiceProvider = defineCommand({
    name: 'deleteNetworkServiceProvider',
    kind: 'async',
    description: 'Deletes a Network Service Provider.',
    params: { id: { type: 'uuid', description: 'the ID of the network service provider', required: true, entity: 'networkserviceprovider' } },
    async handle(p, ctx) {
      const label = 'deletenetworkserviceprovider';
      await infra.mayRead(ctx, PhysicalNetwork);
      const found = findProvider(p.id, label);
      const updated = await modify(resource(ctx), found.pn.metadata.name ?? '', (spec) => ({
        ...spec,
        serviceProviders: (spec.serviceProviders ?? providersOf(found.pn)).filter((provider) => provider.name !== found.provider.name),
      })).catch((err: unknown) => failure(err, ctx, { label, id: p.id }));
      return { jobid: await infra.submitJob(ctx, { target: updated, kind: PhysicalNetwork, subject: found.provider.name }) };
    },
  });

  const listTrafficTypeImplementors = defineCommand({
    name: 'listTrafficTypeImplementors',
    kind: 'list',
    description: 'Lists implementors of implementor of a network traffic type or implementors of all network traffic types',
    params: {
      traffictype: { type: 'string', description: 'Optional. The network traffic type, if specified, return its implementor. Otherwise, return all traffic types with their implementor' },
      keyword: { type: 'string', description: 'List by keyword' },
    },
    async handle(p, ctx) {
      await infra.mayRead(ctx, PhysicalNetwork);
      if (p.traffictype !== undefined && !TRAFFIC_IMPLEMENTORS.some((t) => equalsIgnoringCase(p.traffictype, t.traffictype))) {
        throw invalidParameterValue(`Unable to find traffic type ${p.traffictype}`);
      }
      return TRAFFIC_IMPLEMENTORS.filter((t) => equalsIgnoringCase(p.traffictype, t.traffictype) && keywordMatches(p.keyword, t.traffictype, t.traffictypeimplementor));
    },
    mapItem: (row) => row,
  });

  return [listVirtualRouterElements, configureVirtualRouterElement, addNetworkServiceProvider, deleteNetworkServiceProvider, listTrafficTypeImplementors];
}
