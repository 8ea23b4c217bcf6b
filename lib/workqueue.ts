import { defaultControllerRateLimiter, type RateLimiter } from './rate-limiter.ts';

/**
 * A work queue with client-go's semantics:
 * - an item is queued at most once however often it is added (the dirty set);
 * - an item handed to a worker is never handed to another until `done` (the processing set);
 * - an item added while it is processing is queued again when `done` is called;
 * - `addAfter` delays an add; `addRateLimited` delays it by the rate limiter; `forget` resets it.
 *
 * Unlike client-go, `shutDown` also stops handing out the items still queued: a stopping
 * controller (SIGTERM, lost leadership) must stop taking work at once.
 */
export interface WorkQueue<K> {
  add(item: K): void;
  addAfter(item: K, delayMs: number): void;
  addRateLimited(item: K): void;
  forget(item: K): void;
  numRequeues(item: K): number;
  /** The next item, or undefined once the queue is shut down. */
  get(): Promise<K | undefined>;
  done(item: K): void;
  len(): number;
  shutDown(): void;
  /** Stops handing out items and resolves when every item handed out is done. */
  shutDownWithDrain(): Promise<void>;
  isShuttingDown(): boolean;
  /** Seconds of work in progress: the total, and the longest single item (for the unfinished-work gauges). */
  inProgress(): { totalSeconds: number; longestSeconds: number };
}

/** What the queue reports, for the workqueue_* metrics. */
export interface QueueObserver {
  added(): void;
  depth(depth: number): void;
  started(queuedSeconds: number): void;
  finished(workSeconds: number): void;
  retried(): void;
}

export interface WorkQueueOptions<K> {
  rateLimiter?: RateLimiter<K>;
  observer?: QueueObserver;
  /** Milliseconds on a monotonic clock; tests pass their own. */
  now?: () => number;
}

/** A FIFO with amortised O(1) shift. */
function fifo<K>() {
  let items: K[] = [];
  let head = 0;
  return {
    push: (item: K) => void items.push(item),
    shift(): K | undefined {
      if (head >= items.length) return undefined;
      const item = items[head++];
      if (head > 1024 && head * 2 > items.length) {
        items = items.slice(head);
        head = 0;
      }
      return item;
    },
    get length() {
      return items.length - head;
    },
  };
}

interface Waiting<K> {
  item: K;
  readyAt: number;
}

/** A binary min-heap of delayed items by readyAt. */
function delayHeap<K>() {
  const heap: Waiting<K>[] = [];
  const less = (a: number, b: number) => heap[a]!.readyAt < heap[b]!.readyAt;
  const swap = (a: number, b: number) => ([heap[a], heap[b]] = [heap[b]!, heap[a]!]);
  return {
    push(entry: Waiting<K>) {
      heap.push(entry);
      for (let i = heap.length - 1; i > 0; ) {
        const parent = (i - 1) >> 1;
        if (!less(i, parent)) break;
        swap(i, parent);
        i = parent;
      }
    },
    peek: (): Waiting<K> | undefined => heap[0],
    pop(): Waiting<K> | undefined {
      const top = heap[0];
      const last = heap.pop();
      if (heap.length > 0 && last) {
        heap[0] = last;
        for (let i = 0; ; ) {
          const l = 2 * i + 1;
          const r = l + 1;
          let smallest = i;
          if (l < heap.length && less(l, smallest)) smallest = l;
          if (r < heap.length && less(r, smallest)) smallest = r;
          if (smallest === i) break;
          swap(i, smallest);
          i = smallest;
        }
      }
      return top;
    },
    clear: () => void heap.splice(0),
    get length() {
      return heap.length;
    },
  };
}

