import { IPRange, type IPRangeObject } from '../../crds/index.ts';
import { subnetOf } from '../../lib/ipv4.ts';
import { INDEX } from '../lists/indexes.ts';
import { byCreation, findOptional, keywordMatches, mustFind } from '../lists/filters.ts';
import type { Fields } from '../protocol/envelope.ts';
import { internalError, invalidParameterValue, missingParameter } from '../protocol/errors.ts';
import { type Command, defineCommand } from './define.ts';
import type { Infra } from './context.ts';
import { failure } from './errors.ts';
import { createNamed, objectName } from './names.ts';
import { zoneNamed } from './infra-views.ts';

/** VLAN IP ranges (public addresses of a zone): createVlanIpRange, listVlanIpRanges, updateVlanIpRange, deleteVlanIpRange (step 5). */

const RANGE_PARAMS = {
  'spec.startIp': 'startip',
  'spec.endIp': 'endip',
  'spec.gateway': 'gateway',
  'spec.netmask': 'netmask',
  'spec.vlan': 'vlan',
  'spec.zoneRef.name': 'zoneid',
  'spec.podRef.name': 'podid',
  'spec.physicalNetworkRef.name': 'physicalnetworkid',
};

/** `vlan`: `100`, `vlan://100` or `untagged`. */
function parseVlan(text: string | undefined): number | undefined | 'invalid' {
  if (text === undefined || text === '' || /^(vlan:\/\/)?untagged$/i.test(text)) return undefined;
  const match = /^(?:vlan:\/\/)?(\d{1,4})$/i.exec(text);
  return match ? Number(match[1]) : 'invalid';
}

export function vlanIpRangeItem(infra: Infra, range: IPRangeObject): Fields {
  const spec = range.spec;
  const pod = spec.podRef ? infra.cache.pods.byName(spec.podRef.name) : undefined;
  const domain = spec.dedication ? infra.cache.domains.byName(spec.dedication.domainRef.name) : undefined;
  const account = spec.dedication?.accountRef ? infra.cache.accounts.byName(spec.dedication.accountRef.name) : undefined;
  return {
    id: range.metadata.uid,
    zoneid: zoneNamed(infra, spec.zoneRef.name)?.metadata.uid,
    podid: pod?.metadata.uid,
    podname: pod ? (pod.spec.displayName ?? pod.metadata.name) : undefined,
    physicalnetworkid: spec.physicalNetworkRef ? infra.cache.physicalNetworks.byName(spec.physicalNetworkRef.name)?.metadata.uid : undefined,
    vlan: spec.vlan === undefined ? 'vlan://untagged' : `vlan://${spec.vlan}`,
    gateway: spec.gateway,
    netmask: spec.netmask,
    cidr: subnetOf(spec.gateway, spec.netmask)?.cidr,
    startip: spec.startIp,
    endip: spec.endIp,
    forvirtualnetwork: spec.purpose === 'Public',
    forsystemvms: spec.forSystemVms ?? false,
    description: `${spec.purpose} range`,
    domainid: domain?.metadata.uid,
    domain: domain ? (domain.spec.displayName ?? domain.metadata.name) : undefined,
    domainpath: domain?.status?.path,
    account: account ? (account.spec.displayName ?? account.metadata.name) : undefined,
  };
}

