import * as k8s from '@kubernetes/client-node';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { startControlPlane, type ControlPlane } from '../../lib/controlplane/index.ts';
import { installCrds, readCrdManifests } from '../../lib/install-crds.ts';
import { log } from '../../lib/log.ts';

/**
 * One real control plane per mocha run, started by the first test that asks for it and
 * stopped by the root hook, so unit-only runs never pay for it.
 */
let shared: Promise<ControlPlane> | undefined;

export function sharedControlPlane(): Promise<ControlPlane> {
  shared ??= startControlPlane({ logger: log, readyTimeoutMs: 120_000 });
  return shared;
}

export async function stopSharedControlPlane(): Promise<void> {
  if (!shared) return;
  const plane = await shared.catch(() => undefined);
  shared = undefined;
  await plane?.stop();
}

export function kubeConfigFor(plane: ControlPlane): k8s.KubeConfig {
  const kc = new k8s.KubeConfig();
  kc.loadFromString(plane.kubeconfig);
  return kc;
}

export async function sharedKubeConfig(): Promise<k8s.KubeConfig> {
  return kubeConfigFor(await sharedControlPlane());
}

let crdsInstalled: Promise<void> | undefined;

/** Installs crds/*.yaml into the shared control plane once per run, as an installation would. */
export function ensureKumulusCrds(): Promise<void> {
  crdsInstalled ??= (async () => {
    const crds = await readCrdManifests(join(import.meta.dirname, '..', '..', 'crds'));
    await installCrds(await sharedKubeConfig(), crds, log);
  })();
  return crdsInstalled;
}

export function uniqueName(prefix: string): string {
  return `${prefix}-${randomBytes(4).toString('hex')}`;
}

/**
 * Gives each test a namespace of its own: created before it, deleted after it (without
 * waiting for the namespace controller to finish, which tests of deletion do themselves).
 */
export function useTestNamespace(prefix = 'test'): { readonly name: string; readonly kc: k8s.KubeConfig } {
  const state = { name: '', kc: undefined as k8s.KubeConfig | undefined };
  beforeEach(async function () {
    this.timeout(130_000);
    state.kc = await sharedKubeConfig();
    state.name = uniqueName(prefix);
    await state.kc.makeApiClient(k8s.CoreV1Api).createNamespace({ body: { metadata: { name: state.name } } });
  });
  afterEach(async () => {
    if (!state.kc || !state.name) return;
    await state.kc
      .makeApiClient(k8s.CoreV1Api)
      .deleteNamespace({ name: state.name })
      .catch(() => undefined);
  });
  return {
    get name() {
      return state.name;
    },
    get kc() {
      if (!state.kc) throw new Error('useTestNamespace: used outside a test');
      return state.kc;
    },
  };
}
