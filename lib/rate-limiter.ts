/**
 * client-go's workqueue rate limiters: how long an item waits before it is retried.
 * `when` is asked once per failure; `forget` clears an item's history after a success.
 */
export interface RateLimiter<K> {
  when(item: K): number;
  forget(item: K): void;
  retries(item: K): number;
}

/** baseMs * 2^failures, capped at maxMs: client-go's ItemExponentialFailureRateLimiter. */
export function exponentialFailureRateLimiter<K>(baseMs: number, maxMs: number): RateLimiter<K> {
  const failures = new Map<K, number>();
  return {
    when(item) {
      const count = failures.get(item) ?? 0;
      failures.set(item, count + 1);
      // 2^count overflows to Infinity long before it matters; the cap keeps it finite.
      return Math.min(baseMs * 2 ** count, maxMs);
    },
    forget: (item) => void failures.delete(item),
    retries: (item) => failures.get(item) ?? 0,
  };
}

/**
 * A token bucket shared by all items (client-go's BucketRateLimiter over x/time/rate): each
 * call reserves the next token and returns how long until it is available, so a burst of
 * failures spreads out at `qps` after the first `burst`.
 */
export function tokenBucketRateLimiter<K>(qps: number, burst: number, now: () => number = performance.now.bind(performance)): RateLimiter<K> {
  let tokens = burst;
  let last = now();
  return {
    when() {
      const t = now();
      tokens = Math.min(burst, tokens + ((t - last) / 1000) * qps);
      last = t;
      tokens -= 1;
      return tokens >= 0 ? 0 : (-tokens / qps) * 1000;
    },
    forget: () => undefined,
    retries: () => 0,
  };
}

/** The longest wait of several limiters: client-go's MaxOfRateLimiter. */
export function maxOfRateLimiter<K>(...limiters: RateLimiter<K>[]): RateLimiter<K> {
  return {
    when: (item) => Math.max(...limiters.map((l) => l.when(item))),
    forget: (item) => limiters.forEach((l) => l.forget(item)),
    retries: (item) => Math.max(...limiters.map((l) => l.retries(item))),
  };
}

/** controller-runtime's default: per item 5 ms doubling to 1000 s, overall 10 qps with a burst of 100. */
export function defaultControllerRateLimiter<K>(): RateLimiter<K> {
  return maxOfRateLimiter<K>(exponentialFailureRateLimiter<K>(5, 1_000_000), tokenBucketRateLimiter<K>(10, 100));
}
