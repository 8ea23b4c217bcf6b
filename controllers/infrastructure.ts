/**
 * The infrastructure controllers (issue #5), registered together because they share one set
 * of informers and indexes: the operator calls `registerInfrastructureControllers(manager)`.
 */
import { Configuration } from '../crds/index.ts';
import { isAlreadyExists, type KubeClient, resourceTypeOf } from '../lib/kube-client.ts';
import type { Manager } from '../lib/manager.ts';
import { HOST_LEASE_NAMESPACE } from '../lib/agent-contract.ts';
import { registerClusterController } from './cluster.ts';
import { registerConfigurationController } from './configuration.ts';
import { registerDiskOfferingController } from './disk-offering.ts';
import { registerHostController } from './host.ts';
import { GLOBAL_CONFIGURATION } from '../lib/settings.ts';
import { registerAllocationRecordControllers } from './allocation-records.ts';
import { OPERATOR_FIELD_MANAGER, createInfraContext, type InfraContext, type InfraOptions } from './infra-context.ts';
import { registerIPRangeController } from './ip-range.ts';
import { registerNetworkController } from './network.ts';
import { registerNetworkHostsController } from './network-hosts.ts';
import { registerNetworkOfferingController } from './network-offering.ts';
import { registerPhysicalNetworkController } from './physical-network.ts';
import { registerPodController } from './pod.ts';
import { registerPrimaryStorageController } from './primary-storage.ts';
import { registerSecondaryStorageController } from './secondary-storage.ts';
import { registerServiceOfferingController } from './service-offering.ts';
import { registerZoneController } from './zone.ts';

export const infrastructureControllers: readonly ((manager: Manager, ctx: InfraContext) => void)[] = [
  registerConfigurationController,
  registerZoneController,
  registerPodController,
  registerClusterController,
  registerHostController,
  registerPrimaryStorageController,
  registerSecondaryStorageController,
  registerPhysicalNetworkController,
  registerIPRangeController,
  registerServiceOfferingController,
  registerDiskOfferingController,
  registerNetworkOfferingController,
  registerNetworkHostsController,
  registerNetworkController,
  registerAllocationRecordControllers,
];

/** Registers every infrastructure controller on the manager; returns the shared context. */
export function registerInfrastructureControllers(manager: Manager, options: InfraOptions = {}): InfraContext {
  const ctx = createInfraContext(manager, options);
  for (const register of infrastructureControllers) register(manager, ctx);
  return ctx;
}

async function createUnlessExists(create: () => Promise<unknown>): Promise<void> {
  await create().catch((err: unknown) => {
    if (!isAlreadyExists(err)) throw err;
  });
}

/**
 * What the infrastructure needs before the first reconcile, created when absent (call it once
 * at operator start): the namespace of the agents' heartbeat Leases, and the `global`
 * Configuration, so its status lists every setting's effective value from the start.
 */
export async function prepareInfrastructure(client: KubeClient): Promise<void> {
  await createUnlessExists(() =>
    client.resource({ group: '', version: 'v1', plural: 'namespaces', kind: 'Namespace', namespaced: false }).create({ metadata: { name: HOST_LEASE_NAMESPACE } }, { fieldManager: OPERATOR_FIELD_MANAGER }),
  );
  await createUnlessExists(() =>
    client.resource(resourceTypeOf(Configuration)).create({ metadata: { name: GLOBAL_CONFIGURATION }, spec: { settings: {} } } as { metadata: { name: string } }, { fieldManager: OPERATOR_FIELD_MANAGER }),
  );
}
