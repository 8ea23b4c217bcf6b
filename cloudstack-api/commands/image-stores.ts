import { SecondaryStorage, type SecondaryStorageObject } from '../../crds/index.ts';
import { INDEX } from '../lists/indexes.ts';
import { byCreation, equalsIgnoringCase, findOptional, keywordMatches, mustFind } from '../lists/filters.ts';
import type { Fields } from '../protocol/envelope.ts';
import { invalidParameterValue, missingParameter } from '../protocol/errors.ts';
import { type Command, defineCommand } from './define.ts';
import type { Infra } from './context.ts';
import { failure } from './errors.ts';
import { createNamed, displayName, objectName } from './names.ts';
import { canonical, zoneFields, zoneNamed } from './infra-views.ts';

/** Image stores (secondary storage): addImageStore, listImageStores, deleteImageStore (step 9). */

const PROVIDERS = ['NFS', 'Local'] as const;
const STORE_PARAMS = { 'spec.displayName': 'name', 'spec.url': 'url', 'spec.zoneRef.name': 'zoneid', 'spec.provider': 'provider' };

export function imageStoreItem(infra: Infra, store: SecondaryStorageObject): Fields {
  const provider = store.spec.provider ?? 'NFS';
  return {
    id: store.metadata.uid,
    name: displayName(store),
    url: store.spec.url,
    protocol: provider === 'NFS' ? 'nfs' : 'file',
    providername: provider,
    scope: 'ZONE',
    ...zoneFields(zoneNamed(infra, store.spec.zoneRef.name)),
    readonly: store.spec.readOnly ?? false,
    disksizetotal: store.status?.capacityBytes,
    disksizeused: store.status?.usedBytes,
    hasannotations: false,
  };
}

export function imageStoreCommands(infra: Infra): Command[] {
  const { cache } = infra;

  const addImageStore = defineCommand({
    name: 'addImageStore',
    kind: 'object',
    description: 'Adds backup image store.',
    params: {
      provider: { type: 'string', description: 'the image store provider name: NFS, or Local for a single-host cloud', required: true },
      name: { type: 'string', description: 'the name for the image store' },
      url: { type: 'string', description: 'the URL for the image store: nfs://server/export, or file:///path for Local', length: 2048 },
      zoneid: { type: 'uuid', description: 'the Zone ID for the image store', entity: 'zone' },
      details: { type: 'map', description: 'the details for the image store. Example: details[0].key=accesskey&details[0].value=s389ddssaa&details[1].key=secretkey&details[1].value=8dshfsss' },
    },
    async handle(p, ctx) {
      const label = 'addimagestore';
      await infra.mayRead(ctx, SecondaryStorage);
      const provider = canonical(p.provider, PROVIDERS);
      if (provider === undefined) throw invalidParameterValue(`Invalid image store provider ${p.provider}: Kumulus supports ${PROVIDERS.join(' and ')}`);
      if (p.url === undefined) throw missingParameter(label, 'url');
      // Image stores without a zone are region-wide in CloudStack; Kumulus keeps one per zone.
      if (p.zoneid === undefined) throw missingParameter(label, 'zoneid');
      const zone = mustFind(cache.zones, p.zoneid, label, 'zoneid');
      const text = p.name ?? p.url;
      return createNamed(infra.resource<SecondaryStorageObject>(ctx, SecondaryStorage), objectName(text), (name) => ({
        apiVersion: SecondaryStorage.apiVersion,
        kind: SecondaryStorage.kind,
        metadata: { name },
        spec: { displayName: text, zoneRef: { name: zone.metadata.name ?? '' }, provider, url: p.url ?? '' },
      })).catch((err: unknown) => failure(err, ctx, { label, params: STORE_PARAMS }));
    },
    map: (store) => imageStoreItem(infra, store),
  });

  const listImageStores = defineCommand({
    name: 'listImageStores',
    kind: 'list',
    description: 'Lists image stores.',
    params: {
      id: { type: 'uuid', description: 'the ID of the storage pool', entity: 'imagestore' },
      name: { type: 'string', description: 'the name of the image store' },
      zoneid: { type: 'uuid', description: 'the Zone ID for the image store', entity: 'zone' },
      protocol: { type: 'string', description: 'the image store protocol' },
      provider: { type: 'string', description: 'the image store provider' },
      readonly: { type: 'boolean', description: 'read-only status of the image store' },
      keyword: { type: 'string', description: 'List by keyword' },
    },
    async handle(p, ctx) {
      const label = 'listimagestores';
      await infra.mayRead(ctx, SecondaryStorage);
      const one = findOptional(cache.secondaryStorages, p.id, label, 'id');
      const zone = findOptional(cache.zones, p.zoneid, label, 'zoneid');
      const stores = one ? [one] : zone ? cache.secondaryStorages.byIndex(INDEX.zone, zone.metadata.name ?? '') : cache.secondaryStorages.list();
      return stores
        .filter(
          (s) =>
            (zone === undefined || s.spec.zoneRef.name === zone.metadata.name) &&
            equalsIgnoringCase(p.name, displayName(s)) &&
            keywordMatches(p.keyword, displayName(s)) &&
            equalsIgnoringCase(p.provider, s.spec.provider ?? 'NFS') &&
            equalsIgnoringCase(p.protocol, (s.spec.provider ?? 'NFS') === 'NFS' ? 'nfs' : 'file') &&
            (p.readonly === undefined || p.readonly === (s.spec.readOnly ?? false)),
        )
        .sort(byCreation);
    },
    mapItem: (store) => imageStoreItem(infra, store),
  });

  const deleteImageStore = defineCommand({
    name: 'deleteImageStore',
    kind: 'success',
    description: 'Deletes an image store or Secondary Storage.',
    params: { id: { type: 'uuid', description: 'The image store ID or Secondary Storage ID.', required: true, entity: 'imagestore' } },
    async handle(p, ctx) {
      const label = 'deleteimagestore';
      await infra.mayRead(ctx, SecondaryStorage);
      const store = mustFind(cache.secondaryStorages, p.id, label, 'id');
      await infra
        .resource(ctx, SecondaryStorage)
        .delete({ name: store.metadata.name ?? '' }, { preconditions: { uid: p.id } })
        .catch((err: unknown) => failure(err, ctx, { label, id: p.id }));
      return undefined;
    },
  });

  return [addImageStore, listImageStores, deleteImageStore];
}