export function createWorkQueue<K>(options: WorkQueueOptions<K> = {}): WorkQueue<K> {
  const rateLimiter = options.rateLimiter ?? defaultControllerRateLimiter<K>();
  const observer = options.observer;
  const now = options.now ?? (() => performance.now());
  const queue = fifo<K>();
  const dirty = new Set<K>();
  const processing = new Map<K, number>();
  const addedAt = new Map<K, number>();
  const waiters: ((item: K | undefined) => void)[] = [];
  const drained: (() => void)[] = [];
  const delayed = delayHeap<K>();
  const readyAtOf = new Map<K, number>();
  let timer: NodeJS.Timeout | undefined;
  let timerAt = Infinity;
  let shuttingDown = false;

  function handOut(item: K): void {
    processing.set(item, now());
    dirty.delete(item);
    const queuedAt = addedAt.get(item);
    addedAt.delete(item);
    observer?.depth(queue.length);
    observer?.started(queuedAt === undefined ? 0 : (now() - queuedAt) / 1000);
  }

  function add(item: K): void {
    if (shuttingDown || dirty.has(item)) return;
    observer?.added();
    dirty.add(item);
    if (!addedAt.has(item)) addedAt.set(item, now());
    if (processing.has(item)) return;
    const waiter = waiters.shift();
    if (waiter) {
      handOut(item);
      waiter(item);
      return;
    }
    queue.push(item);
    observer?.depth(queue.length);
  }

  function fireDue(): void {
    timer = undefined;
    timerAt = Infinity;
    const t = now();
    for (let next = delayed.peek(); next && next.readyAt <= t; next = delayed.peek()) {
      delayed.pop();
      // A later, earlier-scheduled entry for the same item supersedes this one.
      if (readyAtOf.get(next.item) !== next.readyAt) continue;
      readyAtOf.delete(next.item);
      add(next.item);
    }
    arm();
  }

  function arm(): void {
    const next = delayed.peek();
    if (!next || shuttingDown) return;
    if (timer && timerAt <= next.readyAt) return;
    if (timer) clearTimeout(timer);
    timerAt = next.readyAt;
    timer = setTimeout(fireDue, Math.max(0, next.readyAt - now()));
  }

  function addAfter(item: K, delayMs: number): void {
    if (shuttingDown) return;
    if (!(delayMs > 0)) return add(item);
    const readyAt = now() + delayMs;
    const existing = readyAtOf.get(item);
    if (existing !== undefined && existing <= readyAt) return;
    readyAtOf.set(item, readyAt);
    delayed.push({ item, readyAt });
    arm();
  }

  function stop(): void {
    shuttingDown = true;
    if (timer) clearTimeout(timer);
    timer = undefined;
    delayed.clear();
    readyAtOf.clear();
    for (const waiter of waiters.splice(0)) waiter(undefined);
  }

  return {
    add,
    addAfter,
    addRateLimited(item) {
      observer?.retried();
      addAfter(item, rateLimiter.when(item));
    },
    forget: (item) => rateLimiter.forget(item),
    numRequeues: (item) => rateLimiter.retries(item),
    get() {
      if (shuttingDown) return Promise.resolve(undefined);
      const item = queue.shift();
      if (item !== undefined) {
        handOut(item);
        return Promise.resolve(item);
      }
      return new Promise((resolve) => waiters.push(resolve));
    },
    done(item) {
      const started = processing.get(item);
      if (started === undefined) return;
      processing.delete(item);
      observer?.finished((now() - started) / 1000);
      if (dirty.has(item) && !shuttingDown) {
        const waiter = waiters.shift();
        if (waiter) {
          handOut(item);
          waiter(item);
        } else {
          queue.push(item);
          observer?.depth(queue.length);
        }
      }
      if (processing.size === 0) for (const resolve of drained.splice(0)) resolve();
    },
    len: () => queue.length,
    shutDown: stop,
    shutDownWithDrain() {
      stop();
      if (processing.size === 0) return Promise.resolve();
      return new Promise((resolve) => drained.push(resolve));
    },
    isShuttingDown: () => shuttingDown,
    inProgress() {
      const t = now();
      let totalSeconds = 0;
      let longestSeconds = 0;
      for (const started of processing.values()) {
        const seconds = (t - started) / 1000;
        totalSeconds += seconds;
        longestSeconds = Math.max(longestSeconds, seconds);
      }
      return { totalSeconds, longestSeconds };
    },
  };
}
