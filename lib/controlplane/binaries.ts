import { execFileSync } from 'node:child_process';
import { access, constants, mkdir, rename, rm } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { withFileLock } from '../file-lock.ts';
import type { Logger } from '../log.ts';
import { buildEtcd, buildKubernetes } from './go-build.ts';
import { ETCD_VERSION, KUBERNETES_VERSION } from './versions.ts';

export interface ControlPlaneBinaries {
  etcd: string;
  kubeApiserver: string;
  kubeControllerManager: string;
}

type BinaryName = 'etcd' | 'kube-apiserver' | 'kube-controller-manager';

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

const bundles: Bundle[] = [
  {
    folder: `kubernetes-${KUBERNETES_VERSION}`,
    binaries: ['kube-apiserver', 'kube-controller-manager'],
    build: (work, out, logger) => buildKubernetes(KUBERNETES_VERSION, work, out, logger),
  },
  {
    folder: `etcd-${ETCD_VERSION}`,
    binaries: ['etcd'],
    build: (work, out, logger) => buildEtcd(ETCD_VERSION, work, out, logger),
  },
];

function missingToolchainError(missing: string[]): Error {
  return new Error(
    [
      `The control-plane binaries ${missing.join(', ')} (Kubernetes ${KUBERNETES_VERSION}, etcd ${ETCD_VERSION}) are not available.`,
      'Fix it in one of these ways:',
      `  - install Go 1.24 or newer (Debian: apt-get install golang-go; or a release from the Go project) so that Kumulus builds them into ${cacheRoot()} (20-35 minutes, once);`,
      '  - or set KUBEBUILDER_ASSETS to a folder that holds etcd, kube-apiserver and kube-controller-manager of those versions.',
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
      child.info('building control-plane binaries from the Go module proxy; this runs once per version');
      await rm(partial, { recursive: true, force: true });
      await bundle.build(join(root, 'build', bundle.folder), partial, child);
      await rm(final, { recursive: true, force: true });
      await rename(partial, final);
      await rm(join(root, 'build', bundle.folder), { recursive: true, force: true });
      child.info('built control-plane binaries', { seconds: Math.round((Date.now() - started) / 1000) });
    },
    (holder) => logger.info('another process is building the control-plane binaries; waiting', { bundle: bundle.folder, holderPid: holder }),
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
  for (const bundle of bundles) {
    for (const name of bundle.binaries) {
      if (assets && (await isExecutable(join(assets, name)))) found.set(name, join(assets, name));
      else if (await isExecutable(join(root, bundle.folder, name))) found.set(name, join(root, bundle.folder, name));
    }
  }
  const needed = bundles.filter((b) => b.binaries.some((name) => !found.has(name)));
  if (needed.length > 0) {
    if (!hasGo()) throw missingToolchainError(needed.flatMap((b) => b.binaries.filter((name) => !found.has(name))));
    for (const bundle of needed) {
      await ensureBundle(root, bundle, logger);
      for (const name of bundle.binaries) if (!found.has(name)) found.set(name, join(root, bundle.folder, name));
    }
  }
  const path = (name: BinaryName) => found.get(name) ?? join(root, name);
  return { etcd: path('etcd'), kubeApiserver: path('kube-apiserver'), kubeControllerManager: path('kube-controller-manager') };
}
