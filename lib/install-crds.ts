import * as k8s from '@kubernetes/client-node';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseAllDocuments } from 'yaml';
import { createKubeClient } from './kube-client.ts';
import type { Logger } from './log.ts';

export const CRD_FIELD_MANAGER = 'kumulus-installer';

/**
 * A CustomResourceDefinition as plain JSON, the way it is written in YAML. client-node's own
 * type cannot express it: its schema model spells `enum` and `default` as `_enum` and `_default`.
 */
export interface CrdManifest {
  apiVersion: 'apiextensions.k8s.io/v1';
  kind: 'CustomResourceDefinition';
  metadata: { name: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  spec: Record<string, unknown>;
}

/** Every CustomResourceDefinition in the `*.yaml` files of `dir`, in file order. */
export async function readCrdManifests(dir: string): Promise<CrdManifest[]> {
  const files = (await readdir(dir).catch(() => [] as string[])).filter((f) => f.endsWith('.yaml')).sort();
  const crds: CrdManifest[] = [];
  for (const file of files) {
    for (const doc of parseAllDocuments(await readFile(join(dir, file), 'utf8'))) {
      const value = doc.toJS() as CrdManifest | null;
      if (value?.kind === 'CustomResourceDefinition') crds.push(value);
    }
  }
  return crds;
}

function isEstablished(crd: k8s.V1CustomResourceDefinition): boolean {
  return (crd.status?.conditions ?? []).some((c) => c.type === 'Established' && c.status === 'True');
}

/**
 * Server-side applies the CRDs and waits until the apiserver serves every one of them, so
 * that whatever starts next can create, list and watch the kinds at once.
 */
export async function installCrds(kc: k8s.KubeConfig, crds: CrdManifest[], logger: Logger, timeoutMs = 60_000): Promise<void> {
  // Through the kube client's transport (one HTTP/1.1 dispatcher), not client-node's own.
  const extensions = createKubeClient(kc, { userAgent: CRD_FIELD_MANAGER }).api(k8s.ApiextensionsV1Api);
  // Not KubernetesObjectApi: its typed serializer knows the schema keywords only by their
  // model names (`_enum`, `_default`, `xKubernetesValidations`) and silently drops the JSON
  // ones. A patch body is sent as it is.
  const asApply = k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.ServerSideApply);
  await Promise.all(
    crds.map((crd) =>
      extensions.patchCustomResourceDefinition({ name: crd.metadata.name, body: crd, fieldManager: CRD_FIELD_MANAGER, force: true }, asApply),
    ),
  );
  const deadline = Date.now() + timeoutMs;
  for (const crd of crds) {
    const name = crd.metadata.name;
    while (!isEstablished(await extensions.readCustomResourceDefinition({ name }))) {
      if (Date.now() > deadline) throw new Error(`CustomResourceDefinition ${name} was not Established within ${timeoutMs / 1000} s`);
      await sleep(100);
    }
  }
  logger.info('installed custom resource definitions', { count: crds.length });
}
