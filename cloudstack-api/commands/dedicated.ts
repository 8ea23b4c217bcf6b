import type { KubeObject } from '../../lib/kube-client.ts';
import { Cluster, Host, type KindInfo, Pod, Zone, type ZoneObject } from '../../crds/index.ts';
import { type Cached, derivedUuid } from '../lists/cache.ts';
import { byCreation, findOptional } from '../lists/filters.ts';
import type { Infra } from './context.ts';
import { type Command, defineCommand } from './define.ts';
import type { ParamSpec } from './params.ts';
import { displayName } from './names.ts';

/**
 * The dedicated-resources lists (CloudStack's dedicate-resources plugin, part of every build):
 * the web UI's zone, pod, cluster and host pages each ask theirs unconditionally and show an
 * error for anything but an answer. A zone is dedicated by its spec.dedication (to a domain,
 * or one account of it); pods, clusters and hosts carry no dedication in Kumulus, so nothing
 * is dedicated at those levels and their lists are empty, after the same checks of the ids.
 */

const FILTERS = {
  domainid: { type: 'uuid', description: 'the ID of the domain associated with the resource', entity: 'domain' },
  account: { type: 'string', description: 'the name of the account associated with the resource. Must be used with domainId.' },
  affinitygroupid: { type: 'uuid', description: 'list dedicated resources by affinity group' },
  keyword: { type: 'string', description: 'List by keyword' },
} as const;

export function dedicatedCommands(infra: Infra): Command[] {
  const { cache } = infra;

  /** The dedication's row: its own id (the zone's dedication has no object of its own), the domain and the account. */
  function zoneRow(zone: ZoneObject) {
    const dedication = zone.spec.dedication!;
    const account = dedication.accountRef ? cache.accounts.byName(dedication.accountRef.name) : undefined;
    return {
      account,
      id: derivedUuid(zone.metadata.uid ?? '', 'dedication'),
      zoneid: zone.metadata.uid,
      zonename: displayName(zone),
      domainid: cache.domains.byName(dedication.domainRef.name)?.metadata.uid,
    };
  }

  const listDedicatedZones = defineCommand({
    name: 'listDedicatedZones',
    kind: 'list',
    description: 'List dedicated zones.',
    params: { zoneid: { type: 'uuid', description: 'the ID of the Zone', entity: 'zone' }, ...FILTERS },
    async handle(p, ctx) {
      const label = 'listdedicatedzones';
      await infra.mayRead(ctx, Zone);
      const one = findOptional(cache.zones, p.zoneid, label, 'zoneid');
      const domain = findOptional(cache.domains, p.domainid, label, 'domainid');
      // Every dedication belongs to the one affinity group CloudStack makes for it; Kumulus makes none.
      if (p.affinitygroupid !== undefined) return [];
      return (one ? [one] : cache.zones.list())
        .filter((zone) => zone.spec.dedication !== undefined)
        .sort(byCreation)
        .map(zoneRow)
        .filter((row) => (domain === undefined || row.domainid === domain.metadata.uid) && (p.account === undefined || (row.account !== undefined && displayName(row.account) === p.account)));
    },
    mapItem: ({ account, ...row }) => ({ ...row, accountid: account?.metadata.uid }),
  });

  /** Pods, clusters and hosts cannot be dedicated here: the ids are checked as CloudStack checks them, and the list is empty. */
  function nothingDedicated<T extends KubeObject>(name: string, description: string, idParam: string, kind: KindInfo, cached: Cached<T>): Command {
    const entity = kind.kind.toLowerCase();
    const params: Record<string, ParamSpec> = { [idParam]: { type: 'uuid', description: `the ID of the ${entity}`, entity }, ...FILTERS };
    return defineCommand({
      name,
      kind: 'list',
      description,
      params,
      async handle(p, ctx) {
        const label = name.toLowerCase();
        await infra.mayRead(ctx, kind);
        findOptional(cached, p[idParam], label, idParam);
        findOptional(cache.domains, p['domainid'], label, 'domainid');
        return [];
      },
      mapItem: () => ({}),
    });
  }

  return [
    listDedicatedZones,
    nothingDedicated('listDedicatedPods', 'Lists dedicated pods.', 'podid', Pod, cache.pods),
    nothingDedicated('listDedicatedClusters', 'Lists dedicated clusters.', 'clusterid', Cluster, cache.clusters),
    nothingDedicated('listDedicatedHosts', 'Lists dedicated hosts.', 'hostid', Host, cache.hosts),
  ];
}
