import { ROOT_DOMAIN } from '../../lib/bootstrap-admin.ts';
import { derivedUuid, EVENTS, type EventLive } from '../lists/cache.ts';
import { INDEX } from '../lists/indexes.ts';
import { inIds, keywordMatches } from '../lists/filters.ts';
import { inScope, SCOPE_PARAMS, scopedNamespaces } from '../lists/scope.ts';
import { formatApiDate } from '../protocol/dates.ts';
import type { Fields } from '../protocol/envelope.ts';
import { entityNotFound } from '../protocol/errors.ts';
import { type Command, defineCommand } from './define.ts';
import type { Infra } from './context.ts';

/**
 * listEvents, served from Kubernetes Events (events.k8s.io): the controllers record each
 * change with the CloudStack event type as its reason (ZONE.CREATE, HOST.MAINTENANCE...).
 * Events of cluster-scoped objects land in `default`, which root admins see as their own.
 *
 * Kubernetes folds the repeats of an event into one Event (a `series`, or a core/v1 Event's
 * `count`); CloudStack records every occurrence as an event of its own. So an Event seen N
 * times is N rows: the first keeps the Event's uid as its id, the others have ids derived
 * from that uid and their occurrence index, the same on every call and every replica.
 */

/** A CloudStack event type: upper-case words joined by dots. Other Kubernetes events are not CloudStack's. */
const EVENT_TYPE = /^[A-Z0-9_]+(\.[A-Z0-9_]+)+$/;
const SYSTEM_EVENTS_NAMESPACE = 'default';
/** CloudStack's system user (User.UID_SYSTEM), in account `system` of ROOT: who acts when no user asked. */
const SYSTEM_USER = 'system';
/**
 * How long after its job completed an occurrence still counts as the job's doing: the job's
 * `completed` is in whole seconds, and the job controller may see the target reach its
 * condition a moment before the controller that did the work has written its Event.
 */
const JOB_GRACE_MS = 5_000;

/** One occurrence of an Event: a listEvents row. */
interface EventRow {
  readonly event: EventLive;
  /** 0 for the first occurrence. */
  readonly index: number;
  readonly id: string;
  /** Epoch milliseconds; NaN when the Event records no time at all. */
  readonly time: number;
}

function firstTime(e: EventLive): string | undefined {
  return e.eventTime ?? e.deprecatedFirstTimestamp ?? e.metadata.creationTimestamp;
}

/**
 * The rows of an Event. Kubernetes keeps two times of a series, the first occurrence
 * (eventTime, or a core/v1 Event's firstTimestamp) and the latest (series.lastObservedTime,
 * or lastTimestamp); the times of the ones between are not recorded anywhere. Those are
 * dated at the latest time, not spread between the two: an even spread would show times
 * nobody observed, while the latest time is a bound true of each of them (none happened
 * later) and the time the Event told of them (the recorder of lib/events.ts writes the count
 * and the latest time together, coalescing the repeats between writes). The cost: a middle
 * occurrence's date moves on when the series grows, as Kubernetes' own "last seen" does.
 */
function occurrences(e: EventLive): EventRow[] {
  const uid = e.metadata.uid ?? '';
  const count = Math.max(1, Math.trunc(e.series?.count ?? e.deprecatedCount ?? 1));
  const first = Date.parse(firstTime(e) ?? '');
  const last = Date.parse(e.series?.lastObservedTime ?? e.deprecatedLastTimestamp ?? '');
  const rows: EventRow[] = [];
  for (let index = 0; index < count; index++) {
    const time = index === 0 || Number.isNaN(last) ? first : last;
    rows.push({ event: e, index, id: index === 0 ? uid : derivedUuid(uid, `occurrence-${index}`), time });
  }
  return rows;
}

/** Newest first, as CloudStack lists events; the occurrences of one Event newest first too, for stable pages. */
function newestFirst(a: EventRow, b: EventRow): number {
  const ta = Number.isNaN(a.time) ? -Infinity : a.time;
  const tb = Number.isNaN(b.time) ? -Infinity : b.time;
  if (ta !== tb) return tb - ta;
  const ua = a.event.metadata.uid ?? '';
  const ub = b.event.metadata.uid ?? '';
  if (ua !== ub) return ua < ub ? -1 : 1;
  return b.index - a.index;
}

/**
 * Who caused an occurrence (CloudStack's `username`: "the name of the User who performed the
 * action, can be different from the Account if an admin is performing an action for a User").
 * The Events are written by the operator and the agents, which act on objects, not for
 * callers; the one record of a caller is the AsyncJob the API wrote for an asynchronous
 * command (spec.userRef), naming its target. An occurrence on a job's target while that job
 * ran is that user's doing, as CloudStack records the calling user on the events of a job.
 * Anything else (a change no job asked for: a VM crashing, a host going down, a change
 * applied with kubectl, the effects of a synchronous command) is shown as done by the system
 * user, as CloudStack shows its own background work.
 */
function actingUser(infra: Infra, row: EventRow): string {
  const target = row.event.regarding?.uid;
  if (target === undefined || Number.isNaN(row.time)) return SYSTEM_USER;
  let found: { started: number; username: string } | undefined;
  for (const job of infra.cache.asyncJobs.byIndex(INDEX.target, target)) {
    const started = Date.parse(job.status?.created ?? job.metadata.creationTimestamp ?? '');
    const completed = job.status?.completed === undefined ? Infinity : Date.parse(job.status.completed) + 1000 + JOB_GRACE_MS;
    if (!(row.time >= started && row.time < completed) || (found !== undefined && found.started >= started)) continue;
    const user = infra.cache.users.byName(job.spec.userRef.name);
    if (user !== undefined) found = { started, username: user.spec.username };
  }
  return found?.username ?? SYSTEM_USER;
}

