import { DEPLOYMENT_PLANNERS, Host, PrimaryStorage } from '../../crds/index.ts';
import { derivedUuid } from '../lists/cache.ts';
import { byCreation, equalsIgnoringCase, keywordMatches } from '../lists/filters.ts';
import { entityNotFound, invalidParameterValue } from '../protocol/errors.ts';
import type { Infra } from './context.ts';
import { type Command, defineCommand } from './define.ts';

/**
 * What a zone bring-up and the web UI look up before they add things: the storage providers,
 * deployment planners and hypervisor capabilities Kumulus offers, and the host and storage
 * tags in use. Fixed facts, or read from the cached hosts and pools.
 */

/** The providers behind createStoragePool (`primary`) and addImageStore (`image`). */
const STORAGE_PROVIDERS: Readonly<Record<string, readonly string[]>> = { primary: ['DefaultPrimary'], image: ['NFS'] };

/** KVM as Kumulus runs it: no security groups, storage migration or VM snapshots yet. */
const HYPERVISOR_CAPABILITIES = [
  {
    hypervisor: 'KVM',
    hypervisorversion: 'default',
    maxguestslimit: 50,
    maxdatavolumeslimit: 24,
    securitygroupenabled: false,
    storagemotionenabled: false,
    vmsnapshotenabled: false,
  },
] as const;

const capabilityId = (row: { hypervisor: string; hypervisorversion: string }) => derivedUuid('hypervisor-capabilities', `${row.hypervisor}/${row.hypervisorversion}`);

export function infraCatalogCommands(infra: Infra): Command[] {
  const { cache } = infra;

  const listStorageProviders = defineCommand({
    name: 'listStorageProviders',
    kind: 'list',
    description: 'Lists storage providers.',
    params: {
      type: { type: 'string', description: 'the type of storage provider: either primary or image', required: true },
      keyword: { type: 'string', description: 'List by keyword' },
    },
    handle(p) {
      const names = STORAGE_PROVIDERS[p.type.toLowerCase()];
      if (names === undefined) throw invalidParameterValue(`Invalid parameter: ${p.type}`);
      return Promise.resolve(names.filter((name) => keywordMatches(p.keyword, name)).map((name) => ({ name, type: p.type.toLowerCase() })));
    },
    mapItem: (row) => row,
  });

  const listDeploymentPlanners = defineCommand({
    name: 'listDeploymentPlanners',
    kind: 'list',
    description: 'Lists all DeploymentPlanners available.',
    params: { keyword: { type: 'string', description: 'List by keyword' } },
    handle: (p) => Promise.resolve(DEPLOYMENT_PLANNERS.filter((name) => keywordMatches(p.keyword, name))),
    mapItem: (name) => ({ name }),
  });

  const listHostTags = defineCommand({
    name: 'listHostTags',
    kind: 'list',
    description: 'Lists host tags',
    params: { keyword: { type: 'string', description: 'List by keyword' } },
    async handle(p, ctx) {
      await infra.mayRead(ctx, Host);
      // hostid is CloudStack's internal number, which Kumulus does not have: left out.
      return cache.hosts
        .list()
        .sort(byCreation)
        .flatMap((host) => (host.spec.hostTags ?? []).map((name) => ({ id: derivedUuid(host.metadata.uid ?? '', `hosttag/${name}`), name, isimplicit: false })))
        .filter((row) => keywordMatches(p.keyword, row.name));
    },
    mapItem: (row) => row,
  });

  const listStorageTags = defineCommand({
    name: 'listStorageTags',
    kind: 'list',
    description: 'Lists storage tags',
    params: { keyword: { type: 'string', description: 'List by keyword' } },
    async handle(p, ctx) {
      await infra.mayRead(ctx, PrimaryStorage);
      return cache.primaryStorages
        .list()
        .sort(byCreation)
        .flatMap((pool) => (pool.spec.tags ?? []).map((name) => ({ id: derivedUuid(pool.metadata.uid ?? '', `storagetag/${name}`), name })))
        .filter((row) => keywordMatches(p.keyword, row.name));
    },
    mapItem: (row) => row,
  });

  const listHypervisorCapabilities = defineCommand({
    name: 'listHypervisorCapabilities',
    kind: 'list',
    description: 'Lists all hypervisor capabilities.',
    params: {
      id: { type: 'uuid', description: 'ID of the hypervisor capability', entity: 'hypervisorCapabilities' },
      hypervisor: { type: 'string', description: 'the hypervisor for which to restrict the search' },
      keyword: { type: 'string', description: 'List by keyword' },
    },
    handle(p) {
      if (p.id !== undefined && !HYPERVISOR_CAPABILITIES.some((row) => capabilityId(row) === p.id)) throw entityNotFound('listhypervisorcapabilities', 'id', p.id);
      return Promise.resolve(
        HYPERVISOR_CAPABILITIES.filter(
          (row) => (p.id === undefined || capabilityId(row) === p.id) && equalsIgnoringCase(p.hypervisor, row.hypervisor) && keywordMatches(p.keyword, row.hypervisor),
        ),
      );
    },
    mapItem: (row) => ({ id: capabilityId(row), ...row }),
  });

  return [listStorageProviders, listDeploymentPlanners, listHostTags, listStorageTags, listHypervisorCapabilities];
}
