/**
 * The infrastructure controllers (issue #5), registered together because they share one set
 * of informers and indexes: the operator calls `registerInfrastructureControllers(manager)`.
 */
import type { Manager } from '../lib/manager.ts';
import { registerClusterController } from './cluster.ts';
import { registerConfigurationController } from './configuration.ts';
import { registerDiskOfferingController } from './disk-offering.ts';
import { registerHostController } from './host.ts';
import { createInfraContext, type InfraContext } from './infra-context.ts';
import { registerIPRangeController } from './ip-range.ts';
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
];

/** Registers every infrastructure controller on the manager; returns the shared context. */
export function registerInfrastructureControllers(manager: Manager): InfraContext {
  const ctx = createInfraContext(manager);
  for (const register of infrastructureControllers) register(manager, ctx);
  return ctx;
}