/**
 * Kinds whose CloudStack resource type (ApiCommandResourceType, what listEvents' `resourcetype`
 * names and filters by) is spelled differently. Other kinds keep their name: the ones CloudStack
 * also has are spelled alike (VirtualMachine, Volume, Host, Zone, Network...); for the rest (Pod,
 * Cluster, IPRange...) CloudStack's events name no resource, and Kumulus names the object it knows.
 */
const RESOURCE_TYPES: Readonly<Record<string, string>> = { PrimaryStorage: 'StoragePool', SecondaryStorage: 'ImageStore', IPAddress: 'IpAddress' };

/** An ISO is a Template of format ISO; its events (ISO.*) name an Iso, as CloudStack's do. */
function resourceType(infra: Infra, e: EventLive): string | undefined {
  const kind = e.regarding?.kind;
  if (kind === 'Template') {
    const template = e.regarding?.uid === undefined ? undefined : infra.cache.templates.byUid(e.regarding.uid);
    return (template ? template.spec.format === 'ISO' : (e.reason ?? '').startsWith('ISO.')) ? 'Iso' : 'Template';
  }
  return kind === undefined ? undefined : (RESOURCE_TYPES[kind] ?? kind);
}

function eventItem(infra: Infra, row: EventRow): Fields {
  const e = row.event;
  const account = e.metadata.namespace === undefined ? undefined : infra.cache.accounts.byIndex(INDEX.namespace, e.metadata.namespace)[0];
  // Events of no account's objects belong to CloudStack's system account, in ROOT.
  const domain = account ? infra.cache.domains.byName(account.spec.domainRef.name) : infra.cache.domains.byName(ROOT_DOMAIN);
  return {
    id: row.id,
    username: actingUser(infra, row),
    type: e.reason,
    level: e.type === 'Warning' ? 'WARN' : 'INFO',
    description: e.note,
    state: 'Completed',
    created: Number.isNaN(row.time) ? undefined : formatApiDate(new Date(row.time)),
    resourceid: e.regarding?.uid,
    resourcetype: resourceType(infra, e),
    resourcename: e.regarding?.name,
    account: account ? (account.spec.displayName ?? account.metadata.name) : 'system',
    domainid: domain?.metadata.uid,
    domain: domain ? (domain.spec.displayName ?? domain.metadata.name) : undefined,
    domainpath: domain?.status?.path,
    archived: false,
  };
}

export function eventCommands(infra: Infra): Command[] {
  const { cache } = infra;
  const listEvents = defineCommand({
    name: 'listEvents',
    kind: 'list',
    description: 'A command to list events.',
    params: {
      id: { type: 'uuid', description: 'the ID of the event', entity: 'event' },
      type: { type: 'string', description: 'the event type (see event types)' },
      level: { type: 'string', description: 'the event level (INFO, WARN, ERROR)' },
      keyword: { type: 'string', description: 'List by keyword' },
      startdate: { type: 'date', withTime: true, description: 'the start date range of the list you want to retrieve (use format "yyyy-MM-dd" or the new format "yyyy-MM-dd HH:mm:ss")' },
      enddate: { type: 'date', withTime: true, description: 'the end date range of the list you want to retrieve (use format "yyyy-MM-dd" or the new format "yyyy-MM-dd HH:mm:ss")' },
      resourceid: { type: 'string', description: 'the ID of the resource associated with the event' },
      resourcetype: { type: 'string', description: 'the type of the resource associated with the event' },
      ...SCOPE_PARAMS,
    },
    async handle(p, ctx) {
      await cache.synced();
      const namespaces = await scopedNamespaces(cache, ctx.caller, p, EVENTS, 'listevents', infra.deps.mayList, [SYSTEM_EVENTS_NAMESPACE]);
      const rows = cache.events
        .list()
        .filter((e) => EVENT_TYPE.test(e.reason ?? '') && inScope(namespaces, e.metadata.namespace))
        .flatMap(occurrences);
      if (p.id !== undefined && !rows.some((r) => r.id === p.id)) throw entityNotFound('listevents', 'id', p.id);
      const start = p.startdate?.getTime();
      const end = p.enddate?.getTime();
      return rows
        .filter(({ event: e, id, time }) => {
          return (
            inIds(p.id === undefined ? undefined : [p.id], id) &&
            (p.type === undefined || p.type === e.reason) &&
            (p.level === undefined || p.level.toUpperCase() === (e.type === 'Warning' ? 'WARN' : 'INFO')) &&
            keywordMatches(p.keyword, e.reason, e.note) &&
            (start === undefined || time >= start) &&
            (end === undefined || time <= end) &&
            (p.resourceid === undefined || p.resourceid === e.regarding?.uid) &&
            (p.resourcetype === undefined || p.resourcetype.toLowerCase() === resourceType(infra, e)?.toLowerCase())
          );
        })
        .sort(newestFirst);
    },
    mapItem: (row) => eventItem(infra, row),
  });
  return [listEvents];
}
