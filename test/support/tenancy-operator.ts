import type { KubeConfig } from '@kubernetes/client-node';
import { registerAsyncJobController } from '../../controllers/async-job.ts';
import { registerTenancyControllers } from '../../controllers/tenancy.ts';
import { createKubeClient, type KubeClient } from '../../lib/kube-client.ts';
import { log } from '../../lib/log.ts';
import { createManager, type Manager } from '../../lib/manager.ts';
import { ensureKumulusCrds, sharedKubeConfig } from './cluster.ts';

/** The tenancy controllers and the AsyncJob controller running against the shared control plane, with an admin client. */
export async function startTenancyOperator(test: string): Promise<{ kc: KubeConfig; client: KubeClient; manager: Manager }> {
  const kc = await sharedKubeConfig();
  await ensureKumulusCrds();
  const manager = createManager({ kubeConfig: kc, eventSource: `kumulus.io/${test}`, httpBindAddress: '127.0.0.1:0', logger: log.child({ test }) });
  registerTenancyControllers(manager);
  registerAsyncJobController(manager);
  await manager.start();
  return { kc, client: createKubeClient(kc), manager };
}
