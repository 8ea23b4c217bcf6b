import { EVENTS, type EventLive } from '../lists/cache.ts';
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
 */

/** A CloudStack event type: upper-case words joined by dots. Other Kubernetes events are not CloudStack's. */
const EVENT_TYPE = /^[A-Z0-9_]+(\.[A-Z0-9_]+)+$/;
const SYSTEM_EVENTS_NAMESPACE = 'default';

function eventTime(e: EventLive): string | undefined {
  return e.series?.lastObservedTime ?? e.eventTime ?? e.deprecatedLastTimestamp ?? e.metadata.creationTimestamp;
}

function eventItem(infra: Infra, e: EventLive): Fields {
  const time = eventTime(e);
  const account = e.metadata.namespace === undefined ? undefined : infra.cache.accounts.byIndex(INDEX.namespace, e.metadata.namespace)[0];
  const domain = account ? infra.cache.domains.byName(account.spec.domainRef.name) : undefined;
  return {
    id: e.metadata.uid,
    type: e.reason,
    level: e.type === 'Warning' ? 'WARN' : 'INFO',
    description: e.note,
    state: 'Completed',
    created: time === undefined ? undefined : formatApiDate(new Date(time)),
    resourceid: e.regarding?.uid,
    resourcetype: e.regarding?.kind,
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
      const events = cache.events.list().filter((e) => EVENT_TYPE.test(e.reason ?? '') && inScope(namespaces, e.metadata.namespace));
      if (p.id !== undefined && !events.some((e) => e.metadata.uid === p.id)) throw entityNotFound('listevents', 'id', p.id);
      const start = p.startdate?.getTime();
      const end = p.enddate?.getTime();
      return events
        .filter((e) => {
          const time = Date.parse(eventTime(e) ?? '');
          return (
            inIds(p.id === undefined ? undefined : [p.id], e.metadata.uid) &&
            (p.type === undefined || p.type === e.reason) &&
            (p.level === undefined || p.level.toUpperCase() === (e.type === 'Warning' ? 'WARN' : 'INFO')) &&
            keywordMatches(p.keyword, e.reason, e.note) &&
            (start === undefined || time >= start) &&
            (end === undefined || time <= end) &&
            (p.resourceid === undefined || p.resourceid === e.regarding?.uid) &&
            (p.resourcetype === undefined || p.resourcetype.toLowerCase() === e.regarding?.kind?.toLowerCase())
          );
        })
        .sort((a, b) => Date.parse(eventTime(b) ?? '') - Date.parse(eventTime(a) ?? ''));
    },
    mapItem: (e) => eventItem(infra, e),
  });
  return [listEvents];
}
