import type { CrdManifest } from '../../lib/install-crds.ts';
import type { ResourceType } from '../../lib/kube-client.ts';

/** What a test CRD's one version adds to name, served and storage: its schema, subresources, columns. */
type VersionFields = Record<string, unknown> & { schema: { openAPIV3Schema: Record<string, unknown> } };

/** A namespaced CRD for `type` with one served and stored version, for runtime tests against the real apiserver. */
export function testCrd(type: ResourceType, version: VersionFields): CrdManifest {
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: { name: `${type.plural}.${type.group}` },
    spec: {
      group: type.group,
      scope: 'Namespaced',
      names: { plural: type.plural, singular: type.kind.toLowerCase(), kind: type.kind, listKind: `${type.kind}List` },
      versions: [{ name: type.version, served: true, storage: true, ...version }],
    },
  };
}
