import * as k8s from '@kubernetes/client-node';
import { mkdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { startControlPlane } from '../lib/controlplane/index.ts';
import { installCrds, readCrdManifests } from '../lib/install-crds.ts';
import { log } from '../lib/log.ts';

const repoRoot = resolve(import.meta.dirname, '..');

function waitForSignal(): Promise<NodeJS.Signals> {
  return new Promise((done) => {
    for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => done(signal));
  });
}

/**
 * `kumulus local`: the whole cloud on this machine. Its state lives only as long as the
 * process; `.kumulus/local/` holds the files a user needs to talk to it.
 */
export async function runLocal(_args: string[]): Promise<void> {
  const stateDir = join(repoRoot, '.kumulus', 'local');
  const plane = await startControlPlane({ logger: log, readyTimeoutMs: 120_000 });
  const stopped = waitForSignal();
  try {
    const kc = new k8s.KubeConfig();
    kc.loadFromString(plane.kubeconfig);
    const crds = await readCrdManifests(join(repoRoot, 'crds'));
    if (crds.length > 0) await installCrds(kc, crds, log);

    await mkdir(stateDir, { recursive: true });
    const kubeconfigPath = join(stateDir, 'kubeconfig');
    await writeFile(kubeconfigPath, plane.kubeconfig, { mode: 0o600 });
    const env = { KUBECONFIG: kubeconfigPath };
    const envPath = join(stateDir, 'env');
    await writeFile(envPath, Object.entries(env).map(([k, v]) => `${k}=${v}\n`).join(''), { mode: 0o600 });

    process.stdout.write(
      [
        '',
        'Kumulus is running locally.',
        `  kubeconfig: ${kubeconfigPath}`,
        `  environment: ${envPath}`,
        '',
        'In another shell:',
        `  set -a; . ${envPath}; set +a`,
        '  kubectl version',
        '  kubectl get kumulus',
        '',
        'Press Ctrl-C to stop everything.',
        '',
      ].join('\n'),
    );
    const signal = await stopped;
    log.info('stopping local cloud', { signal });
  } finally {
    await plane.stop();
  }
}
