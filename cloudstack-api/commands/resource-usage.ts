import type { AccountObject, DomainObject, KindInfo } from '../../crds/index.ts';
import type { KubeObject } from '../../lib/kube-client.ts';
import { accountLimit, COUNTED_FROM, domainChain, domainLimit, type LimitField, objectUsage, type Offerings, RESOURCE_TYPES, type ResourceType, sumUsage, UNLIMITED, type Usage } from '../../lib/resource-limits.ts';
import { cacheStamp } from '../lists/cache.ts';
import type { Fields } from '../protocol/envelope.ts';
import type { Directory } from '../tenancy/directory.ts';
import { globalSettings, type Infra } from './context.ts';

/**
 * One way to know an account's or a domain's limits and usage, for listResourceLimits,
 * updateResourceCount and the limit fields of listAccounts and listDomains. Usage is counted
 * from the cached objects (lib/resource-limits.ts says what counts), once per change of the
 * caches it reads rather than once per row: a list of many accounts costs one pass.
 */

/** Whose limits: an account (with its domain), or a domain alone. */
export type Owner = { account: AccountObject; domain: DomainObject | undefined } | { account?: undefined; domain: DomainObject };

/** The prefix of each type's fields in AccountResponse and DomainResponse (vmlimit, iptotal, primarystorageavailable...). */
const FIELD_PREFIX: Readonly<Record<LimitField, string>> = {
  userVm: 'vm',
  publicIp: 'ip',
  volume: 'volume',
  snapshot: 'snapshot',
  template: 'template',
  project: 'project',
  network: 'network',
  vpc: 'vpc',
  cpu: 'cpu',
  memory: 'memory',
  primaryStorage: 'primarystorage',
  secondaryStorage: 'secondarystorage',
};

/** CloudStack's Resource.UNLIMITED, as the limit and available fields show it. */
const UNLIMITED_TEXT = 'Unlimited';

interface Counted {
  /** Usage per account namespace. */
  readonly byNamespace: ReadonlyMap<string, Usage>;
  /** Running and Stopped VMs per account namespace (AccountResponse vmrunning, vmstopped). */
  readonly vmStates: ReadonlyMap<string, { running: number; stopped: number }>;
}

export type ResourceUsage = ReturnType<typeof resourceUsage>;

export function resourceUsage(infra: Infra, dir: Directory) {
  const { cache } = infra;
  const sources = [cache.virtualMachines, cache.volumes, cache.networks, cache.templates, cache.serviceOfferings, cache.diskOfferings];
  let kept: { stamp: string; counted: Counted } | undefined;

  function counted(): Counted {
    const stamp = cacheStamp(sources);
    if (kept?.stamp === stamp) return kept.counted;
    const offerings: Offerings = { service: (name) => cache.serviceOfferings.byName(name)?.spec, disk: (name) => cache.diskOfferings.byName(name)?.spec };
    const perNamespace = new Map<string, Usage[]>();
    const kinds: [KindInfo, readonly KubeObject[]][] = [
      [cache.virtualMachines.kind, cache.virtualMachines.list()],
      [cache.volumes.kind, cache.volumes.list()],
      [cache.networks.kind, cache.networks.list()],
      [cache.templates.kind, cache.templates.list()],
    ];
    for (const [kind, objects] of kinds) {
      if (!COUNTED_FROM[kind.kind]) continue;
      for (const obj of objects) {
        const namespace = obj.metadata.namespace ?? '';
        const list = perNamespace.get(namespace) ?? [];
        list.push(objectUsage(kind.kind, obj, offerings));
        perNamespace.set(namespace, list);
      }
    }
    const vmStates = new Map<string, { running: number; stopped: number }>();
    for (const vm of cache.virtualMachines.list()) {
      const state = vm.status?.state;
      if (state !== 'Running' && state !== 'Stopped') continue;
      const tally = vmStates.get(vm.metadata.namespace ?? '') ?? { running: 0, stopped: 0 };
      if (state === 'Running') tally.running++;
      else tally.stopped++;
      vmStates.set(vm.metadata.namespace ?? '', tally);
    }
    const byNamespace = new Map([...perNamespace].map(([namespace, usages]) => [namespace, sumUsage(usages)]));
    kept = { stamp, counted: { byNamespace, vmStates } };
    return kept.counted;
  }

  const domainsByName = () => new Map(dir.domains.list().map((d) => [d.metadata.name ?? '', d]));

  /** What the owner uses now: its account's namespace, or every account of the domain's subtree. */
  function usageOf(owner: Owner): Usage {
    const { byNamespace } = counted();
    if (owner.account) return byNamespace.get(owner.account.spec.namespace) ?? {};
    const domains = domainsByName();
    const accounts = dir.accounts.list().filter((a) => domainChain(a.spec.domainRef.name, domains).includes(owner.domain));
    return sumUsage(accounts.map((a) => byNamespace.get(a.spec.namespace) ?? {}));
  }

  /** The owner's limit of a type (-1 unlimited): the account's own or the global default; the domain's own or its nearest ancestor's. */
  function limitOf(owner: Owner, type: ResourceType): number {
    return owner.account ? accountLimit(owner.account, type, globalSettings(infra)) : domainLimit(domainChain(owner.domain.metadata.name, domainsByName()), type.field);
  }

  /**
   * The limit, total and available fields of AccountResponse and DomainResponse: limits and
   * availability as text ('Unlimited' for -1), totals as numbers in the limit's unit (primary
   * and secondary storage in GiB, memory in MiB), as CloudStack's AccountJoinDaoImpl writes them.
   */
  function limitFields(owner: Owner): Fields {
    const usage = usageOf(owner);
    const fields: Record<string, unknown> = {};
    for (const type of RESOURCE_TYPES) {
      const prefix = FIELD_PREFIX[type.field];
      const limit = limitOf(owner, type);
      const total = Math.floor((usage[type.field] ?? 0) / type.unit);
      fields[`${prefix}limit`] = limit === UNLIMITED ? UNLIMITED_TEXT : String(limit);
      fields[`${prefix}total`] = total;
      fields[`${prefix}available`] = limit === UNLIMITED ? UNLIMITED_TEXT : String(limit - total);
    }
    if (owner.account) {
      const states = counted().vmStates.get(owner.account.spec.namespace);
      fields['vmrunning'] = states?.running ?? 0;
      fields['vmstopped'] = states?.stopped ?? 0;
    }
    return fields;
  }

  return { usageOf, limitOf, limitFields };
}
