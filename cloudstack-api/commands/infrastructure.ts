import { capacityCommands } from './capacity.ts';
import { clusterCommands } from './clusters.ts';
import { configurationCommands } from './configurations.ts';
import { dedicatedCommands } from './dedicated.ts';
import type { Command } from './define.ts';
import { eventCommands } from './events.ts';
import { hostCommands } from './hosts.ts';
import { imageStoreCommands } from './image-stores.ts';
import { infraCatalogCommands } from './infra-catalog.ts';
import { infraMetricsCommands } from './infra-metrics.ts';
import { infraSummaryCommands } from './infra-summary.ts';
import { createInfra, type InfrastructureDeps } from './context.ts';
import { jobCommands } from './jobs.ts';
import { networkElementCommands } from './network-elements.ts';
import { offeringCommands } from './offerings.ts';
import { physicalNetworkCommands } from './physical-networks.ts';
import { podCommands } from './pods.ts';
import { storagePoolCommands } from './storage-pools.ts';
import { vlanIpRangeCommands } from './vlan-ip-ranges.ts';
import { zoneCommands } from './zones.ts';

/**
 * The infrastructure half of the command table: the whole zone bring-up of PROTOCOL.md §9
 * (settings, zones, physical networks with traffic types and providers, pods, VLAN IP
 * ranges, clusters, hosts, primary and secondary storage), offerings, capacity, events and
 * async jobs. Writes go to the apiserver as the caller; lists come from the informers of
 * `deps.informers`, each gated by `deps.mayList`. The informers are created (with their
 * indexes) here: start them (manager.start or factory.start) before serving.
 */
export function infrastructureCommands(deps: InfrastructureDeps): Command[] {
  const infra = createInfra(deps);
  const lists = [
    ...configurationCommands(infra),
    ...zoneCommands(infra),
    ...dedicatedCommands(infra),
    ...physicalNetworkCommands(infra),
    ...networkElementCommands(infra),
    ...podCommands(infra),
    ...vlanIpRangeCommands(infra),
    ...clusterCommands(infra),
    ...hostCommands(infra),
    ...storagePoolCommands(infra),
    ...imageStoreCommands(infra),
    ...infraCatalogCommands(infra),
    ...offeringCommands(infra),
    ...capacityCommands(infra),
    ...eventCommands(infra),
    ...infraSummaryCommands(infra),
  ];
  return [
    ...lists,
    // The *Metrics twins answer their base lists' rows.
    ...infraMetricsCommands(infra, lists),
    // Last: the job commands read the result mappers the groups above registered.
    ...jobCommands(infra),
  ];
}

export { type InfrastructureDeps } from './context.ts';
export { type JobResultMapper } from './job-support.ts';
