/**
 * The repair loop of the allocation records (KEP-1880's, for IPAddress and VlanAllocation):
 * each record names its consumer by namespace, name and uid (a VM's NIC, a guest network).
 * The garbage collector ignores a namespaced owner of a cluster-scoped object, so this loop
 * frees a record whose consumer is gone: not seen in the cache for the grace period after the
 * record's creation, and then confirmed gone (or replaced by a namesake with another uid) by
 * a GET. Nothing is freed because a process went away: only the consumer's absence counts.
 * The grace period covers a record created an instant before its consumer reaches this
 * process's cache, and the apiserver's own request timeout (60 s by default, as KEP-1880).
 *
 * A record whose consumer is present is Allocated and Ready; one without a consumer reference
 * (a record made by hand, a later phase's public address) is left alone.
 */
import { IPAddress, Network, VirtualMachine, VlanAllocation, type IPAddressObject, type KindInfo, type NetworkObject, type VirtualMachineObject, type VlanAllocationObject } from '../crds/index.ts';
import type { EventInput } from '../lib/events.ts';
import type { Informer } from '../lib/informer.ts';
import { isConflict, isNotFound, type KubeObject } from '../lib/kube-client.ts';
import type { Manager } from '../lib/manager.ts';
import { commitFailure, commitStatus } from '../lib/status.ts';
import { clientFor, INDEX, operatorStatus, type InfraContext } from './infra-context.ts';

const WRITER = operatorStatus({ fields: [], conditions: ['Ready'] });

interface ConsumerRef {
  namespace: string;
  name: string;
  uid: string;
}

type WithStatus = KubeObject & { status?: { state?: string } };

interface RecordKind<T extends WithStatus, C extends KubeObject> {
  name: string;
  kind: KindInfo;
  informer: Informer<T>;
  consumerKind: KindInfo;
  consumers: Informer<C>;
  consumerOf(record: T): ConsumerRef | undefined;
  /** "VM ns/name's NIC on web", for messages. */
  describe(record: T, ref: ConsumerRef): string;
  releasedEvent(record: T, ref: ConsumerRef): EventInput;
  /** Records to look at again when a consumer changes or goes. */
  recordsOf(consumer: C): T[];
}

function registerRecordKind<T extends WithStatus, C extends KubeObject>(manager: Manager, ctx: InfraContext, spec: RecordKind<T, C>): void {
  const client = clientFor<T>(ctx, spec.kind);
  const consumerClient = clientFor<C>(ctx, spec.consumerKind);

  manager.addController<T>({
    name: spec.name,
    for: spec.informer,
    watches: [{ informer: spec.consumers, map: (c) => spec.recordsOf(c as C).map((r) => ({ name: r.metadata.name ?? '' })) }],
    async reconcile(rctx, request) {
      const record = spec.informer.get(request);
      if (!record || record.metadata.deletionTimestamp !== undefined) return;
      const signal = rctx.signal;
      try {
        const ref = spec.consumerOf(record);
        const held = (message: string) =>
          commitStatus(client, record, WRITER, { state: 'Allocated', conditions: [{ type: 'Ready', status: 'True', reason: ref ? 'ConsumerPresent' : 'NoConsumer', message }] }, signal, ctx.now());
        if (!ref) {
          await held('no consumer is recorded; delete the object to release it');
          return;
        }
        const what = spec.describe(record, ref);
        const cached = spec.consumers.get({ namespace: ref.namespace, name: ref.name });
        if (cached?.metadata.uid === ref.uid) {
          await held(`held by ${what}`);
          return;
        }
        const created = Date.parse(record.metadata.creationTimestamp ?? '') || ctx.now().getTime();
        const remaining = created + ctx.orphanGraceMs - ctx.now().getTime();
        if (remaining > 0) {
          await commitStatus(
            client,
            record,
            WRITER,
            { state: record.status?.state ?? 'Allocating', conditions: [{ type: 'Ready', status: 'False', reason: 'ConsumerNotSeen', message: `${what} is not known yet; released if it is still gone ${Math.ceil(ctx.orphanGraceMs / 1000)}s after the allocation` }] },
            signal,
            ctx.now(),
          );
          return { requeueAfter: remaining + 50 };
        }
        const live = await consumerClient.get({ namespace: ref.namespace, name: ref.name }, { signal }).catch((err: unknown) => {
          if (isNotFound(err)) return undefined;
          throw err;
        });
        if (live?.metadata.uid === ref.uid) {
          await held(`held by ${what}`);
          return;
        }
        await client.delete({ name: record.metadata.name ?? '' }, { preconditions: { uid: record.metadata.uid }, signal });
        ctx.events.event(record, spec.releasedEvent(record, ref));
        rctx.log.info('released: consumer gone', { consumer: `${ref.namespace}/${ref.name}`, uid: ref.uid });
        return;
      } catch (err) {
        if (isNotFound(err)) return;
        if (isConflict(err)) return { requeue: true };
        await commitFailure(client, record, WRITER, err, signal).catch(() => undefined);
        throw err;
      }
    },
  });
}

/** The repair loop of both record kinds: an IPAddress is held by a VM's NIC, a VlanAllocation by its guest network. */
export function registerAllocationRecordControllers(manager: Manager, ctx: InfraContext): void {
  const i = ctx.informers;
  registerRecordKind<IPAddressObject, VirtualMachineObject>(manager, ctx, {
    name: 'ipaddress',
    kind: IPAddress,
    informer: i.ipAddresses,
    consumerKind: VirtualMachine,
    consumers: i.vms,
    consumerOf: (a) => a.spec.consumerRef,
    describe: (a, ref) => `the NIC of VirtualMachine ${ref.namespace}/${ref.name} (uid ${ref.uid}) on network ${a.spec.consumerRef?.nic ?? a.spec.networkRef?.name}`,
    releasedEvent: (a, ref) => ({ reason: 'NET.IPRELEASE', note: `${a.spec.address} released: VirtualMachine ${ref.namespace}/${ref.name} (uid ${ref.uid}) is gone` }),
    recordsOf: (vm) => i.ipAddresses.byIndex(INDEX.consumerUid, vm.metadata.uid ?? ''),
  });
  registerRecordKind<VlanAllocationObject, NetworkObject>(manager, ctx, {
    name: 'vlanallocation',
    kind: VlanAllocation,
    informer: i.vlanAllocations,
    consumerKind: Network,
    consumers: i.networks,
    consumerOf: (a) => a.spec.networkRef,
    describe: (_a, ref) => `Network ${ref.namespace}/${ref.name} (uid ${ref.uid})`,
    releasedEvent: (a, ref) => ({ reason: 'ZONE.VLAN.RELEASE', note: `${a.spec.isolation} ${a.spec.id} released: Network ${ref.namespace}/${ref.name} (uid ${ref.uid}) is gone` }),
    recordsOf: (n) => i.vlanAllocations.byIndex(INDEX.networkUid, n.metadata.uid ?? ''),
  });
}
