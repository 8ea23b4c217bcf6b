import { Zone, type ZoneObject } from '../../crds/index.ts';
import { INDEX } from '../lists/indexes.ts';
import { byCreation, equalsIgnoringCase, findOptional, inIds, keywordMatches, mustFind } from '../lists/filters.ts';
import { domainLine } from '../lists/scope.ts';
import { isRootAdmin } from '../protocol/auth.ts';
import type { Fields } from '../protocol/envelope.ts';
import { internalError, invalidParameterValue } from '../protocol/errors.ts';
import { capacityFields } from './capacity.ts';
import { type Command, defineCommand } from './define.ts';
import type { Infra } from './context.ts';
import { failure } from './errors.ts';
import { hasTags, tagFields } from './compute-views.ts';
import { createNamed, displayName, objectName } from './names.ts';

/** Zones: createZone, listZones, updateZone, deleteZone (step 2 and 10 of the bring-up). */

const ALLOCATION = ['Enabled', 'Disabled'] as const;
const ZONE_PARAMS = { 'spec.guestCidr': 'guestcidraddress', 'spec.networkDomain': 'domain', 'spec.securityGroupsEnabled': 'securitygroupenabled', 'spec.displayName': 'name' };

/** The zone's DNS servers and guest CIDR, from createZone's or updateZone's parameters (absent ones stay absent). */
function zoneAddressing(p: { dns1?: string; dns2?: string; internaldns1?: string; internaldns2?: string; ip6dns1?: string; ip6dns2?: string; guestcidraddress?: string }) {
  return { dns1: p.dns1, dns2: p.dns2, internalDns1: p.internaldns1, internalDns2: p.internaldns2, ip6Dns1: p.ip6dns1, ip6Dns2: p.ip6dns2, guestCidr: p.guestcidraddress };
}

export function zoneItem(infra: Infra, zone: ZoneObject, showCapacities = false): Fields {
  const spec = zone.spec;
  return {
    id: zone.metadata.uid,
    name: displayName(zone),
    description: spec.description,
    displaytext: spec.description,
    dns1: spec.dns1,
    dns2: spec.dns2,
    internaldns1: spec.internalDns1,
    internaldns2: spec.internalDns2,
    ip6dns1: spec.ip6Dns1,
    ip6dns2: spec.ip6Dns2,
    guestcidraddress: spec.guestCidr,
    domain: spec.networkDomain,
    networktype: spec.networkType ?? 'Advanced',
    securitygroupsenabled: spec.securityGroupsEnabled ?? false,
    allocationstate: spec.allocationState ?? 'Disabled',
    localstorageenabled: spec.localStorageEnabled ?? false,
    domainid: spec.dedication ? infra.cache.domains.byName(spec.dedication.domainRef.name)?.metadata.uid : undefined,
    dhcpprovider: 'VirtualRouter',
    type: 'Core',
    hasannotations: false,
    ismultiarch: false,
    isnsxenabled: false,
    routedmodeenabled: false,
    allowuserspecifyvrmtu: false,
    tags: tagFields(infra, zone, 'Zone'),
    capacity: showCapacities ? capacityFields(infra, { zone }) : undefined,
  };
}

