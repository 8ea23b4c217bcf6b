import type { KubeConfig } from '@kubernetes/client-node';
import { prepareInfrastructure } from '../../controllers/infrastructure.ts';
import { createKubeClient, type KubeClient } from '../../lib/kube-client.ts';
import { ensureKumulusCrds, sharedKubeConfig } from './cluster.ts';

/** The shared control plane as the operator finds it once started: the Kumulus CRDs installed and prepareInfrastructure run. */
export async function preparedCluster(): Promise<{ kc: KubeConfig; client: KubeClient }> {
  const kc = await sharedKubeConfig();
  await ensureKumulusCrds();
  const client = createKubeClient(kc);
  await prepareInfrastructure(client);
  return { kc, client };
}
