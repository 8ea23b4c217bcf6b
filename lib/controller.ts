import { randomUUID } from 'node:crypto';
import type { Informer } from './informer.ts';
import { apiVersionOf, objectKey, parseObjectKey, type KubeObject, type ObjectKey } from './kube-client.ts';
import { log as rootLogger, type Logger } from './log.ts';
import { RECONCILE_RESULTS, type ReconcileResultLabel, type RuntimeMetrics } from './metrics.ts';
import type { RateLimiter } from './rate-limiter.ts';
import { createWorkQueue, type WorkQueue } from './workqueue.ts';
import { errorMessage } from './error-message.ts';

/** What a reconcile is asked to converge: one object, by key (it may no longer exist). */
export type Request = ObjectKey;

export interface ReconcileResult {
  /** Reconcile again after this many milliseconds (and reset the failure backoff). */
  requeueAfter?: number;
  /** Reconcile again after the rate limiter's backoff. */
  requeue?: boolean;
}

export interface ReconcileContext {
  /** Aborted when the controller stops (shutdown, or leadership lost): pass it to every request. */
  signal: AbortSignal;
  /** Carries controller, kind, namespace, name and reconcileID. */
  log: Logger;
  reconcileId: string;
}

/**
 * Reads from informer caches, converges the world toward the object, and returns. A throw
 * (or rejection) is logged and retried with per-key backoff; it never stops the process.
 */
export type Reconciler = (ctx: ReconcileContext, request: Request) => Promise<ReconcileResult | void>;

/** An extra source of requests: a change to any object of `informer` re-queues `map(obj)`. */
export interface WatchSource<S extends KubeObject = KubeObject> {
  informer: Informer<S>;
  map: (obj: S) => Request[];
  /**
   * controller-runtime's update predicate: an update re-queues only when this says the change
   * matters (creations and deletions always do). Absent: every update does.
   */
  changed?: (oldObj: S, newObj: S) => boolean;
}

export interface ControllerOptions<T extends KubeObject> {
  name: string;
  /** The primary kind: each change queues the object itself. */
  for: Informer<T>;
  /** Child kinds: a change queues the child's controller owner, when it is of the primary kind. */
  owns?: Informer[];
  watches?: WatchSource[];
  reconcile: Reconciler;
  /** Default 1, as in controller-runtime. */
  maxConcurrentReconciles?: number;
  rateLimiter?: RateLimiter<string>;
}

export interface ControllerDeps {
  metrics?: RuntimeMetrics;
  logger?: Logger;
}

export interface Controller {
  readonly name: string;
  /** Waits for the sources to sync, then starts the workers. */
  start(signal?: AbortSignal): Promise<void>;
  /** Stops at once: nothing more is handed out, and in-flight reconciles see their signal abort. */
  stop(): void;
  /** Stops taking work, lets in-flight reconciles finish for up to `timeoutMs`, then aborts them. */
  shutdown(timeoutMs: number): Promise<void>;
  enqueue(request: Request): void;
  isRunning(): boolean;
}

/** A source watch that maps an object to its controller owner of the given kind. */
export function ownerRequests(owner: { group: string; kind: string; namespaced: boolean }) {
  return (obj: KubeObject): Request[] => {
    const ref = obj.metadata.ownerReferences?.find((r) => r.controller === true);
    if (!ref || ref.kind !== owner.kind) return [];
    const slash = ref.apiVersion.indexOf('/');
    const group = slash < 0 ? '' : ref.apiVersion.slice(0, slash);
    if (group !== owner.group) return [];
    return [{ namespace: owner.namespaced ? obj.metadata.namespace : undefined, name: ref.name }];
  };
}

const selfRequest = (obj: KubeObject): Request[] => [{ namespace: obj.metadata.namespace, name: obj.metadata.name ?? '' }];

