/**
 * What the three offering controllers share: an offering is Active; deleting one that is in use
 * turns it Inactive (hidden from tenants) and a finalizer holds it until its users are gone,
 * as CloudStack defers such deletions.
 */
import type { KindInfo } from '../crds/index.ts';
import type { WatchSource } from '../lib/controller.ts';
import type { Informer } from '../lib/informer.ts';
import type { KubeObject } from '../lib/kube-client.ts';
import type { Manager } from '../lib/manager.ts';
import { isBeingDeleted } from '../lib/ownership.ts';
import { IN_USE_FINALIZER, type InfraContext } from './infra-context.ts';
import { registerKindReconciler } from './reconciler.ts';

type CachedOffering = KubeObject & { status?: { state?: string; conditions?: { type: string; status: string }[] } };

export interface OfferingSpec<T extends CachedOffering> {
  name: string;
  kind: KindInfo;
  informer: Informer<T>;
  /** CloudStack's event type prefix, such as SERVICE.OFFERING. */
  eventPrefix: string;
  /** Who uses the offering, as "Kind namespace/name" phrases. */
  users: (offering: T) => string[];
  watches: WatchSource[];
}

export function registerOfferingController<T extends CachedOffering>(manager: Manager, ctx: InfraContext, spec: OfferingSpec<T>): void {
  registerKindReconciler<T>(manager, ctx, {
    name: spec.name,
    kind: spec.kind,
    informer: spec.informer,
    ownership: { fields: [], conditions: ['Ready'] },
    finalizer: IN_USE_FINALIZER,
    remaining: spec.users,
    observe: (offering) =>
      isBeingDeleted(offering)
        ? { state: 'Inactive', conditions: [{ type: 'Ready', status: 'False', reason: 'Inactive', message: 'deleted while in use; hidden until its users are gone' }] }
        : { state: 'Active', conditions: [{ type: 'Ready', status: 'True', reason: 'Active', message: '' }] },
    stateEvents: (from) => (from === undefined ? [{ reason: `${spec.eventPrefix}.CREATE`, note: 'offering active' }] : []),
    deletedEvent: () => ({ reason: `${spec.eventPrefix}.DELETE`, note: 'offering deleted' }),
    watches: spec.watches,
  });
}
