/**
 * The control-plane versions every test run and `kumulus local` use. Bumping one here is the
 * whole upgrade: the binaries are rebuilt into a new cache folder on the next run.
 */
export const KUBERNETES_VERSION = 'v1.34.4';
export const ETCD_VERSION = 'v3.6.16';

/** The staging modules are published under the same minor with major 0: v1.34.4 → v0.34.4. */
export function stagingVersion(kubernetesVersion: string): string {
  return kubernetesVersion.replace(/^v1\./, 'v0.');
}

/** Helm, for installing the chart in tests and in the README's instructions. */
export const HELM_VERSION = 'v4.3.2';

/** crictl, of the Kubernetes minor it talks to (the CRI client the harness's node is torn down with). */
export const CRI_TOOLS_VERSION = 'v1.34.0';