export function createController<T extends KubeObject>(options: ControllerOptions<T>, deps: ControllerDeps = {}): Controller {
  const name = options.name;
  const kind = options.for.type.kind;
  const workers = Math.max(1, options.maxConcurrentReconciles ?? 1);
  const metrics = deps.metrics;
  const logger = (deps.logger ?? rootLogger).child({ controller: name, controllerKind: kind });
  const labels = { controller: name };
  const sources: WatchSource[] = [
    { informer: options.for, map: selfRequest },
    ...(options.owns ?? []).map((informer) => ({ informer, map: ownerRequests(options.for.type) })),
    ...(options.watches ?? []),
  ];
  let queue: WorkQueue<string> | undefined;
  let running: { abort: AbortController; removers: (() => void)[] } | undefined;

  metrics?.maxConcurrentReconciles.set(labels, workers);
  metrics?.activeWorkers.set(labels, 0);
  for (const result of RECONCILE_RESULTS) metrics?.reconcileTotal.inc({ ...labels, result }, 0);
  metrics?.reconcileErrors.inc(labels, 0);

  async function process(q: WorkQueue<string>, key: string, signal: AbortSignal): Promise<void> {
    const request = parseObjectKey(key);
    const reconcileId = randomUUID();
    const log = logger.child({ kind, namespace: request.namespace, name: request.name, reconcileID: reconcileId });
    const started = performance.now();
    let outcome: ReconcileResultLabel;
    try {
      const result = (await options.reconcile({ signal, log, reconcileId }, request)) ?? {};
      if (result.requeueAfter !== undefined && result.requeueAfter > 0) {
        q.forget(key);
        q.addAfter(key, result.requeueAfter);
        outcome = 'requeue_after';
      } else if (result.requeue) {
        q.addRateLimited(key);
        outcome = 'requeue';
      } else {
        q.forget(key);
        outcome = 'success';
      }
    } catch (err) {
      outcome = 'error';
      metrics?.reconcileErrors.inc(labels);
      if (!signal.aborted) {
        log.error('Reconciler error', { error: errorMessage(err), stack: err instanceof Error ? err.stack : undefined });
      }
      q.addRateLimited(key);
    }
    metrics?.reconcileTime.observe(labels, (performance.now() - started) / 1000);
    metrics?.reconcileTotal.inc({ ...labels, result: outcome });
  }

  async function worker(q: WorkQueue<string>, signal: AbortSignal): Promise<void> {
    for (let key = await q.get(); key !== undefined; key = await q.get()) {
      metrics?.activeWorkers.inc(labels);
      try {
        await process(q, key, signal);
      } finally {
        metrics?.activeWorkers.dec(labels);
        q.done(key);
      }
    }
  }

  function stopNow(): void {
    if (!running) return;
    const r = running;
    running = undefined;
    queue?.shutDown();
    for (const remove of r.removers) remove();
    r.abort.abort(new Error(`controller ${name} stopped`));
  }

  return {
    name,
    async start(signal) {
      if (running) return;
      const abort = new AbortController();
      const q = createWorkQueue<string>({ rateLimiter: options.rateLimiter, observer: metrics?.queueObserver(name, () => queue) });
      queue = q;
      running = { abort, removers: [] };
      const current = running;
      const stopWaiting = AbortSignal.any([abort.signal, ...(signal ? [signal] : [])]);
      await Promise.all(sources.map((s) => s.informer.waitForSync(stopWaiting)));
      if (running !== current) return;
      for (const source of sources) {
        const enqueue = (obj: KubeObject) => {
          for (const request of source.map(obj)) q.add(objectKey(request));
        };
        current.removers.push(
          source.informer.addHandler({
            onAdd: enqueue,
            onUpdate: (oldObj, newObj) => {
              if (source.changed && !source.changed(oldObj, newObj)) return;
              enqueue(oldObj);
              enqueue(newObj);
            },
            onDelete: enqueue,
          }),
        );
      }
      for (let i = 0; i < workers; i++) void worker(q, abort.signal);
      logger.info('Starting workers', { workerCount: workers, kind, apiVersion: apiVersionOf(options.for.type) });
    },
    stop: stopNow,
    async shutdown(timeoutMs) {
      if (!running) return;
      const q = queue;
      const current = running;
      for (const remove of current.removers) remove();
      current.removers = [];
      const drained = q?.shutDownWithDrain() ?? Promise.resolve();
      let timer: NodeJS.Timeout | undefined;
      const timedOut = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(true), timeoutMs)));
      if (await Promise.race([drained.then(() => false), timedOut])) {
        logger.warn('in-flight reconciles did not finish in time; aborting them', { timeoutMs });
      }
      clearTimeout(timer);
      stopNow();
    },
    enqueue: (request) => queue?.add(objectKey(request)),
    isRunning: () => running !== undefined,
  };
}