export function zoneCommands(infra: Infra): Command[] {
  const { cache } = infra;

  const createZone = defineCommand({
    name: 'createZone',
    kind: 'object',
    description: 'Creates a Zone.',
    params: {
      name: { type: 'string', description: 'the name of the Zone', required: true },
      dns1: { type: 'string', description: 'the first DNS for the Zone', required: true },
      internaldns1: { type: 'string', description: 'the first internal DNS for the Zone', required: true },
      networktype: { type: 'string', description: 'network type of the zone, can be Basic or Advanced', required: true, oneOf: ['Basic', 'Advanced'] },
      dns2: { type: 'string', description: 'the second DNS for the Zone' },
      internaldns2: { type: 'string', description: 'the second internal DNS for the Zone' },
      ip6dns1: { type: 'string', description: 'the first DNS for IPv6 network in the Zone' },
      ip6dns2: { type: 'string', description: 'the second DNS for IPv6 network in the Zone' },
      guestcidraddress: { type: 'string', description: 'the guest CIDR address for the Zone' },
      domain: { type: 'string', description: 'Network domain name for the networks in the zone' },
      domainid: { type: 'uuid', description: 'the ID of the containing domain, null for public zones', entity: 'domain' },
      allocationstate: { type: 'string', description: 'Allocation state of this Zone for allocation of new resources', oneOf: ALLOCATION },
      localstorageenabled: { type: 'boolean', description: 'true if local storage offering enabled, false otherwise' },
      securitygroupenabled: { type: 'boolean', description: 'true if network is security group enabled, false otherwise' },
    },
    async handle(p, ctx) {
      const label = 'createzone';
      await infra.mayRead(ctx, Zone);
      if (cache.zones.list().some((z) => displayName(z) === p.name)) {
        throw invalidParameterValue('A zone with that name already exists. Please specify a unique zone name.');
      }
      const domain = findOptional(cache.domains, p.domainid, label, 'domainid');
      const basic = p.networktype === 'Basic';
      const spec = {
        displayName: p.name,
        networkType: p.networktype,
        ...zoneAddressing(p),
        networkDomain: p.domain,
        allocationState: p.allocationstate ?? 'Disabled',
        localStorageEnabled: p.localstorageenabled,
        securityGroupsEnabled: basic ? true : p.securitygroupenabled,
        dedication: domain ? { domainRef: { name: domain.metadata.name ?? '' } } : undefined,
      };
      return createNamed(infra.resource<ZoneObject>(ctx, Zone), objectName(p.name), (name) => ({
        apiVersion: Zone.apiVersion,
        kind: Zone.kind,
        metadata: { name },
        spec: JSON.parse(JSON.stringify(spec)) as ZoneObject['spec'],
      })).catch((err: unknown) => failure(err, ctx, { label, params: ZONE_PARAMS }));
    },
    map: (zone) => zoneItem(infra, zone),
  });

  const listZones = defineCommand({
    name: 'listZones',
    kind: 'list',
    description: 'Lists zones',
    params: {
      id: { type: 'uuid', description: 'the ID of the zone', entity: 'zone' },
      ids: { type: 'list', items: 'uuid', description: 'the IDs of the zones, mutually exclusive with id' },
      name: { type: 'string', description: 'the name of the zone' },
      keyword: { type: 'string', description: 'List by keyword' },
      networktype: { type: 'string', description: 'the network type of the zone that the virtual machine belongs to' },
      available: { type: 'boolean', description: 'true if you want to retrieve all available Zones. False if you only want to return the Zones from which you have at least one VM. Default is false.' },
      domainid: { type: 'uuid', description: 'the ID of the domain associated with the zone', entity: 'domain' },
      showcapacities: { type: 'boolean', description: 'flag to display the capacity of the zones' },
      tags: { type: 'map', description: 'List zones by resource tags (key/value pairs)' },
    },
    async handle(p, ctx) {
      await infra.mayRead(ctx, Zone);
      const one = findOptional(cache.zones, p.id, 'listzones', 'id');
      const domain = findOptional(cache.domains, p.domainid, 'listzones', 'domainid');
      const zones = one ? [one] : cache.zones.list();
      // As CloudStack: only root admins see zones that are Disabled or dedicated to other domains.
      const visible = isRootAdmin(ctx.caller) ? undefined : domainLine(cache, ctx.caller);
      return zones
        .filter(
          (z) =>
            (visible === undefined || ((z.spec.allocationState ?? 'Disabled') === 'Enabled' && (z.spec.dedication === undefined || visible.has(z.spec.dedication.domainRef.name)))) &&
            inIds(p.ids, z.metadata.uid) &&
            equalsIgnoringCase(p.name, displayName(z)) &&
            keywordMatches(p.keyword, displayName(z)) &&
            equalsIgnoringCase(p.networktype, z.spec.networkType ?? 'Advanced') &&
            (domain === undefined || z.spec.dedication?.domainRef.name === domain.metadata.name) &&
            hasTags(z, p.tags),
        )
        .sort(byCreation)
        .map((zone) => ({ zone, showCapacities: p.showcapacities ?? false }));
    },
    mapItem: ({ zone, showCapacities }) => zoneItem(infra, zone, showCapacities),
  });

  const updateZone = defineCommand({
    name: 'updateZone',
    kind: 'object',
    description: 'Updates a Zone.',
    params: {
      id: { type: 'uuid', description: 'the ID of the Zone', required: true, entity: 'zone' },
      name: { type: 'string', description: 'the name of the Zone' },
      allocationstate: { type: 'string', description: 'Allocation state of this cluster for allocation of new resources', oneOf: ALLOCATION },
      dns1: { type: 'string', description: 'the first DNS for the Zone' },
      dns2: { type: 'string', description: 'the second DNS for the Zone' },
      internaldns1: { type: 'string', description: 'the first internal DNS for the Zone' },
      internaldns2: { type: 'string', description: 'the second internal DNS for the Zone' },
      ip6dns1: { type: 'string', description: 'the first DNS for IPv6 network in the Zone' },
      ip6dns2: { type: 'string', description: 'the second DNS for IPv6 network in the Zone' },
      guestcidraddress: { type: 'string', description: 'the guest CIDR address for the Zone' },
      domain: { type: 'string', description: 'Network domain name for the networks in the zone; empty string will update domain with NULL value' },
      localstorageenabled: { type: 'boolean', description: 'true if local storage offering enabled, false otherwise' },
    },
    async handle(p, ctx) {
      const label = 'updatezone';
      await infra.mayRead(ctx, Zone);
      const zone = mustFind(cache.zones, p.id, label, 'id');
      if (p.name !== undefined && cache.zones.list().some((z) => z !== zone && displayName(z) === p.name)) {
        throw invalidParameterValue('A zone with that name already exists. Please specify a unique zone name.');
      }
      const patch = {
        spec: {
          displayName: p.name,
          allocationState: p.allocationstate,
          ...zoneAddressing(p),
          // An empty domain clears it, as CloudStack documents.
          networkDomain: p.domain === '' ? null : p.domain,
          localStorageEnabled: p.localstorageenabled,
        },
      };
      return infra
        .resource<ZoneObject>(ctx, Zone)
        .patch({ name: zone.metadata.name ?? '' }, patch, 'merge')
        .catch((err: unknown) => failure(err, ctx, { label, id: p.id, params: ZONE_PARAMS }));
    },
    map: (zone) => zoneItem(infra, zone),
  });

  const deleteZone = defineCommand({
    name: 'deleteZone',
    kind: 'success',
    description: 'Deletes a Zone.',
    params: { id: { type: 'uuid', description: 'the ID of the Zone', required: true, entity: 'zone' } },
    async handle(p, ctx) {
      const label = 'deletezone';
      await infra.mayRead(ctx, Zone);
      const zone = mustFind(cache.zones, p.id, label, 'id');
      const name = zone.metadata.name ?? '';
      const inZone = (what: string, count: number) => (count > 0 ? `there are ${what} in this zone` : undefined);
      const hosts = cache.pods.byIndex(INDEX.zone, name).flatMap((pod) => cache.clusters.byIndex(INDEX.pod, pod.metadata.name ?? '')).flatMap((c) => cache.hosts.byIndex(INDEX.cluster, c.metadata.name ?? ''));
      const why =
        inZone('servers', hosts.length) ??
        inZone('pods', cache.pods.byIndex(INDEX.zone, name).length) ??
        inZone('primary storage pools', cache.primaryStorages.byIndex(INDEX.zone, name).length) ??
        inZone('image stores', cache.secondaryStorages.byIndex(INDEX.zone, name).length) ??
        inZone('physical networks', cache.physicalNetworks.byIndex(INDEX.zone, name).length) ??
        inZone('IP ranges', cache.ipRanges.byIndex(INDEX.zone, name).length);
      if (why !== undefined) throw internalError(`The zone cannot be deleted because ${why}`);
      await infra
        .resource(ctx, Zone)
        .delete({ name }, { preconditions: { uid: p.id } })
        .catch((err: unknown) => failure(err, ctx, { label, id: p.id }));
      return undefined;
    },
  });

  return [createZone, listZones, updateZone, deleteZone];
}
