import { execFileSync } from 'node:child_process';
import { access, constants, mkdir, rename, rm } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { withFileLock } from '../file-lock.ts';
import type { Logger } from '../log.ts';
import { buildCrictl, buildEtcd, buildHelm, buildKubernetes } from './go-build.ts';
import { CRI_TOOLS_VERSION, ETCD_VERSION, HELM_VERSION, KUBERNETES_VERSION } from './versions.ts';

export interface ControlPlaneBinaries {
  etcd: string;
  kubeApiserver: string;
  kubeControllerManager: string;
}

/** What a node of the test harness runs, besides containerd, runc and the CNI plugins from Debian. */
export interface NodeBinaries {
  kubelet: string;
  kubeScheduler: string;
  kubeProxy: string;
  crictl: string;
}

type BinaryName = 'etcd' | 'kube-apiserver' | 'kube-controller-manager' | 'kube-scheduler' | 'kubelet' | 'kube-proxy' | 'crictl' | 'helm';

export function cacheRoot(env: NodeJS.ProcessEnv = process.env): string {
  return env['KUMULUS_CACHE_DIR'] ?? join(env['XDG_CACHE_HOME'] ?? join(homedir(), '.cache'), 'kumulus');
}

async function isExecutable(path: string): Promise<boolean> {
  return access(path, constants.X_OK).then(
    () => true,
    () => false,
  );
}

