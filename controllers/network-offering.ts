/** NetworkOffering: Active, or Inactive while deleted and still used by guest networks. */
import { NetworkOffering } from '../crds/index.ts';
import type { Manager } from '../lib/manager.ts';
import { INDEX, type InfraContext } from './infra-context.ts';
import { registerOfferingController } from './offering.ts';
import { watchNames } from './reconciler.ts';

export function registerNetworkOfferingController(manager: Manager, ctx: InfraContext): void {
  const i = ctx.informers;
  registerOfferingController(manager, ctx, {
    name: 'networkoffering',
    kind: NetworkOffering,
    informer: i.networkOfferings,
    eventPrefix: 'NETWORK.OFFERING',
    users: (o) => i.networks.byIndex(INDEX.networkOffering, o.metadata.name ?? '').map((n) => `Network ${n.metadata.namespace}/${n.metadata.name}`),
    watches: [watchNames(i.networks, (n) => [n.spec.networkOfferingRef.name])],
  });
}
