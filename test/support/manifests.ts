import { parseAllDocuments } from 'yaml';
import type { KubeClient, KubeObject, ResourceType } from '../../lib/kube-client.ts';

interface ApiResourceList {
  resources: { name: string; kind: string; namespaced: boolean }[];
}

/**
 * Applies arbitrary manifests (server-side apply), finding each kind's resource through
 * discovery as kubectl does. `dryRun` makes the apiserver run admission, validation and
 * defaulting in full without storing anything: `kubectl apply --dry-run=server`.
 */
export async function applyManifests(client: KubeClient, docs: KubeObject[], options: { fieldManager: string; dryRun?: boolean }): Promise<KubeObject[]> {
  const discovered = new Map<string, ApiResourceList>();
  const typeOf = async (obj: KubeObject): Promise<ResourceType> => {
    const apiVersion = obj.apiVersion ?? '';
    const path = apiVersion.includes('/') ? `/apis/${apiVersion}` : `/api/${apiVersion}`;
    let list = discovered.get(path);
    if (!list) {
      list = await client.request<ApiResourceList>('GET', path);
      discovered.set(path, list);
    }
    const found = list.resources.find((r) => r.kind === obj.kind && !r.name.includes('/'));
    if (!found) throw new Error(`the apiserver serves no ${obj.kind} in ${apiVersion}`);
    const [group, version] = apiVersion.includes('/') ? (apiVersion.split('/') as [string, string]) : ['', apiVersion];
    return { group, version, plural: found.name, kind: obj.kind ?? '', namespaced: found.namespaced };
  };
  const applied: KubeObject[] = [];
  for (const obj of docs) {
    const type = await typeOf(obj);
    const name = encodeURIComponent(obj.metadata.name ?? '');
    const prefix = type.group ? `/apis/${type.group}/${type.version}` : `/api/${type.version}`;
    const path = type.namespaced ? `${prefix}/namespaces/${obj.metadata.namespace ?? 'default'}/${type.plural}/${name}` : `${prefix}/${type.plural}/${name}`;
    applied.push(
      await client.request<KubeObject>('PATCH', path, {
        body: obj,
        contentType: 'application/apply-patch+yaml',
        query: { fieldManager: options.fieldManager, force: true, ...(options.dryRun ? { dryRun: 'All' } : {}) },
      }),
    );
  }
  return applied;
}

/** The objects of a multi-document YAML text, without empty documents. */
export function parseManifests(text: string): KubeObject[] {
  return parseAllDocuments(text)
    .map((d) => d.toJS() as KubeObject | null)
    .filter((d): d is KubeObject => d !== null && typeof d === 'object');
}