export function vlanIpRangeCommands(infra: Infra): Command[] {
  const { cache } = infra;

  const createVlanIpRange = defineCommand({
    name: 'createVlanIpRange',
    kind: 'object',
    description: 'Creates a VLAN IP range: public addresses of a zone.',
    params: {
      zoneid: { type: 'uuid', description: 'the Zone ID of the VLAN IP range', entity: 'zone' },
      podid: { type: 'uuid', description: 'optional parameter. Have to be specified for Direct Untagged vlan only.', entity: 'pod' },
      physicalnetworkid: { type: 'uuid', description: 'the physical network id', entity: 'physicalnetwork' },
      vlan: { type: 'string', description: 'the ID or VID of the VLAN. If not specified, will be defaulted to the vlan of the network or if vlan of the network is null - to Untagged' },
      gateway: { type: 'string', description: 'the gateway of the VLAN IP range' },
      netmask: { type: 'string', description: 'the netmask of the VLAN IP range' },
      startip: { type: 'string', description: 'the beginning IP address in the VLAN IP range' },
      endip: { type: 'string', description: 'the ending IP address in the VLAN IP range' },
      forvirtualnetwork: { type: 'boolean', description: 'true if VLAN is of Virtual type, false if Direct' },
      forsystemvms: { type: 'boolean', description: 'true if IP range is set to system vms, false if not' },
      account: { type: 'string', description: 'account who will own the VLAN. If VLAN is Zone wide, this parameter should be omitted' },
      domainid: { type: 'uuid', description: 'domain ID of the account owning a VLAN', entity: 'domain' },
    },
    async handle(p, ctx) {
      const label = 'createvlaniprange';
      await infra.mayRead(ctx, IPRange);
      if (p.zoneid === undefined) throw missingParameter(label, 'zoneid');
      const zone = mustFind(cache.zones, p.zoneid, label, 'zoneid');
      const pod = findOptional(cache.pods, p.podid, label, 'podid');
      const pn = findOptional(cache.physicalNetworks, p.physicalnetworkid, label, 'physicalnetworkid');
      const domain = findOptional(cache.domains, p.domainid, label, 'domainid');
      for (const required of ['gateway', 'netmask', 'startip'] as const) {
        if (p[required] === undefined) throw missingParameter(label, required);
      }
      if (p.forvirtualnetwork === false) {
        throw invalidParameterValue('Direct (guest) IP ranges belong to a shared network (networkid), which Kumulus does not serve through this command yet: use forvirtualnetwork=true for public addresses');
      }
      if (pod !== undefined) throw invalidParameterValue('podid applies to Direct ranges only; leave it out for a public (forvirtualnetwork=true) range');
      const vlan = parseVlan(p.vlan);
      if (vlan === 'invalid') throw invalidParameterValue(`Invalid parameter vlan value=${p.vlan ?? ''}: give a VLAN id from 1 to 4094, vlan://<id> or untagged`);
      let dedication: IPRangeObject['spec']['dedication'];
      if (p.account !== undefined) {
        if (domain === undefined) throw invalidParameterValue('account needs domainid: give the domain of the account that owns the range');
        const owner = cache.accounts.byIndex(INDEX.domain, domain.metadata.name ?? '').find((a) => (a.spec.displayName ?? a.metadata.name) === p.account);
        if (owner === undefined) throw invalidParameterValue(`Unable to find account ${p.account} in domain ${p.domainid ?? ''}`);
        dedication = { domainRef: { name: domain.metadata.name ?? '' }, accountRef: { name: owner.metadata.name ?? '' } };
      } else if (domain !== undefined) {
        dedication = { domainRef: { name: domain.metadata.name ?? '' } };
      }
      const endIp = p.endip ?? p.startip ?? '';
      return createNamed(infra.resource<IPRangeObject>(ctx, IPRange), objectName(`${zone.metadata.name ?? ''}-public-${p.startip ?? ''}-${endIp}`), (name) => ({
        apiVersion: IPRange.apiVersion,
        kind: IPRange.kind,
        metadata: { name },
        spec: {
          purpose: 'Public' as const,
          zoneRef: { name: zone.metadata.name ?? '' },
          ...(pn ? { physicalNetworkRef: { name: pn.metadata.name ?? '' } } : {}),
          ...(vlan !== undefined ? { vlan } : {}),
          gateway: p.gateway ?? '',
          netmask: p.netmask ?? '',
          startIp: p.startip ?? '',
          endIp,
          ...(p.forsystemvms !== undefined ? { forSystemVms: p.forsystemvms } : {}),
          ...(dedication ? { dedication } : {}),
        },
      })).catch((err: unknown) => failure(err, ctx, { label, params: RANGE_PARAMS }));
    },
    map: (range) => vlanIpRangeItem(infra, range),
  });

  const listVlanIpRanges = defineCommand({
    name: 'listVlanIpRanges',
    kind: 'list',
    description: 'Lists all VLAN IP ranges.',
    params: {
      id: { type: 'uuid', description: 'the ID of the VLAN IP range', entity: 'vlan' },
      zoneid: { type: 'uuid', description: 'the Zone ID of the VLAN IP range', entity: 'zone' },
      podid: { type: 'uuid', description: 'the Pod ID of the VLAN IP range', entity: 'pod' },
      physicalnetworkid: { type: 'uuid', description: 'physical network id of the VLAN IP range', entity: 'physicalnetwork' },
      vlan: { type: 'string', description: 'the ID or VID of the VLAN. Default is an "untagged" VLAN.' },
      forvirtualnetwork: { type: 'boolean', description: 'true if VLAN is of Virtual type, false if Direct' },
      domainid: { type: 'uuid', description: 'the domain ID with which the VLAN IP range is associated.  If used with the account parameter, returns all VLAN IP ranges for that account in the specified domain.', entity: 'domain' },
      account: { type: 'string', description: 'the account with which the VLAN IP range is associated. Must be used with the domainId parameter.' },
      keyword: { type: 'string', description: 'List by keyword' },
    },
    async handle(p, ctx) {
      const label = 'listvlanipranges';
      await infra.mayRead(ctx, IPRange);
      const one = findOptional(cache.ipRanges, p.id, label, 'id');
      const zone = findOptional(cache.zones, p.zoneid, label, 'zoneid');
      const pod = findOptional(cache.pods, p.podid, label, 'podid');
      const pn = findOptional(cache.physicalNetworks, p.physicalnetworkid, label, 'physicalnetworkid');
      const domain = findOptional(cache.domains, p.domainid, label, 'domainid');
      const vlan = parseVlan(p.vlan);
      const ranges = one ? [one] : zone ? cache.ipRanges.byIndex(INDEX.zone, zone.metadata.name ?? '') : cache.ipRanges.list();
      return ranges
        .filter((r) => {
          const s = r.spec;
          const owner = s.dedication?.accountRef ? cache.accounts.byName(s.dedication.accountRef.name) : undefined;
          return (
            (zone === undefined || s.zoneRef.name === zone.metadata.name) &&
            (pod === undefined || s.podRef?.name === pod.metadata.name) &&
            (pn === undefined || s.physicalNetworkRef?.name === pn.metadata.name) &&
            (p.vlan === undefined || vlan === s.vlan) &&
            (p.forvirtualnetwork === undefined || p.forvirtualnetwork === (s.purpose === 'Public')) &&
            (domain === undefined || s.dedication?.domainRef.name === domain.metadata.name) &&
            (p.account === undefined || (owner !== undefined && (owner.spec.displayName ?? owner.metadata.name) === p.account)) &&
            keywordMatches(p.keyword, s.startIp, s.endIp, s.gateway)
          );
        })
        .sort(byCreation);
    },
    mapItem: (range) => vlanIpRangeItem(infra, range),
  });

  const updateVlanIpRange = defineCommand({
    name: 'updateVlanIpRange',
    kind: 'object',
    description: 'Updates a VLAN IP range.',
    params: {
      id: { type: 'uuid', description: 'the UUID of the VLAN IP range', required: true, entity: 'vlan' },
      gateway: { type: 'string', description: 'the gateway of the VLAN IP range' },
      netmask: { type: 'string', description: 'the netmask of the VLAN IP range' },
      startip: { type: 'string', description: 'the beginning IP address in the VLAN IP range' },
      endip: { type: 'string', description: 'the ending IP address in the VLAN IP range' },
      forsystemvms: { type: 'boolean', description: 'true if IP range is set to system vms, false if not' },
    },
    async handle(p, ctx) {
      const label = 'updatevlaniprange';
      await infra.mayRead(ctx, IPRange);
      const range = mustFind(cache.ipRanges, p.id, label, 'id');
      const spec = { gateway: p.gateway, netmask: p.netmask, startIp: p.startip, endIp: p.endip, forSystemVms: p.forsystemvms };
      return infra
        .resource<IPRangeObject>(ctx, IPRange)
        .patch({ name: range.metadata.name ?? '' }, { spec }, 'merge')
        .catch((err: unknown) => failure(err, ctx, { label, id: p.id, params: RANGE_PARAMS }));
    },
    map: (range) => vlanIpRangeItem(infra, range),
  });

  const deleteVlanIpRange = defineCommand({
    name: 'deleteVlanIpRange',
    kind: 'success',
    description: 'Deletes a VLAN IP range.',
    params: { id: { type: 'uuid', description: 'the id of the VLAN IP range', required: true, entity: 'vlan' } },
    async handle(p, ctx) {
      const label = 'deletevlaniprange';
      await infra.mayRead(ctx, IPRange);
      const range = mustFind(cache.ipRanges, p.id, label, 'id');
      const allocated = range.status?.allocated ?? 0;
      if (allocated > 0) throw internalError(`The IP range can't be deleted because it has ${allocated} allocated IP address(es)`);
      await infra
        .resource(ctx, IPRange)
        .delete({ name: range.metadata.name ?? '' }, { preconditions: { uid: p.id } })
        .catch((err: unknown) => failure(err, ctx, { label, id: p.id }));
      return undefined;
    },
  });

  return [createVlanIpRange, listVlanIpRanges, updateVlanIpRange, deleteVlanIpRange];
}
