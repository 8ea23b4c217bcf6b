/**
 * One "operator process" of the IPAM race test: the operator's informers (no controllers)
 * and ensureNics, as the VM controller calls it. It reads the VM names it handles from argv,
 * says READY once its caches have synced, waits for GO on stdin, asks for every VM's NICs
 * at once (bounded by the concurrency) and prints one JSON line per VM, then DONE.
 */
import * as k8s from '@kubernetes/client-node';
import { createInfraContext } from '../../controllers/infra-context.ts';
import { ensureNics } from '../../controllers/nics.ts';
import { log, setLogLevel } from '../../lib/log.ts';
import { createManager } from '../../lib/manager.ts';

const [namespace = '', concurrencyArg = '32', ...names] = process.argv.slice(2);
setLogLevel('warn');
const kc = new k8s.KubeConfig();
kc.loadFromDefault();
const manager = createManager({ kubeConfig: kc, eventSource: 'kumulus.io/operator', httpBindAddress: '127.0.0.1:0', logger: log.child({ component: 'ipam-worker' }) });
const ctx = createInfraContext(manager);
await manager.start();
const i = ctx.informers;
await Promise.all([i.vms, i.networks, i.networkOfferings, i.ipAddresses].map((inf) => inf.waitForSync()));
process.stdout.write('READY\n');
await new Promise<void>((go) => process.stdin.once('data', () => go()));

const signal = new AbortController().signal;
const queue = [...names];
async function worker(): Promise<void> {
  for (let name = queue.shift(); name !== undefined; name = queue.shift()) {
    const vm = i.vms.get({ namespace, name });
    if (!vm) {
      process.stdout.write(`${JSON.stringify({ vm: name, result: 'error', message: 'not in the cache' })}\n`);
      continue;
    }
    try {
      const outcome = await ensureNics(ctx, vm, signal);
      const line = outcome.result === 'ready' ? { vm: name, uid: vm.metadata.uid, result: 'ready', ip: outcome.nics[0]?.ipAddress } : { vm: name, uid: vm.metadata.uid, ...outcome };
      process.stdout.write(`${JSON.stringify(line)}\n`);
    } catch (err) {
      process.stdout.write(`${JSON.stringify({ vm: name, result: 'error', message: err instanceof Error ? err.message : String(err) })}\n`);
    }
  }
}
await Promise.all(Array.from({ length: Number(concurrencyArg) }, () => worker()));
process.stdout.write('DONE\n');
await manager.stop();
process.exit(0);
