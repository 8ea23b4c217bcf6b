import {
  Account,
  Configuration,
  DiskOffering,
  Domain,
  Network,
  ServiceOffering,
  Template,
  VirtualMachine,
  Volume,
  type AccountObject,
  type ConfigurationObject,
  type DiskOfferingObject,
  type DomainObject,
  type KindInfo,
  type ServiceOfferingObject,
} from '../../crds/index.ts';
import type { KubeObject } from '../../lib/kube-client.ts';
import {
  COUNTED_FROM,
  LIMIT_EXCEEDED,
  UNLIMITED,
  accountLimit,
  domainChain,
  domainLimit,
  exceededMessage,
  exceededTypes,
  objectUsage,
  sumUsage,
  type Exceeded,
  type LimitField,
  type Offerings,
  type Usage,
} from '../../lib/resource-limits.ts';
import { GLOBAL_CONFIGURATION, resolveSettings } from '../../lib/settings.ts';
import type { FieldError } from '../admission.ts';
import type { Lookup } from '../lookup.ts';
import type { Rule, RuleContext } from './rules.ts';

/**
 * Resource limits at admission, so kubectl and the CloudStack API hit the same limit: a
 * create or update that raises an account's usage of a resource type past its limit, or past
 * the limit of its domain or any ancestor domain, is refused (403 Forbidden with CloudStack's
 * text; the API answers 535).
 *
 * Usage and limits are read from the apiserver, not the cache, so an object created or a limit
 * changed a moment before counts.
 * What admission cannot close: two requests admitted at the same time both see the usage
 * without the other, so concurrent creates can pass a limit by up to their number minus one
 * (CloudStack locks its count rows; the apiserver offers no lock spanning objects). The next
 * request after them is refused, and updateResourceCount reports the true usage.
 */

const KINDS: readonly KindInfo[] = [VirtualMachine, Volume, Network, Template];

/** The offerings from the cache: an offering's sizes are immutable, so a lagging cache cannot miscount them. */
function cachedOfferings(lookup: Lookup): Offerings {
  const services = new Map(lookup.list<ServiceOfferingObject>(ServiceOffering).map((o) => [o.metadata.name ?? '', o.spec]));
  const disks = new Map(lookup.list<DiskOfferingObject>(DiskOffering).map((o) => [o.metadata.name ?? '', o.spec]));
  return { service: (name) => services.get(name), disk: (name) => disks.get(name) };
}

/** The live usage of the kinds counting `fields` in one namespace, without the object named `skip` of kind `skipKind`. */
async function namespaceUsage(lookup: Lookup, offerings: Offerings, namespace: string, fields: ReadonlySet<LimitField>, skipKind?: string, skip?: string): Promise<Usage> {
  const kinds = KINDS.filter((k) => COUNTED_FROM[k.kind]?.some((f) => fields.has(f)));
  const usages = await Promise.all(
    kinds.map(async (kind) =>
      (await lookup.current<KubeObject>(kind, namespace)).filter((o) => !(kind.kind === skipKind && o.metadata.name === skip)).map((o) => objectUsage(kind.kind, o, offerings)),
    ),
  );
  return sumUsage(usages.flat());
}

/** The limit checks of one kind's admission. */
export function limitsRule<T extends KubeObject>(kind: KindInfo): Rule<T> {
  return async (ctx: RuleContext<T>): Promise<FieldError[]> => {
    const { lookup, object, oldObject } = ctx;
    const namespace = object.metadata.namespace;
    if (!namespace) return [];
    // Accounts and domains live too: a limit raised a moment before must hold.
    const accounts = await lookup.current<AccountObject>(Account, '');
    const account = accounts.find((a) => a.spec.namespace === namespace);
    if (!account || account.spec.accountType === 'Admin') return [];
    const offerings = cachedOfferings(lookup);
    const mine = objectUsage(kind.kind, object, offerings);
    const was = oldObject ? objectUsage(kind.kind, oldObject, offerings) : {};
    const raised = new Set((Object.keys(mine) as LimitField[]).filter((f) => (mine[f] ?? 0) > (was[f] ?? 0)));
    if (raised.size === 0) return [];

    const configuration = await lookup.get<ConfigurationObject>(Configuration, GLOBAL_CONFIGURATION);
    const settings = resolveSettings(configuration?.spec.settings).settings;
    const domains = new Map((await lookup.current<DomainObject>(Domain, '')).map((d) => [d.metadata.name ?? '', d]));
    const chain = domainChain(account.spec.domainRef.name, domains);
    const name = object.metadata.name;
    const own = await namespaceUsage(lookup, offerings, namespace, raised, kind.kind, name);
    const exceeded: Exceeded[] = [];
    const domainUid = chain[0]?.metadata.uid ?? '';
    const accountName = account.spec.displayName ?? account.metadata.name ?? '';
    for (const e of exceededTypes((type) => accountLimit(account, type, settings), sumUsage([own, was]), sumUsage([own, mine]))) {
      exceeded.push({ ...e, account: accountName, domainUid, domainName: chain[0]?.metadata.name ?? '' });
    }

    for (const [i, domain] of chain.entries()) {
      const above = chain.slice(i);
      if (![...raised].some((f) => domainLimit(above, f) !== UNLIMITED)) continue;
      // The domain's usage: every account of its subtree, this one read without the object admitted.
      const members = accounts.filter((a) => domainChain(a.spec.domainRef.name, domains).includes(domain));
      const usages = await Promise.all(members.map((a) => (a.spec.namespace === namespace ? Promise.resolve(own) : namespaceUsage(lookup, offerings, a.spec.namespace, raised))));
      const total = sumUsage(usages);
      for (const e of exceededTypes((type) => domainLimit(above, type.field), sumUsage([total, was]), sumUsage([total, mine]))) {
        exceeded.push({ ...e, domainUid: domain.metadata.uid ?? '', domainName: domain.metadata.name ?? '' });
      }
    }
    return exceeded.map((e) => ({ field: 'spec', message: exceededMessage(e), reason: LIMIT_EXCEEDED }));
  };
}
