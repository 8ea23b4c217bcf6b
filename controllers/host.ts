/**
 * Host (operator side). The agent creates or adopts the Host of its node, reports its facts
 * and renews a heartbeat Lease; this controller turns the Lease into status.state (Connecting
 * until the first heartbeat, Up while fresh, Disconnected once late, Down after ping.interval ×
 * ping.timeout, Alert when the agent reports trouble), drives resourceState through
 * maintenance, derives what the VMs placed here take, and says whether the planner may place
 * new VMs here (Allocatable). A host with VMs cannot be deleted.
 */
import { Host, type HostObject } from '../crds/index.ts';
import type { EventInput } from '../lib/events.ts';
import type { Manager } from '../lib/manager.ts';
import { AGENT_HEALTHY, HOST_LEASE_NAMESPACE, hostLeaseName } from '../lib/agent-contract.ts';
import { ALLOCATABLE, allocatableCondition } from './allocation.ts';
import { holdingsOfHost, hostAncestry, vmKey, vmsOnHost } from './hierarchy.ts';
import { hostConnection, inMaintenance, nextResourceState, type ConnectionState, type ResourceState } from './host-state.ts';
import { CHILDREN_FINALIZER, INDEX, LABEL_CLUSTER, LABEL_HOST, LABEL_POD, LABEL_ZONE, type InfraContext } from './infra-context.ts';
import { everyObject, parentAllocatable, registerKindReconciler, watchNames } from './reconciler.ts';
import { metav1Time } from '../lib/time.ts';

/** Bridges the host needs: the KVM label of every traffic type of its zone's physical networks. */
function requiredBridges(ctx: InfraContext, zone: string | undefined): string[] {
  if (!zone) return [];
  return [...new Set(ctx.informers.physicalNetworks.byIndex(INDEX.zone, zone).flatMap((pn) => pn.spec.trafficTypes.map((t) => t.kvmLabel)))].sort();
}

function connectionEvents(from: string | undefined, to: string): EventInput[] {
  const back = from === 'Disconnected' || from === 'Down' || from === 'Alert';
  switch (to as ConnectionState) {
    case 'Connecting':
      return [{ reason: 'HOST.CREATE', note: 'host added; waiting for its agent' }];
    case 'Up':
      return [back ? { reason: 'HOST.RECONNECT', note: `host reconnected (was ${from})` } : { reason: 'HOST.UP', note: 'agent connected' }];
    case 'Disconnected':
      return [{ type: 'Warning', reason: 'HOST.DISCONNECTED', note: `heartbeat late (was ${from ?? 'unknown'})` }];
    case 'Down':
      return [{ type: 'Warning', reason: 'HOST.DOWN', note: `heartbeat expired (was ${from ?? 'unknown'})` }];
    case 'Alert':
      return [{ type: 'Warning', reason: 'HOST.ALERT', note: 'the agent reports trouble' }];
  }
}

function resourceStateEvents(from: ResourceState | undefined, to: ResourceState, message: string): EventInput[] {
  if (from === to || from === undefined) return [];
  switch (to) {
    case 'PrepareForMaintenance':
      return from === 'ErrorInPrepareForMaintenance' ? [] : [{ reason: 'HOST.MAINTENANCE.PREPARE', note: message || 'preparing for maintenance' }];
    case 'Maintenance':
      return [{ reason: 'HOST.MAINTENANCE', note: 'host in maintenance' }];
    case 'ErrorInPrepareForMaintenance':
    case 'ErrorInMaintenance':
      return [{ type: 'Warning', reason: 'HOST.MAINTENANCE.ERROR', note: message }];
    case 'Enabled':
    case 'Disabled':
      if (inMaintenance(from)) return [{ reason: 'HOST.MAINTENANCE.CANCEL', note: `maintenance cancelled; host ${to}` }];
      return [{ reason: to === 'Enabled' ? 'HOST.ENABLE' : 'HOST.DISABLE', note: `host ${to}` }];
  }
}

