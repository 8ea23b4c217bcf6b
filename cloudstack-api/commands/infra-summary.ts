import { Host } from '../../crds/index.ts';
import { findOptional } from '../lists/filters.ts';
import { SCOPE_PARAMS } from '../lists/scope.ts';
import type { Infra } from './context.ts';
import { type Command, defineCommand } from './define.ts';

/**
 * The infrastructure summary the web UI's dashboard and Infrastructure page show: counts of
 * each kind (listInfrastructure), and the system VMs, virtual routers and alerts it counts
 * beside them. Kumulus runs no system VMs and no router VMs (DHCP and DNS are distributed
 * over the hosts, secondary storage is mounted by the hosts), and raises no CloudStack
 * alerts, so those lists are truthfully empty; their filters are still checked.
 */
export function infraSummaryCommands(infra: Infra): Command[] {
  const { cache } = infra;

  const listInfrastructure = defineCommand({
    name: 'listInfrastructure',
    kind: 'object',
    description: 'Lists infrastructure',
    params: {},
    async handle(_p, ctx) {
      await infra.mayRead(ctx, Host);
      const hosts = cache.hosts.list();
      return {
        zones: cache.zones.list().length,
        pods: cache.pods.list().length,
        clusters: cache.clusters.list().length,
        hosts: hosts.length,
        cpusockets: hosts.reduce((sum, host) => sum + (host.status?.capacity?.cpuSockets ?? 0), 0),
        storagepools: cache.primaryStorages.list().length,
        imagestores: cache.secondaryStorages.list().length,
        objectstores: 0,
        systemvms: 0,
        routers: 0,
        ilbvms: 0,
        alerts: 0,
        backuprepositories: 0,
        // The API process answering is the one management server a client talks to.
        managementservers: 1,
      };
    },
    map: (counts) => counts,
  });

  const listSystemVms = defineCommand({
    name: 'listSystemVms',
    kind: 'list',
    description: 'List system virtual machines.',
    params: {
      id: { type: 'uuid', description: 'the ID of the system virtual machine', entity: 'systemvm' },
      zoneid: { type: 'uuid', description: 'the Zone ID of the system VM', entity: 'zone' },
      podid: { type: 'uuid', description: 'the Pod ID of the system VM', entity: 'pod' },
      hostid: { type: 'uuid', description: 'the host ID of the system VM', entity: 'host' },
      storageid: { type: 'uuid', description: 'the storage ID where vm\'s volumes belong to', entity: 'storagepool' },
      name: { type: 'string', description: 'the name of the system VM' },
      state: { type: 'string', description: 'the state of the system VM' },
      systemvmtype: { type: 'string', description: 'the system VM type. Possible types are "consoleproxy" and "secondarystoragevm".' },
      arch: { type: 'string', description: 'CPU arch of the system VM' },
      keyword: { type: 'string', description: 'List by keyword' },
    },
    async handle(p, ctx) {
      await infra.mayRead(ctx, Host);
      const label = 'listsystemvms';
      findOptional(cache.zones, p.zoneid, label, 'zoneid');
      findOptional(cache.pods, p.podid, label, 'podid');
      findOptional(cache.hosts, p.hostid, label, 'hostid');
      findOptional(cache.primaryStorages, p.storageid, label, 'storageid');
      // No system VM exists, so no id names one.
      findOptional({ byUid: () => undefined }, p.id, label, 'id');
      return [];
    },
    mapItem: (row: never) => row,
  });

  const listRouters = defineCommand({
    name: 'listRouters',
    kind: 'list',
    description: 'List routers.',
    params: {
      id: { type: 'uuid', description: 'the ID of the disk router', entity: 'router' },
      zoneid: { type: 'uuid', description: 'the Zone ID of the router', entity: 'zone' },
      podid: { type: 'uuid', description: 'the Pod ID of the router', entity: 'pod' },
      clusterid: { type: 'uuid', description: 'the cluster ID of the router', entity: 'cluster' },
      hostid: { type: 'uuid', description: 'the host ID of the router', entity: 'host' },
      networkid: { type: 'uuid', description: 'list by network id', entity: 'network' },
      vpcid: { type: 'uuid', description: 'List networks by VPC', entity: 'vpc' },
      name: { type: 'string', description: 'the name of the router' },
      state: { type: 'string', description: 'the state of the router' },
      version: { type: 'string', description: 'list virtual router elements by version' },
      forvpc: { type: 'boolean', description: 'if true is passed for this parameter, list only VPC routers' },
      healthchecksfailed: { type: 'boolean', description: 'if this parameter is passed, list only routers by health check results' },
      fetchhealthcheckresults: { type: 'boolean', description: 'if true is passed for this parameter, also fetch last executed health check results for the router. Default is false' },
      arch: { type: 'string', description: 'CPU arch of the router' },
      ...SCOPE_PARAMS,
      projectid: { type: 'uuid', description: 'list objects by project; if projectid=-1 lists All VMs', entity: 'project' },
      keyword: { type: 'string', description: 'List by keyword' },
    },
    async handle(p, ctx) {
      await infra.mayRead(ctx, Host);
      const label = 'listrouters';
      findOptional(cache.zones, p.zoneid, label, 'zoneid');
      findOptional(cache.pods, p.podid, label, 'podid');
      findOptional(cache.clusters, p.clusterid, label, 'clusterid');
      findOptional(cache.hosts, p.hostid, label, 'hostid');
      findOptional(cache.domains, p.domainid, label, 'domainid');
      findOptional(cache.networks, p.networkid, label, 'networkid');
      findOptional({ byUid: () => undefined }, p.id, label, 'id');
      return [];
    },
    mapItem: (row: never) => row,
  });

  const listAlerts = defineCommand({
    name: 'listAlerts',
    kind: 'list',
    description: 'Lists all alerts.',
    params: {
      id: { type: 'uuid', description: 'the ID of the alert', entity: 'alert' },
      name: { type: 'string', description: 'list by alert name' },
      type: { type: 'string', description: 'list by alert type' },
      keyword: { type: 'string', description: 'List by keyword' },
    },
    async handle(p, ctx) {
      await infra.mayRead(ctx, Host);
      findOptional({ byUid: () => undefined }, p.id, 'listalerts', 'id');
      return [];
    },
    mapItem: (row: never) => row,
  });

  return [listInfrastructure, listSystemVms, listRouters, listAlerts];
}
