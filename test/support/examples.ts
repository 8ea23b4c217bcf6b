import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import type { KubeObject } from '../../lib/kube-client.ts';

const repoRoot = join(import.meta.dirname, '..', '..');

export type ExampleObject = KubeObject & { spec?: Record<string, unknown> };

/**
 * examples/zone-advanced without its Namespace and the shared global Configuration, with every
 * object's name suffixed and every `...Ref` following, so several tests (or runs) can hold
 * copies of the zone in one control plane. `names` maps each example name to its copy's.
 */
export async function suffixedZoneExample(suffix: string): Promise<{ docs: ExampleObject[]; names: Map<string, string> }> {
  const dir = join(repoRoot, 'examples/zone-advanced');
  const docs: ExampleObject[] = [];
  for (const file of (await readdir(dir)).filter((f) => f.endsWith('.yaml')).sort()) {
    for (const doc of parseAllDocuments(await readFile(join(dir, file), 'utf8'))) {
      const obj = doc.toJS() as ExampleObject | null;
      if (obj && obj.kind !== 'Namespace' && obj.kind !== 'Configuration') docs.push(obj);
    }
  }
  const names = new Map(docs.map((d) => [d.metadata.name ?? '', `${d.metadata.name}-${suffix}`]));
  const rename = (value: unknown): unknown => {
    if (Array.isArray(value)) return value.map(rename);
    if (!value || typeof value !== 'object') return value;
    return Object.fromEntries(
      Object.entries(value as Record<string, unknown>).map(([k, v]) => {
        if (k.endsWith('Ref') && v && typeof v === 'object' && 'name' in v) {
          const ref = v as { name: string };
          return [k, { ...ref, name: names.get(ref.name) ?? ref.name }];
        }
        return [k, rename(v)];
      }),
    );
  };
  return { docs: docs.map((d) => ({ ...d, metadata: { name: names.get(d.metadata.name ?? '') }, spec: rename(d.spec) as Record<string, unknown> })), names };
}