export function registerHostController(manager: Manager, ctx: InfraContext): void {
  const i = ctx.informers;
  const zoneOfHost = (host: HostObject) => hostAncestry(ctx, host).zone;

  registerKindReconciler<HostObject>(manager, ctx, {
    name: 'host',
    kind: Host,
    informer: i.hosts,
    ownership: { fields: ['resourceState', 'allocated', 'lastHeartbeat', 'disconnectedAt'], conditions: ['Ready', ALLOCATABLE] },
    labels(host) {
      const a = hostAncestry(ctx, host);
      return { [LABEL_ZONE]: a.zone, [LABEL_POD]: a.pod, [LABEL_CLUSTER]: a.cluster, [LABEL_HOST]: host.metadata.name };
    },
    finalizer: CHILDREN_FINALIZER,
    remaining(host) {
      const name = host.metadata.name ?? '';
      return [...vmsOnHost(ctx, name).map((vm) => `VirtualMachine ${vmKey(vm)}`), ...i.primaryStorages.byIndex(INDEX.host, name).map((o) => `PrimaryStorage ${o.metadata.name}`)];
    },
    observe(host) {
      const name = host.metadata.name ?? '';
      const settings = ctx.settings();
      const now = ctx.now();
      const lease = i.leases.get({ namespace: HOST_LEASE_NAMESPACE, name: hostLeaseName(name) });
      const troubleCondition = host.status?.conditions?.find((c) => c.type === AGENT_HEALTHY && c.status === 'False');
      const holder = lease?.spec?.holderIdentity;
      const trouble = holder && holder !== host.spec.nodeName
        ? `the heartbeat Lease is held by "${holder}", not by node ${host.spec.nodeName}`
        : troubleCondition
          ? `${troubleCondition.reason}${troubleCondition.message ? `: ${troubleCondition.message}` : ''}`
          : undefined;
      const pingInterval = settings.number('ping.interval');
      const connection = hostConnection({
        renewTime: lease?.spec?.renewTime,
        everConnected: host.status?.lastHeartbeat !== undefined,
        now,
        pingIntervalSeconds: pingInterval,
        pingTimeout: settings.number('ping.timeout'),
        agentTrouble: trouble,
        nodeName: host.spec.nodeName,
      });
      const vms = vmsOnHost(ctx, name);
      const resource = nextResourceState({
        current: host.status?.resourceState,
        maintenance: host.spec.maintenance ?? false,
        allocationState: host.spec.allocationState ?? 'Enabled',
        connection: connection.state,
        vms: vms.map(vmKey),
      });
      const holdings = holdingsOfHost(ctx, name);
      const nextRelease = Math.min(...holdings.map((u) => u.holdsUntil)) - now.getTime();

      const renewed = lease?.spec?.renewTime ? new Date(lease.spec.renewTime) : undefined;
      const previous = host.status?.lastHeartbeat ? new Date(host.status.lastHeartbeat) : undefined;
      // The Lease is the live heartbeat; status keeps a copy fresh to within ping.interval, so a host costs one write per interval, not per renewal.
      const stateChanged = host.status?.state !== connection.state;
      const lastHeartbeat = renewed && (!previous || stateChanged || renewed.getTime() - previous.getTime() >= pingInterval * 1000) ? renewed : previous;
      const wasConnected = host.status?.state === 'Up' || host.status?.state === 'Alert';
      const lost = connection.state === 'Disconnected' || connection.state === 'Down';
      const disconnectedAt = lost && wasConnected ? metav1Time(now) : host.status?.disconnectedAt;

      const a = hostAncestry(ctx, host);
      const cluster = i.clusters.get(host.spec.clusterRef.name);
      const clusterAllocatable = parentAllocatable('Cluster', host.spec.clusterRef.name, cluster);
      const needed = requiredBridges(ctx, a.zone);
      const reported = host.status?.bridges;
      const missing = reported ? needed.filter((b) => !reported.includes(b)) : needed;
      const blockers = [
        connection.state === 'Up' ? undefined : { reason: 'NotUp', message: `the host is ${connection.state}${connection.message ? `: ${connection.message}` : ''}` },
        resource.state === 'Enabled'
          ? undefined
          : { reason: resource.state === 'Disabled' ? 'Disabled' : 'Maintenance', message: `resourceState is ${resource.state}${resource.message ? `: ${resource.message}` : ''}` },
        clusterAllocatable.ok ? undefined : { reason: 'ClusterNotAllocatable', message: clusterAllocatable.message },
        missing.length
          ? { reason: 'MissingBridges', message: reported ? `the host lacks bridge(s) ${missing.join(', ')} named by its zone's traffic labels` : `the agent has not reported the host's bridges yet (needs ${missing.join(', ')})` }
          : undefined,
      ].filter((b) => b !== undefined);

      const ready = cluster === undefined
        ? { type: 'Ready', status: 'False' as const, reason: 'ClusterNotFound', message: `Cluster ${host.spec.clusterRef.name} does not exist: create it or fix spec.clusterRef.name` }
        : connection.state === 'Up'
          ? { type: 'Ready', status: 'True' as const, reason: connection.reason, message: '' }
          : { type: 'Ready', status: 'False' as const, reason: connection.reason, message: `${connection.state}: ${connection.message}` };
      return {
        state: connection.state,
        fields: {
          resourceState: resource.state,
          allocated: {
            cpuMhz: holdings.reduce((n, d) => n + d.cpuMhz, 0),
            memoryBytes: holdings.reduce((n, d) => n + d.memoryBytes, 0),
            vmCount: vms.length,
          },
          lastHeartbeat: lastHeartbeat && metav1Time(lastHeartbeat),
          disconnectedAt,
        },
        conditions: [ready, allocatableCondition(blockers)],
        events: resourceStateEvents(host.status?.resourceState, resource.state, resource.message),
        // A stopped VM's hold lapses by time alone (capacity.skipcounting.hours): recount then.
        requeueAfterMs: Number.isFinite(nextRelease) ? Math.min(connection.recheckAfterMs ?? Infinity, nextRelease + 1) : connection.recheckAfterMs,
      };
    },
    stateEvents: (from, to) => connectionEvents(from, to),
    deletedEvent: () => ({ reason: 'HOST.DELETE', note: 'host removed' }),
    watches: [
      watchNames(i.leases, (lease) => [lease.metadata.name]),
      watchNames(i.clusters, (c) => i.hosts.byIndex(INDEX.cluster, c.metadata.name ?? '').map((h) => h.metadata.name)),
      watchNames(i.vms, (vm) => [vm.status?.placement?.host]),
      watchNames(i.physicalNetworks, (pn) => i.hosts.list().filter((h) => zoneOfHost(h) === pn.spec.zoneRef.name).map((h) => h.metadata.name)),
      watchNames(i.primaryStorages, (ps) => [ps.spec.hostRef?.name]),
      everyObject(i.configurations, i.hosts),
    ],
  });
}