function hasGo(): boolean {
  try {
    execFileSync('go', ['version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

interface Bundle {
  folder: string;
  binaries: BinaryName[];
  build: (workDir: string, outDir: string, logger: Logger) => Promise<void>;
}

const controlPlaneBundles: Bundle[] = [
  {
    folder: `kubernetes-${KUBERNETES_VERSION}`,
    binaries: ['kube-apiserver', 'kube-controller-manager'],
    build: (work, out, logger) => buildKubernetes(KUBERNETES_VERSION, ['kube-apiserver', 'kube-controller-manager'], work, out, logger),
  },
  {
    folder: `etcd-${ETCD_VERSION}`,
    binaries: ['etcd'],
    build: (work, out, logger) => buildEtcd(ETCD_VERSION, work, out, logger),
  },
];

const nodeBundle: Bundle = {
  folder: `kubernetes-node-${KUBERNETES_VERSION}`,
  binaries: ['kubelet', 'kube-scheduler', 'kube-proxy'],
  build: (work, out, logger) => buildKubernetes(KUBERNETES_VERSION, ['kubelet', 'kube-scheduler', 'kube-proxy'], work, out, logger),
};

const crictlBundle: Bundle = {
  folder: `cri-tools-${CRI_TOOLS_VERSION}`,
  binaries: ['crictl'],
  build: (work, out, logger) => buildCrictl(CRI_TOOLS_VERSION, work, out, logger),
};

const helmBundle: Bundle = {
  folder: `helm-${HELM_VERSION}`,
  binaries: ['helm'],
  build: (work, out, logger) => buildHelm(HELM_VERSION, work, out, logger),
};

function missingToolchainError(missing: string[], alternative?: string): Error {
  return new Error(
    [
      `The binaries ${missing.join(', ')} (Kubernetes ${KUBERNETES_VERSION}, etcd ${ETCD_VERSION}, Helm ${HELM_VERSION}) are not available.`,
      'Fix it in one of these ways:',
      `  - install Go 1.24 or newer (Debian: apt-get install golang-go; or a release from the Go project) so that Kumulus builds them into ${cacheRoot()} (20-35 minutes, once);`,
      ...(alternative ? [`  - or ${alternative}.`] : []),
    ].join('\n'),
  );
}

/** Fills one cache folder, building into a temporary folder that is renamed into place whole. */
async function ensureBundle(root: string, bundle: Bundle, logger: Logger): Promise<void> {
  const final = join(root, bundle.folder);
  const complete = async () => (await Promise.all(bundle.binaries.map((b) => isExecutable(join(final, b))))).every(Boolean);
  if (await complete()) return;
  await mkdir(root, { recursive: true });
  await withFileLock(
    join(root, `${bundle.folder}.lock`),
    async () => {
      if (await complete()) return;
      const child = logger.child({ bundle: bundle.folder });
      const partial = join(root, `${bundle.folder}.partial`);
      const started = Date.now();
      child.info('building binaries from the Go module proxy; this runs once per version');
      await rm(partial, { recursive: true, force: true });
      await bundle.build(join(root, 'build', bundle.folder), partial, child);
      await rm(final, { recursive: true, force: true });
      await rename(partial, final);
      await rm(join(root, 'build', bundle.folder), { recursive: true, force: true });
      child.info('built binaries', { seconds: Math.round((Date.now() - started) / 1000) });
    },
    (holder) => logger.info('another process is building these binaries; waiting', { bundle: bundle.folder, holderPid: holder }),
  );
}

/**
 * Finds etcd, kube-apiserver and kube-controller-manager: from KUBEBUILDER_ASSETS when it is
 * set, otherwise from the per-version cache, otherwise by building them with Go. envtest's
 * asset folders hold no kube-controller-manager, so that one alone may still come from the cache.
 */
export async function resolveBinaries(logger: Logger, env: NodeJS.ProcessEnv = process.env): Promise<ControlPlaneBinaries> {
  const root = cacheRoot(env);
  const found = new Map<BinaryName, string>();
  const assets = env['KUBEBUILDER_ASSETS'];
  for (const bundle of controlPlaneBundles) {
    for (const name of bundle.binaries) {
      if (assets && (await isExecutable(join(assets, name)))) found.set(name, join(assets, name));
      else if (await isExecutable(join(root, bundle.folder, name))) found.set(name, join(root, bundle.folder, name));
    }
  }
  const needed = controlPlaneBundles.filter((b) => b.binaries.some((name) => !found.has(name)));
  if (needed.length > 0) {
    if (!hasGo()) {
      const missing = needed.flatMap((b) => b.binaries.filter((name) => !found.has(name)));
      throw missingToolchainError(missing, 'set KUBEBUILDER_ASSETS to a folder that holds etcd, kube-apiserver and kube-controller-manager of those versions');
    }
    for (const bundle of needed) {
      await ensureBundle(root, bundle, logger);
      for (const name of bundle.binaries) if (!found.has(name)) found.set(name, join(root, bundle.folder, name));
    }
  }
  const path = (name: BinaryName) => found.get(name) ?? join(root, name);
  return { etcd: path('etcd'), kubeApiserver: path('kube-apiserver'), kubeControllerManager: path('kube-controller-manager') };
}

/** The binaries of one cached bundle, built with Go when the cache lacks them. */
async function bundleBinaries(bundle: Bundle, logger: Logger, env: NodeJS.ProcessEnv): Promise<(name: BinaryName) => string> {
  const root = cacheRoot(env);
  const at = (name: BinaryName) => join(root, bundle.folder, name);
  const present = await Promise.all(bundle.binaries.map((name) => isExecutable(at(name))));
  if (!present.every(Boolean)) {
    if (!hasGo()) throw missingToolchainError(bundle.binaries);
    await ensureBundle(root, bundle, logger);
  }
  return at;
}

/** kubelet, kube-scheduler and kube-proxy of the control plane's version, and crictl, for the harness's node. */
export async function resolveNodeBinaries(logger: Logger, env: NodeJS.ProcessEnv = process.env): Promise<NodeBinaries> {
  const kube = await bundleBinaries(nodeBundle, logger, env);
  const cri = await bundleBinaries(crictlBundle, logger, env);
  return { kubelet: kube('kubelet'), kubeScheduler: kube('kube-scheduler'), kubeProxy: kube('kube-proxy'), crictl: cri('crictl') };
}

/** The helm command the tests and `npm run chart:*` use. */
export async function resolveHelm(logger: Logger, env: NodeJS.ProcessEnv = process.env): Promise<string> {
  return (await bundleBinaries(helmBundle, logger, env))('helm');
}
