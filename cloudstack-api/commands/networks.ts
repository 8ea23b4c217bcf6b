import { Network, type NetworkObject } from '../../crds/index.ts';
import { resourceTypeOf } from '../../lib/kube-client.ts';
import { byCreation, equalsIgnoringCase, findOptional, keywordMatches, mustFind } from '../lists/filters.ts';
import { INDEX } from '../lists/indexes.ts';
import { inScope, SCOPE_PARAMS, scopedNamespaces } from '../lists/scope.ts';
import type { Fields } from '../protocol/envelope.ts';
import { invalidParameterValue, resourceInUse } from '../protocol/errors.ts';
import { ownerNamespace, visibleById } from './compute-support.ts';
import { detailsOf, hasTags, ownerFields, tagFields } from './compute-views.ts';
import type { Infra } from './context.ts';
import { type Command, defineCommand } from './define.ts';
import { failure } from './errors.ts';
import type { JobResultMapper } from './job-support.ts';
import { apiDate } from './infra-views.ts';
import { createNamed, displayName, objectName } from './names.ts';

/**
 * Guest networks (PROTOCOL.md §11, networks; compute.md §1.5): Network objects in the account's
 * namespace, typed by their network offering. createNetwork is synchronous and leaves the
 * network Allocated; it is implemented (VLAN or VNI, bridges, DHCP) on its first VM.
 * restartNetwork writes its request token, spec.restartRequestedAt: the operator echoes it in
 * status.lastRestartAt, and every host carrying the network re-applies it on the change.
 */

const NETWORKS = resourceTypeOf(Network);
/** The states in which restartNetwork is accepted (CloudStack's NetworkServiceImpl). */
const RESTARTABLE = ['Implemented', 'Setup'];

function netmaskOf(cidr: string | undefined): string | undefined {
  const prefix = cidr === undefined ? undefined : Number(cidr.split('/')[1]);
  if (prefix === undefined || Number.isNaN(prefix)) return undefined;
  const bits = prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
  return [24, 16, 8, 0].map((shift) => (bits >>> shift) & 0xff).join('.');
}

