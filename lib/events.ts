import { hostname } from 'node:os';
import type { KubeClient, KubeObject, ResourceType } from './kube-client.ts';
import type { Logger } from './log.ts';
import { metav1MicroTime } from './time.ts';
import { errorMessage } from './error-message.ts';

/**
 * An event recorder on events.k8s.io/v1, aggregating like client-go's tools/events: the
 * first occurrence creates an Event; a repeat of the same (regarding, related, type, reason,
 * action, note) within six minutes turns it into a series, whose count and last time are
 * patched onto the same Event (the first repeat at once, later ones coalesced).
 *
 * Reasons are CloudStack event types (`VM.CREATE`, `HOST.MAINTENANCE`...), per DESIGN.md.
 */
export const EVENTS: ResourceType = { group: 'events.k8s.io', version: 'v1', plural: 'events', kind: 'Event', namespaced: true };

export interface EventInput {
  type?: 'Normal' | 'Warning';
  reason: string;
  /** Human-readable, at most 1 kB (longer notes are cut). */
  note?: string;
  /** What was done or failed (defaults to the reason). */
  action?: string;
  related?: KubeObject;
}

export interface EventRecorder {
  /** Records an event; never throws and never blocks the caller (failures are logged). */
  event(regarding: KubeObject, input: EventInput): void;
  /** Resolves when every write started so far has finished, flushing pending series updates. */
  flush(): Promise<void>;
}

export interface EventRecorderOptions {
  client: KubeClient;
  /** `reportingController`, e.g. `kumulus.io/operator`. */
  controller: string;
  /** `reportingInstance`; defaults to the host name. */
  instance?: string;
  logger: Logger;
  /** How long repeats are coalesced before the series is patched (default 30 s). */
  seriesFlushMs?: number;
}

interface ObjectReference {
  apiVersion?: string;
  kind?: string;
  name?: string;
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
}

interface Series {
  count: number;
  lastObservedTime: string;
}

interface Entry {
  name: string;
  namespace: string;
  series?: Series;
  lastSeen: number;
  /** The create, then each series update; resolves false if the create failed. */
  writes: Promise<boolean>;
  timer?: NodeJS.Timeout;
  dirty: boolean;
}

const seriesWindowMs = 6 * 60_000;

function reference(obj: KubeObject): ObjectReference {
  return {
    apiVersion: obj.apiVersion,
    kind: obj.kind,
    name: obj.metadata.name,
    namespace: obj.metadata.namespace,
    uid: obj.metadata.uid,
    resourceVersion: obj.metadata.resourceVersion,
  };
}

export function createEventRecorder(options: EventRecorderOptions): EventRecorder {
  const events = options.client.resource(EVENTS);
  const instance = (options.instance ?? hostname()).slice(0, 128);
  const flushMs = options.seriesFlushMs ?? 30_000;
  const log = options.logger.child({ component: 'events' });
  const cache = new Map<string, Entry>();
  const inFlight = new Set<Promise<unknown>>();
  let calls = 0;

  function track(p: Promise<unknown>): void {
    const tracked = p.catch((err: unknown) => log.warn('could not write event', { error: errorMessage(err) }));
    inFlight.add(tracked);
    void tracked.finally(() => inFlight.delete(tracked));
  }

  function writeSeries(entry: Entry): void {
    clearTimeout(entry.timer);
    entry.timer = undefined;
    if (!entry.dirty || !entry.series) return;
    entry.dirty = false;
    const series = { ...entry.series };
    // Writes to one Event go one after another, so a lower count never lands last.
    entry.writes = entry.writes.then(async (created) => {
      if (!created) return false;
      await events
        .patch({ namespace: entry.namespace, name: entry.name }, { series }, 'merge')
        .catch((err: unknown) => log.warn('could not update event series', { event: entry.name, error: errorMessage(err) }));
      return true;
    });
    track(entry.writes);
  }

  function sweep(now: number): void {
    for (const [key, entry] of cache) {
      if (now - entry.lastSeen > seriesWindowMs) {
        writeSeries(entry);
        cache.delete(key);
      }
    }
  }

  return {
    event(regarding, input) {
      const now = Date.now();
      if (++calls % 256 === 0) sweep(now);
      const type = input.type ?? 'Normal';
      const action = (input.action ?? input.reason).slice(0, 128);
      const note = (input.note ?? '').slice(0, 1024);
      const related = input.related ? reference(input.related) : undefined;
      const key = JSON.stringify([reference({ ...regarding, metadata: { ...regarding.metadata, resourceVersion: undefined } }), related?.uid, type, input.reason, action, note]);
      const existing = cache.get(key);
      if (existing && now - existing.lastSeen <= seriesWindowMs) {
        existing.lastSeen = now;
        const first = !existing.series;
        existing.series = { count: (existing.series?.count ?? 1) + 1, lastObservedTime: metav1MicroTime(now) };
        existing.dirty = true;
        if (first) writeSeries(existing);
        else existing.timer ??= setTimeout(() => writeSeries(existing), flushMs);
        return;
      }
      const namespace = regarding.metadata.namespace || 'default';
      const name = `${regarding.metadata.name ?? 'unknown'}.${(BigInt(now) * 1_000_000n + BigInt(Math.floor(Math.random() * 1_000_000))).toString(16)}`;
      const body = {
        metadata: { name, namespace },
        eventTime: metav1MicroTime(now),
        reportingController: options.controller,
        reportingInstance: instance,
        action,
        reason: input.reason,
        regarding: reference(regarding),
        related,
        note,
        type,
      };
      const created = events.create(body).then(
        () => true,
        (err: unknown) => {
          log.warn('could not create event', { reason: input.reason, error: errorMessage(err) });
          return false;
        },
      );
      cache.set(key, { name, namespace, lastSeen: now, writes: created, dirty: false });
      track(created);
    },
    async flush() {
      for (const entry of cache.values()) writeSeries(entry);
      while (inFlight.size > 0) await Promise.all([...inFlight]);
    },
  };
}
