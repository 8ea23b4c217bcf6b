import * as k8s from '@kubernetes/client-node';
import { mkdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { runApi } from '../cloudstack-api/main.ts';
import { runOperator } from '../controllers/operator.ts';
import { startControlPlane } from '../lib/controlplane/index.ts';
import { installCrds, readCrdManifests } from '../lib/install-crds.ts';
import { ensureGuestTemplate } from '../node-daemon/guest-template/build.ts';
import { GUEST_TEMPLATE_NAME, registerGuestTemplate } from '../node-daemon/guest-template/register.ts';
import { startLocalAgent } from '../node-daemon/local.ts';
import { PUBLIC_NAMESPACE } from '../lib/identity.ts';
import { createKubeClient } from '../lib/kube-client.ts';
import { logLevelOption, parseConfig, stringOption } from '../lib/config.ts';
import { log, setLogLevel } from '../lib/log.ts';
import { runWebhooks } from '../webhooks/main.ts';

const repoRoot = resolve(import.meta.dirname, '..');

const localOptions = {
  stateDir: stringOption('state-dir', 'where the kubeconfig and env files for this cloud are written', join(repoRoot, '.kumulus', 'local')),
  logLevel: logLevelOption(),
};

function waitForSignal(): Promise<NodeJS.Signals> {
  return new Promise((done) => {
    for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => done(signal));
  });
}

/**
 * `kumulus local`: the whole cloud on this machine. Its state lives only as long as the
 * process; `.kumulus/local/` holds the files a user needs to talk to it.
 */
export async function runLocal(args: string[]): Promise<void> {
  const config = parseConfig(localOptions, args, process.env);
  setLogLevel(config.logLevel);
  const stateDir = resolve(config.stateDir);
  // Built (or found in the cache) while the control plane starts.
  const guestTemplate = ensureGuestTemplate({ logger: log }).catch((err: unknown) => {
    log.warn('the local guest template could not be built: examples/vm will not find kumulus-public/kumulus-guest', { error: err instanceof Error ? err.message : String(err) });
    return undefined;
  });
  const plane = await startControlPlane({ logger: log, readyTimeoutMs: 120_000 });
  const stopped = waitForSignal();
  const stopFns: (() => Promise<void>)[] = [];
  try {
    const kc = new k8s.KubeConfig();
    kc.loadFromString(plane.kubeconfig);
    const crds = await readCrdManifests(join(repoRoot, 'crds'));
    if (crds.length > 0) await installCrds(kc, crds, log);

    // Admission first: whatever the operator writes at start is checked like everything else.
    const webhooks = await runWebhooks({ kubeConfig: kc, args: ['--webhook-bind-address=127.0.0.1:0', `--log-level=${config.logLevel}`], handleSignals: false });
    stopFns.push(() => webhooks.stop());
    const operator = await runOperator({ kubeConfig: kc, args: ['--http-bind-address=127.0.0.1:0', `--log-level=${config.logLevel}`], handleSignals: false });
    stopFns.push(() => operator.stop());
    // The agent for this machine joins cluster1, the examples' cluster, once it is declared.
    const agent = await startLocalAgent({ kubeConfig: kc, stateDir: join(stateDir, 'agent'), logger: log, logLevel: config.logLevel });
    stopFns.push(() => agent.stop());
    const template = await guestTemplate;
    if (template) {
      await registerGuestTemplate(createKubeClient(kc), template);
      log.info('registered the local guest template', { template: `${PUBLIC_NAMESPACE}/${GUEST_TEMPLATE_NAME}`, path: template.path, bytes: template.sizeBytes });
    }
    const api = await runApi({ kubeConfig: kc, args: ['--api-bind-address=127.0.0.1:0', `--log-level=${config.logLevel}`] });
    stopFns.push(() => api.stop());

    await mkdir(stateDir, { recursive: true });
    const kubeconfigPath = join(stateDir, 'kubeconfig');
    await writeFile(kubeconfigPath, plane.kubeconfig, { mode: 0o600 });
    // The CLOUDSTACK_* names are the ones the Python cs client reads.
    const env = {
      KUBECONFIG: kubeconfigPath,
      KUMULUS_METRICS_URL: operator.metricsUrl,
      CLOUDSTACK_ENDPOINT: api.url,
      CLOUDSTACK_KEY: api.adminCredentials.apiKey,
      CLOUDSTACK_SECRET: api.adminCredentials.secretKey,
    };
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
        '  kubectl apply --server-side -R -f examples/zone-advanced/   # this machine joins as a host of cluster1',
        '  kubectl wait --for=condition=Ready zones.infra.kumulus.io --all',
        `  kubectl apply --server-side -R -f examples/vm/          # web-1 boots ${PUBLIC_NAMESPACE}/${GUEST_TEMPLATE_NAME}, built from Debian packages`,
        '  kubectl get kumulus',
        `  curl -s ${operator.metricsUrl} | grep controller_runtime`,
        '  cloudstack listZones    # the Python cs client (Debian names it cloudstack), as the admin',
        '',
        'Press Ctrl-C to stop everything.',
        '',
      ].join('\n'),
    );
    const signal = await stopped;
    log.info('stopping local cloud', { signal });
  } finally {
    for (const stop of stopFns.reverse()) await stop().catch((err: unknown) => log.error('stop failed', { error: String(err) }));
    await plane.stop();
  }
}
