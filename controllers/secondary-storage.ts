/**
 * SecondaryStorage (image store): labelled with its zone and Ready while its zone exists. The
 * agent serving it owns capacityBytes and usedBytes; the zone rolls them up as SECONDARY_STORAGE.
 */
import { SecondaryStorage, type SecondaryStorageObject } from '../crds/index.ts';
import type { Manager } from '../lib/manager.ts';
import { INDEX, LABEL_ZONE, type InfraContext } from './infra-context.ts';
import { registerKindReconciler, watchNames } from './reconciler.ts';

export function registerSecondaryStorageController(manager: Manager, ctx: InfraContext): void {
  const i = ctx.informers;
  registerKindReconciler<SecondaryStorageObject>(manager, ctx, {
    name: 'secondarystorage',
    kind: SecondaryStorage,
    informer: i.secondaryStorages,
    ownership: { fields: [], conditions: ['Ready'] },
    labels: (store) => ({ [LABEL_ZONE]: store.spec.zoneRef.name }),
    observe(store) {
      const zone = store.spec.zoneRef.name;
      if (!i.zones.get(zone)) {
        return { state: 'Pending', conditions: [{ type: 'Ready', status: 'False', reason: 'ZoneNotFound', message: `Zone ${zone} does not exist: create it or fix spec.zoneRef.name` }] };
      }
      return { state: 'Ready', conditions: [{ type: 'Ready', status: 'True', reason: 'StoreRegistered', message: '' }] };
    },
    stateEvents: (from, to) => (to === 'Ready' ? [{ reason: 'IMAGE.STORE.ADD', note: `image store ready (was ${from ?? 'new'})` }] : [{ type: 'Warning', reason: 'IMAGE.STORE.UNAVAILABLE', note: `image store ${to}` }]),
    watches: [watchNames(i.zones, (z) => i.secondaryStorages.byIndex(INDEX.zone, z.metadata.name ?? '').map((s) => s.metadata.name))],
  });
}
