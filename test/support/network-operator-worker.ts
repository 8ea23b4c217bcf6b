/**
 * The operator process of the crash-safety test: every infrastructure controller (the Network
 * controller and the allocation repair loop among them) plus the part of the VM controller
 * that guest networking needs, played here: ensureNics on every VM of the namespace with its
 * entries written to status.nics, and releaseNics before the VM's test finalizer is removed.
 * Killed with SIGKILL at random moments, restarted, and expected to converge.
 * argv: namespace, orphan grace in ms, the test finalizer.
 */
import * as k8s from '@kubernetes/client-node';
import { clientFor } from '../../controllers/infra-context.ts';
import { registerInfrastructureControllers } from '../../controllers/infrastructure.ts';
import { ensureNics, nicAddressWatch, releaseNics } from '../../controllers/nics.ts';
import { VirtualMachine, type VirtualMachineObject } from '../../crds/index.ts';
import { isNotFound } from '../../lib/kube-client.ts';
import { log, setLogLevel } from '../../lib/log.ts';
import { createManager } from '../../lib/manager.ts';
import { removeFinalizer } from '../../lib/ownership.ts';

const [namespace = '', grace = '3000', finalizer = ''] = process.argv.slice(2);
setLogLevel(process.env['KUMULUS_LOG_LEVEL'] === 'info' ? 'info' : 'warn');
const kc = new k8s.KubeConfig();
kc.loadFromDefault();
const manager = createManager({ kubeConfig: kc, eventSource: 'kumulus.io/operator', httpBindAddress: '127.0.0.1:0', maxConcurrentReconciles: 4, logger: log.child({ component: 'crash-operator' }) });
const ctx = registerInfrastructureControllers(manager, { orphanGraceMs: Number(grace) });
const vms = clientFor<VirtualMachineObject>(ctx, VirtualMachine);
manager.addController<VirtualMachineObject>({
  name: 'test-vm-nics',
  for: ctx.informers.vms,
  watches: [nicAddressWatch(ctx)],
  async reconcile(rctx, request) {
    const vm = ctx.informers.vms.get(request);
    if (!vm || vm.metadata.namespace !== namespace) return;
    try {
      if (vm.metadata.deletionTimestamp !== undefined) {
        if (!vm.metadata.finalizers?.includes(finalizer)) return;
        await releaseNics(ctx, vm, rctx.signal);
        await removeFinalizer(vms, vm, finalizer, rctx.signal);
        return;
      }
      const outcome = await ensureNics(ctx, vm, rctx.signal);
      if (outcome.result !== 'ready') return { requeueAfter: 500 };
      if (JSON.stringify(vm.status?.nics ?? []) !== JSON.stringify(outcome.nics)) {
        await vms.patchStatus({ namespace, name: vm.metadata.name ?? '' }, { status: { nics: outcome.nics } }, { signal: rctx.signal });
      }
    } catch (err) {
      if (isNotFound(err)) return;
      throw err;
    }
  },
});
await manager.start();
process.stdout.write('READY\n');