export function networkFields(infra: Infra, network: NetworkObject): Fields {
  const { cache } = infra;
  const spec = network.spec;
  const zone = cache.zones.byName(spec.zoneRef.name);
  const offering = cache.networkOfferings.byName(spec.networkOfferingRef.name);
  const physical = cache.physicalNetworks.byName(network.status?.physicalNetwork ?? spec.physicalNetworkRef?.name ?? '');
  const cidr = network.status?.cidr ?? spec.cidr ?? zone?.spec.guestCidr;
  const broadcast = network.status?.broadcastUri;
  return {
    id: network.metadata.uid,
    name: displayName(network),
    displaytext: spec.displayText ?? displayName(network),
    ...ownerFields(infra, network.metadata.namespace),
    created: apiDate(network.metadata.creationTimestamp),
    state: network.status?.state ?? 'Allocated',
    type: offering?.spec.guestIpType,
    traffictype: 'Guest',
    zoneid: zone?.metadata.uid,
    zonename: zone ? displayName(zone) : spec.zoneRef.name,
    networkofferingid: offering?.metadata.uid,
    networkofferingname: offering ? displayName(offering) : spec.networkOfferingRef.name,
    networkofferingdisplaytext: offering ? (offering.spec.displayText ?? displayName(offering)) : undefined,
    networkofferingconservemode: offering?.spec.conserveMode ?? true,
    networkofferingavailability: 'Optional',
    physicalnetworkid: physical?.metadata.uid,
    cidr: offering?.spec.guestIpType === 'L2' ? undefined : cidr,
    gateway: offering?.spec.guestIpType === 'L2' ? undefined : (network.status?.gateway ?? spec.gateway),
    netmask: offering?.spec.guestIpType === 'L2' ? undefined : (network.status?.netmask ?? netmaskOf(cidr)),
    networkdomain: spec.networkDomain,
    dns1: spec.dns1 ?? zone?.spec.dns1,
    dns2: spec.dns2 ?? zone?.spec.dns2,
    vlan: broadcast?.replace(/^\w+:\/\//, '') ?? (spec.vlan === undefined ? undefined : String(spec.vlan)),
    broadcasturi: broadcast,
    broadcastdomaintype: network.status?.broadcastDomainType,
    ispersistent: offering?.spec.persistent ?? false,
    specifyvlan: offering?.spec.specifyVlan ?? false,
    specifyipranges: offering?.spec.specifyIpRanges ?? false,
    restartrequired: false,
    canusefordeploy: true,
    isdefault: false,
    issystem: false,
    acltype: 'Account',
    displaynetwork: true,
    redundantrouter: false,
    strechedl2subnet: false,
    supportsvmautoscaling: false,
    hasannotations: false,
    service: (offering?.spec.services ?? []).map((s) => ({ name: s.name, provider: [{ name: s.provider ?? 'VirtualRouter' }] })),
    details: detailsOf(network),
    tags: tagFields(infra, network, 'Network'),
  };
}

export function networkCommands(infra: Infra): Command[] {
  const { cache } = infra;

  const createNetwork = defineCommand({
    name: 'createNetwork',
    kind: 'object',
    description: 'Creates a network',
    params: {
      name: { type: 'string', description: 'the name of the network', required: true },
      displaytext: { type: 'string', description: 'the display text of the network' },
      networkofferingid: { type: 'uuid', description: 'the network offering ID', required: true, entity: 'networkoffering' },
      zoneid: { type: 'uuid', description: 'the zone ID for the network', required: true, entity: 'zone' },
      physicalnetworkid: { type: 'uuid', description: 'the physical network ID the network belongs to', entity: 'physicalnetwork' },
      gateway: { type: 'string', description: 'the gateway of the network. Required for shared networks and isolated networks when it belongs to VPC' },
      netmask: { type: 'string', description: 'the netmask of the network. Required for shared networks and isolated networks when it belongs to VPC' },
      vlan: { type: 'string', description: 'the ID or VID of the network' },
      startip: { type: 'string', description: 'the beginning IP address in the network IP range. Required for shared networks' },
      endip: { type: 'string', description: 'the ending IP address in the network IP range. If not specified, will be defaulted to startIP' },
      networkdomain: { type: 'string', description: 'network domain' },
      dns1: { type: 'string', description: 'the first IPv4 DNS for the network. Empty string will update the first IPv4 DNS with the value from the zone' },
      dns2: { type: 'string', description: 'the second IPv4 DNS for the network. Empty string will update the second IPv4 DNS with the value from the zone' },
      account: { type: 'string', description: 'account that will own the network. Account should be under the selected domain' },
      domainid: { type: 'uuid', description: 'domain ID of the account owning a network. If the account is not specified, but the acltype is Account or not specified, the network will be automatically assigned to the caller account and domain. To create a network under the domain without linking it to any account, make sure to include acltype=Domain parameter in the api call. If account is not specified, but acltype is Domain, the network will be created for the specified domain.', entity: 'domain' },
    },
    async handle(p, ctx) {
      const label = 'createnetwork';
      await cache.synced();
      const zone = mustFind(cache.zones, p.zoneid, label, 'zoneid');
      const offering = mustFind(cache.networkOfferings, p.networkofferingid, label, 'networkofferingid');
      const physical = findOptional(cache.physicalNetworks, p.physicalnetworkid, label, 'physicalnetworkid');
      if ((p.gateway === undefined) !== (p.netmask === undefined)) throw invalidParameterValue('gateway and netmask must be given together');
      let cidr: string | undefined;
      if (p.gateway !== undefined && p.netmask !== undefined) {
        const prefix = p.netmask.split('.').reduce((bits, octet) => bits + Number(octet).toString(2).replace(/0/g, '').length, 0);
        const mask = p.netmask.split('.').map(Number);
        const base = p.gateway.split('.').map((octet, i) => Number(octet) & (mask[i] ?? 0));
        cidr = `${base.join('.')}/${prefix}`;
      }
      const vlan = p.vlan === undefined ? undefined : Number(p.vlan.replace(/^\w+:\/\//, ''));
      if (vlan !== undefined && !Number.isInteger(vlan)) throw invalidParameterValue(`vlan ${p.vlan} is not a VLAN id or VNI`);
      const namespace = ownerNamespace(infra, ctx, label, p);
      return createNamed(infra.resource<NetworkObject>(ctx, Network), objectName(p.name), (name) => ({
        apiVersion: Network.apiVersion,
        kind: Network.kind,
        metadata: { namespace, name },
        spec: {
          displayName: p.name,
          ...(p.displaytext !== undefined ? { displayText: p.displaytext } : {}),
          networkOfferingRef: { name: offering.metadata.name ?? '' },
          zoneRef: { name: zone.metadata.name ?? '' },
          ...(physical ? { physicalNetworkRef: { name: physical.metadata.name ?? '' } } : {}),
          ...(cidr !== undefined ? { cidr, gateway: p.gateway } : {}),
          ...(vlan !== undefined ? { vlan } : {}),
          ...(p.startip !== undefined ? { startIp: p.startip, endIp: p.endip ?? p.startip } : {}),
          ...(p.networkdomain !== undefined ? { networkDomain: p.networkdomain } : {}),
          ...(p.dns1 ? { dns1: p.dns1 } : {}),
          ...(p.dns2 ? { dns2: p.dns2 } : {}),
        },
      })).catch((err: unknown) =>
        failure(err, ctx, { label, params: { 'spec.cidr': 'netmask', 'spec.gateway': 'gateway', 'spec.vlan': 'vlan', 'spec.startIp': 'startip', 'spec.endIp': 'endip', 'spec.networkOfferingRef.name': 'networkofferingid', 'spec.physicalNetworkRef.name': 'physicalnetworkid', 'spec.displayName': 'name', 'spec.networkDomain': 'networkdomain' } }),
      );
    },
    map: (network) => networkFields(infra, network),
  });

  const listNetworks = defineCommand({
    name: 'listNetworks',
    kind: 'list',
    description: 'Lists all available networks.',
    params: {
      id: { type: 'uuid', description: 'list networks by ID', entity: 'network' },
      name: { type: 'string', description: 'list networks by name' },
      keyword: { type: 'string', description: 'List by keyword' },
      zoneid: { type: 'uuid', description: 'the zone ID of the network', entity: 'zone' },
      type: { type: 'string', description: 'the type of the network. Supported values are: isolated, l2, shared and all' },
      traffictype: { type: 'string', description: 'type of the traffic' },
      networkofferingid: { type: 'uuid', description: 'list networks by network offering ID', entity: 'networkoffering' },
      physicalnetworkid: { type: 'uuid', description: 'list networks by physical network id', entity: 'physicalnetwork' },
      canusefordeploy: { type: 'boolean', description: 'list networks available for VM deployment' },
      restartrequired: { type: 'boolean', description: 'list networks by restartRequired' },
      forvpc: { type: 'boolean', description: 'the network belongs to VPC' },
      issystem: { type: 'boolean', description: 'true if network is system, false otherwise' },
      tags: { type: 'map', description: 'List resources by tags (key/value pairs)' },
      ...SCOPE_PARAMS,
    },
    async handle(p, ctx) {
      const label = 'listnetworks';
      await cache.synced();
      const one = findOptional(cache.networks, p.id, label, 'id');
      const zone = findOptional(cache.zones, p.zoneid, label, 'zoneid');
      const offering = findOptional(cache.networkOfferings, p.networkofferingid, label, 'networkofferingid');
      const physical = findOptional(cache.physicalNetworks, p.physicalnetworkid, label, 'physicalnetworkid');
      const namespaces = await scopedNamespaces(cache, ctx.caller, p, NETWORKS, label, infra.deps.mayList);
      const candidates = one ? [one] : zone ? cache.networks.byIndex(INDEX.zone, zone.metadata.name ?? '') : cache.networks.sorted();
      const type = p.type?.toLowerCase() === 'all' ? undefined : p.type;
      return candidates
        .filter((n) => {
          const guestType = cache.networkOfferings.byName(n.spec.networkOfferingRef.name)?.spec.guestIpType;
          return (
            inScope(namespaces, n.metadata.namespace) &&
            equalsIgnoringCase(p.name, displayName(n)) &&
            keywordMatches(p.keyword, displayName(n), n.spec.displayText) &&
            equalsIgnoringCase(type, guestType) &&
            equalsIgnoringCase(p.traffictype, 'Guest') &&
            p.issystem !== true &&
            // Every network can be deployed on, none waits for a restart and none is in a VPC (Kumulus has none):
            // the web UI asks for restartrequired=true and forvpc=false after login to warn of networks to restart.
            p.canusefordeploy !== false &&
            p.restartrequired !== true &&
            p.forvpc !== true &&
            (offering === undefined || n.spec.networkOfferingRef.name === offering.metadata.name) &&
            (physical === undefined || (n.status?.physicalNetwork ?? n.spec.physicalNetworkRef?.name) === physical.metadata.name) &&
            hasTags(n, p.tags)
          );
        })
        .sort(byCreation);
    },
    mapItem: (network) => networkFields(infra, network),
  });

  const deleteNetwork = defineCommand({
    name: 'deleteNetwork',
    kind: 'async',
    description: 'Deletes a network',
    params: {
      id: { type: 'uuid', description: 'the ID of the network', required: true, entity: 'network' },
      forced: { type: 'boolean', description: 'Force delete a network. Network will be marked as \'Destroy\' even when commands to shutdown and cleanup to the backend fails.' },
    },
    async handle(p, ctx) {
      const label = 'deletenetwork';
      const network = await visibleById(infra, ctx, cache.networks, NETWORKS, label, p.id);
      const users = cache.virtualMachines.list().filter((vm) => vm.metadata.namespace === network.metadata.namespace && (vm.spec.networks ?? []).some((n) => n.name === network.metadata.name));
      if (users.length > 0) throw resourceInUse(`Network ${p.id} is in use by ${users.length} VM(s) (${users.map((vm) => vm.spec.hostName ?? vm.metadata.name).join(', ')}); expunge them or remove their NICs first`);
      await infra
        .resource(ctx, Network)
        .delete({ namespace: network.metadata.namespace, name: network.metadata.name ?? '' }, { preconditions: { uid: network.metadata.uid } })
        .catch((err: unknown) => failure(err, ctx, { label, id: p.id }));
      return { jobid: await infra.submitJob(ctx, { target: network, kind: Network, deleted: true }) };
    },
  });

  const restartNetwork = defineCommand({
    name: 'restartNetwork',
    kind: 'async',
    description: 'Restarts the network; includes 1) restarting network elements - virtual routers, DHCP servers 2) reapplying all public IPs 3) reapplying loadBalancing/portForwarding rules',
    params: {
      id: { type: 'uuid', description: 'The ID of the network to restart.', required: true, entity: 'network' },
    },
    async handle(p, ctx) {
      const label = 'restartnetwork';
      const network = await visibleById(infra, ctx, cache.networks, NETWORKS, label, p.id);
      const state = network.status?.state ?? 'Allocated';
      // CloudStack's own rule: only a network whose elements exist can restart them.
      if (network.metadata.deletionTimestamp !== undefined || !RESTARTABLE.includes(state)) {
        throw invalidParameterValue(`Network is not in the right state to be restarted. Correct states are: ${RESTARTABLE.join(', ')}`);
      }
      // Milliseconds: two restarts in one second are two tokens, each carried out.
      const updated = await infra
        .resource<NetworkObject>(ctx, Network)
        .patch({ namespace: network.metadata.namespace, name: network.metadata.name ?? '' }, { spec: { restartRequestedAt: new Date().toISOString() } }, 'merge')
        .catch((err: unknown) => failure(err, ctx, { label, id: p.id }));
      return { jobid: await infra.submitJob(ctx, { target: updated, kind: Network }) };
    },
  });

  /**
   * updateNetwork: its name and display text. Changing the offering or the guest CIDR re-plans
   * every address of the network, which Kumulus does by a new network, so those are refused.
   */
  const updateNetwork = defineCommand({
    name: 'updateNetwork',
    kind: 'async',
    description: 'Updates a network',
    params: {
      id: { type: 'uuid', description: 'the ID of the network', required: true, entity: 'network' },
      name: { type: 'string', description: 'the new name for the network' },
      displaytext: { type: 'string', description: 'the new display text for the network' },
      networkofferingid: { type: 'uuid', description: 'network offering ID (cannot change here: create a network with the other offering)', entity: 'networkoffering' },
      guestvmcidr: { type: 'string', description: 'CIDR for guest VMs (cannot change here: create a network with the other CIDR)' },
    },
    async handle(p, ctx) {
      const label = 'updatenetwork';
      const network = await visibleById(infra, ctx, cache.networks, NETWORKS, label, p.id);
      if (p.networkofferingid !== undefined && p.networkofferingid !== cache.networkOfferings.byName(network.spec.networkOfferingRef.name)?.metadata.uid) {
        throw invalidParameterValue(`The network offering of network ${p.id} cannot change here: create a network with the other offering and move the VMs' NICs to it`);
      }
      if (p.guestvmcidr !== undefined && p.guestvmcidr !== network.spec.cidr) throw invalidParameterValue(`The guest CIDR of network ${p.id} cannot change here: create a network with CIDR ${p.guestvmcidr} and move the VMs' NICs to it`);
      const updated = await infra
        .resource<NetworkObject>(ctx, Network)
        .patch({ namespace: network.metadata.namespace, name: network.metadata.name ?? '' }, { spec: { displayName: p.name, displayText: p.displaytext } }, 'merge')
        .catch((err: unknown) => failure(err, ctx, { label, id: p.id, params: { 'spec.displayName': 'name', 'spec.displayText': 'displaytext' } }));
      return { jobid: await infra.submitJob(ctx, { target: updated, kind: Network }) };
    },
  });

  return [createNetwork, listNetworks, updateNetwork, deleteNetwork, restartNetwork];
}

/** The job results of the network commands: the network as it is now. */
export function networkJobResults(infra: Infra): [string, JobResultMapper][] {
  const current: JobResultMapper = (job) => {
    const network = infra.cache.networks.byName(job.spec.targetRef.name, job.spec.targetRef.namespace);
    return network && network.metadata.uid === job.spec.targetRef.uid ? networkFields(infra, network) : undefined;
  };
  return [['updateNetwork', current]];
}
