import { expect } from 'chai';
import { setTimeout as sleep } from 'node:timers/promises';
import { defaultControllerRateLimiter, exponentialFailureRateLimiter, maxOfRateLimiter, tokenBucketRateLimiter } from '../../lib/rate-limiter.ts';
import { createWorkQueue } from '../../lib/workqueue.ts';

describe('runtime: rate limiters', () => {
  it('backs off per item from 5 ms doubling up to 1000 s, and forget resets it', () => {
    const limiter = exponentialFailureRateLimiter<string>(5, 1_000_000);
    const waits = Array.from({ length: 20 }, () => limiter.when('a'));
    expect(waits.slice(0, 5)).to.deep.equal([5, 10, 20, 40, 80]);
    expect(waits[17]).to.equal(655_360);
    expect(waits[18]).to.equal(1_000_000);
    expect(waits[19]).to.equal(1_000_000);
    expect(limiter.when('b')).to.equal(5, 'items back off independently');
    expect(limiter.retries('a')).to.equal(20);
    limiter.forget('a');
    expect(limiter.retries('a')).to.equal(0);
    expect(limiter.when('a')).to.equal(5);
  });

  it('spreads a burst through the token bucket after the burst allowance', () => {
    let t = 0;
    const bucket = tokenBucketRateLimiter<string>(10, 3, () => t);
    expect([bucket.when('x'), bucket.when('y'), bucket.when('z')]).to.deep.equal([0, 0, 0]);
    expect(bucket.when('w')).to.be.closeTo(100, 1e-9);
    expect(bucket.when('v')).to.be.closeTo(200, 1e-9);
    t = 1000;
    // 1 s at 10 qps refills the bucket (capped at the burst) after the two reserved tokens.
    expect(bucket.when('u')).to.equal(0);
  });

  it('takes the longest wait of its limiters (the controller default)', () => {
    const limiter = maxOfRateLimiter<string>(exponentialFailureRateLimiter(5, 1_000_000), exponentialFailureRateLimiter(7, 1_000_000));
    expect(limiter.when('a')).to.equal(7);
    const defaults = defaultControllerRateLimiter<string>();
    expect(defaults.when('k')).to.equal(5);
    expect(defaults.when('k')).to.equal(10);
  });
});

describe('runtime: work queue', () => {
  it('deduplicates keys and hands them out in FIFO order', async () => {
    const q = createWorkQueue<string>();
    for (const key of ['a', 'b', 'a', 'c', 'b']) q.add(key);
    expect(q.len()).to.equal(3);
    expect([await q.get(), await q.get(), await q.get()]).to.deep.equal(['a', 'b', 'c']);
  });

  it('never hands a key to two workers, and defers re-adds until done', async () => {
    const q = createWorkQueue<string>();
    q.add('a');
    const first = await q.get();
    q.add('a');
    q.add('a');
    expect(q.len()).to.equal(0, 're-add while processing must wait');
    let second: string | undefined;
    void q.get().then((item) => (second = item));
    await sleep(5);
    expect(second).to.equal(undefined);
    q.done(first!);
    await sleep(0);
    expect(second).to.equal('a', 'the deferred re-add is handed out once, after done');
    q.done('a');
    expect(q.len()).to.equal(0);
  });

  it('wakes a waiting worker on add', async () => {
    const q = createWorkQueue<string>();
    const next = q.get();
    q.add('x');
    expect(await next).to.equal('x');
  });

  it('delays addAfter, keeping the earliest time for a key', async () => {
    let t = 0;
    const q = createWorkQueue<string>({ now: () => t });
    q.addAfter('late', 50);
    q.addAfter('late', 10);
    q.addAfter('later', 30);
    t = 5;
    await sleep(15);
    expect(q.len()).to.equal(0);
    t = 12;
    await sleep(15);
    expect(q.len()).to.equal(1);
    expect(await q.get()).to.equal('late');
    t = 100;
    await sleep(40);
    expect(await q.get()).to.equal('later');
    expect(q.len()).to.equal(0, 'the superseded 50 ms entry must not add the key again');
  });

  it('rate-limits re-adds per key and counts requeues until forget', async () => {
    const q = createWorkQueue<string>({ rateLimiter: exponentialFailureRateLimiter(20, 1000) });
    q.addRateLimited('k');
    q.addRateLimited('k');
    expect(q.numRequeues('k')).to.equal(2);
    expect(q.len()).to.equal(0);
    await sleep(35);
    expect(q.len()).to.equal(1);
    q.forget('k');
    expect(q.numRequeues('k')).to.equal(0);
  });

  it('stops handing out work on shutdown and drains in-flight items', async () => {
    const q = createWorkQueue<string>();
    q.add('a');
    q.add('b');
    const a = await q.get();
    const drained = q.shutDownWithDrain();
    expect(await q.get()).to.equal(undefined, 'queued items are no longer handed out');
    q.add('c');
    expect(q.len()).to.equal(1, 'nothing new is accepted after shutdown');
    let done = false;
    void drained.then(() => (done = true));
    await sleep(5);
    expect(done).to.equal(false, 'the drain waits for the item in flight');
    q.done(a!);
    await drained;
  });

  it('reports depth, adds, latency, work time and in-progress time to its observer', async () => {
    let t = 0;
    const seen = { added: 0, depth: [] as number[], queued: [] as number[], work: [] as number[], retries: 0 };
    const q = createWorkQueue<string>({
      now: () => t,
      observer: {
        added: () => seen.added++,
        depth: (d) => seen.depth.push(d),
        started: (s) => seen.queued.push(s),
        finished: (s) => seen.work.push(s),
        retried: () => seen.retries++,
      },
    });
    q.add('a');
    q.add('a');
    t = 250;
    const a = await q.get();
    t = 1250;
    expect(q.inProgress()).to.deep.equal({ totalSeconds: 1, longestSeconds: 1 });
    q.done(a!);
    q.addRateLimited('a');
    expect(seen).to.deep.include({ added: 1, retries: 1 });
    expect(seen.depth).to.deep.equal([1, 0]);
    expect(seen.queued).to.deep.equal([0.25]);
    expect(seen.work).to.deep.equal([1]);
    q.shutDown();
  });
});
