import { expect } from 'chai';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import type * as k8s from '@kubernetes/client-node';
import { LEASES } from '../../lib/leader-election.ts';
import { createKubeClient, type KubeObject, type ResourceType } from '../../lib/kube-client.ts';
import { log } from '../../lib/log.ts';
import { createManager, type Manager } from '../../lib/manager.ts';
import { ensureKumulusCrds, sharedControlPlane, sharedKubeConfig, uniqueName, useTestNamespace } from '../support/cluster.ts';
import { startRelay, type Relay } from './runtime-relay.ts';

const CONFIGMAPS: ResourceType = { group: '', version: 'v1', plural: 'configmaps', kind: 'ConfigMap', namespaced: true };
const timing = { leaseDurationMs: 4000, renewDeadlineMs: 3000, retryPeriodMs: 500 };

async function until(what: string, check: () => boolean, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

interface Transition {
  who: string;
  leading: boolean;
  at: number;
}

/** A manager with one controller over the namespace's ConfigMaps, recording what it does and when. */
function candidate(kc: k8s.KubeConfig, who: string, namespace: string, lease: string, transitions: Transition[], reconciles: { who: string; at: number; leading: boolean }[]): Manager {
  const manager = createManager({
    kubeConfig: kc,
    eventSource: 'kumulus.io/runtime-test',
    httpBindAddress: '127.0.0.1:0',
    leaderElection: { namespace, name: lease, identity: who, ...timing },
    gracefulShutdownTimeoutMs: 2000,
    logger: log.child({ manager: who }),
    onLeadershipChange: (leading) => transitions.push({ who, leading, at: performance.now() }),
  });
  manager.addController({
    name: `probe-${who}`,
    for: manager.informer(CONFIGMAPS, { namespace }),
    reconcile: () => {
      reconciles.push({ who, at: performance.now(), leading: manager.isLeader() });
      return Promise.resolve();
    },
  });
  return manager;
}

/** Parses the Prometheus text format into `name{labels}` → value. */
function parseMetrics(text: string): Map<string, number> {
  const values = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const match = /^([a-zA-Z_:][\w:]*)(\{.*\})? (\S+)$/.exec(line);
    if (match) values.set(`${match[1]}${match[2] ?? ''}`, Number(match[3]));
  }
  return values;
}

function metric(values: Map<string, number>, name: string, labels: Record<string, string> = {}): number | undefined {
  const wanted = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  for (const [key, value] of values) {
    const match = /^([^{]+)(?:\{(.*)\})?$/.exec(key)!;
    if (match[1] !== name) continue;
    const present = (match[2] ?? '').split(',');
    if (wanted.every((w) => present.includes(w))) return value;
  }
  return undefined;
}

describe('runtime: manager, leader election and metrics against the real apiserver', function () {
  this.timeout(120_000);
  const ns = useTestNamespace('rt-mgr');
  const managers: Manager[] = [];
  let relay: Relay | undefined;
  afterEach(async () => {
    relay?.restore();
    await Promise.all(managers.splice(0).map((m) => m.stop()));
    await relay?.close();
    relay = undefined;
  });

  it('fails over when the leader cannot renew, with never two leaders at once', async () => {
    const lease = uniqueName('failover');
    const transitions: Transition[] = [];
    const reconciles: { who: string; at: number; leading: boolean }[] = [];
    relay = await startRelay(ns.kc);
    const a = candidate(relay.kubeConfig, 'a', ns.name, lease, transitions, reconciles);
    const b = candidate(ns.kc, 'b', ns.name, lease, transitions, reconciles);
    managers.push(a, b);
    await a.start();
    await until('a to lead', () => a.isLeader());
    await b.start();
    const cms = createKubeClient(ns.kc).resource(CONFIGMAPS);
    await cms.create({ metadata: { name: 'before', namespace: ns.name } });
    await until('a to reconcile', () => reconciles.some((r) => r.who === 'a'));
    await sleep(2 * timing.retryPeriodMs);
    expect(b.isLeader()).to.equal(false, 'the standby must wait while the leader renews');

    const cutAt = performance.now();
    relay.cut();
    await until('b to take over', () => b.isLeader(), 15_000);
    const aStopped = transitions.find((t) => t.who === 'a' && !t.leading)!;
    const bStarted = transitions.find((t) => t.who === 'b' && t.leading)!;
    expect(aStopped, 'a must have stepped down').to.not.equal(undefined);
    expect(aStopped.at - cutAt).to.be.at.most(timing.renewDeadlineMs + 100, 'a stops within the renew deadline of its last renewal');
    expect(bStarted.at).to.be.greaterThan(aStopped.at, 'b must start only after a has stopped');
    expect(bStarted.at - cutAt).to.be.at.most(timing.leaseDurationMs + 3 * timing.retryPeriodMs, 'b takes over within the lease duration (plus its polling)');
    expect(await a.done).to.equal('leadership-lost');

    await cms.create({ metadata: { name: 'after', namespace: ns.name } });
    await until('b to reconcile', () => reconciles.some((r) => r.who === 'b'));
    expect(reconciles.filter((r) => !r.leading)).to.deep.equal([], 'every reconcile ran on the leader');
    expect(reconciles.filter((r) => r.who === 'a' && r.at > aStopped.at)).to.deep.equal([], 'a reconciled after losing leadership');
    log.info('failover', { stepDownMs: Math.round(aStopped.at - cutAt), takeoverMs: Math.round(bStarted.at - cutAt), gapMs: Math.round(bStarted.at - aStopped.at) });
  });

  it('releases the lease on shutdown so the standby takes over at once', async () => {
    const lease = uniqueName('release');
    const transitions: Transition[] = [];
    const c = candidate(ns.kc, 'c', ns.name, lease, transitions, []);
    const d = candidate(ns.kc, 'd', ns.name, lease, transitions, []);
    managers.push(c, d);
    await c.start();
    await until('c to lead', () => c.isLeader());
    await d.start();
    await sleep(timing.retryPeriodMs * 2);
    const stoppedAt = performance.now();
    await c.stop();
    const held = await createKubeClient(ns.kc).resource<KubeObject & { spec?: { holderIdentity?: string } }>(LEASES).get({ namespace: ns.name, name: lease });
    expect(held.spec?.holderIdentity ?? '', 'released or already taken by d').to.be.oneOf(['', 'd']);
    await until('d to lead', () => d.isLeader(), 10_000);
    expect(performance.now() - stoppedAt).to.be.below(timing.leaseDurationMs, 'a released lease is taken without waiting for it to expire');
    expect(await c.done).to.equal('stopped');
  });

  it('serves /healthz, /readyz and /metrics with the right names and values after known activity', async () => {
    const lease = uniqueName('metrics');
    const manager = createManager({
      kubeConfig: ns.kc,
      eventSource: 'kumulus.io/runtime-test',
      httpBindAddress: '127.0.0.1:0',
      leaderElection: { namespace: ns.name, name: lease, identity: 'm', ...timing },
      logger: log,
    });
    managers.push(manager);
    const outcomes: string[] = [];
    let failed = false;
    manager.addController({
      name: 'metered',
      for: manager.informer(CONFIGMAPS, { namespace: ns.name, labelSelector: 'app=metered' }),
      maxConcurrentReconciles: 2,
      reconcile: (_ctx, request) => {
        if (request.name === 'fails-once' && !failed) {
          failed = true;
          outcomes.push('error');
          return Promise.reject(new Error('the first attempt fails'));
        }
        outcomes.push('success');
        return Promise.resolve();
      },
    });
    await manager.start();
    await until('leadership', () => manager.isLeader());
    const cms = manager.client.resource(CONFIGMAPS);
    for (const name of ['one', 'two', 'three', 'fails-once']) await cms.create({ metadata: { name, namespace: ns.name, labels: { app: 'metered' } } });
    await cms.create({ metadata: { name: 'ignored', namespace: ns.name } });
    await until('five reconciles', () => outcomes.length === 5);
    await sleep(200);

    expect(await (await fetch(`${manager.url}/healthz`)).text()).to.equal('ok');
    const ready = await fetch(`${manager.url}/readyz`);
    expect(ready.status).to.equal(200);
    expect(await ready.json()).to.deep.include({ ready: true, informersSynced: true, leader: { enabled: true, leading: true, identity: 'm', holder: 'm' } });

    const response = await fetch(manager.metricsUrl);
    expect(response.headers.get('content-type')).to.match(/^text\/plain/);
    const values = parseMetrics(await response.text());
    const c = { controller: 'metered' };
    const q = { name: 'metered', controller: 'metered' };
    const expected: [string, Record<string, string>, number][] = [
      ['controller_runtime_reconcile_total', { ...c, result: 'success' }, 4],
      ['controller_runtime_reconcile_total', { ...c, result: 'error' }, 1],
      ['controller_runtime_reconcile_total', { ...c, result: 'requeue' }, 0],
      ['controller_runtime_reconcile_total', { ...c, result: 'requeue_after' }, 0],
      ['controller_runtime_reconcile_errors_total', c, 1],
      ['controller_runtime_reconcile_time_seconds_count', c, 5],
      ['controller_runtime_max_concurrent_reconciles', c, 2],
      ['controller_runtime_active_workers', c, 0],
      ['workqueue_depth', q, 0],
      ['workqueue_adds_total', q, 5],
      ['workqueue_retries_total', q, 1],
      ['workqueue_queue_duration_seconds_count', q, 5],
      ['workqueue_work_duration_seconds_count', q, 5],
      ['workqueue_unfinished_work_seconds', q, 0],
      ['workqueue_longest_running_processor_seconds', q, 0],
      ['leader_election_master_status', { name: lease }, 1],
      // The lease and the five ConfigMaps: every POST this manager's client made.
      ['rest_client_requests_total', { code: '201', method: 'POST' }, 6],
    ];
    const actual = expected.map(([name, labels]) => [name, labels, metric(values, name, labels)]);
    expect(actual).to.deep.equal(expected);
    expect(metric(values, 'rest_client_requests_total', { code: '200', method: 'GET' })).to.be.greaterThan(0);
    expect(metric(values, 'controller_runtime_reconcile_time_seconds_bucket', { ...c, le: '60' })).to.equal(5);
  });

  it('on stop, finishes in-flight reconciles within the bound, takes no new work, and aborts what overruns', async () => {
    const manager = createManager({ kubeConfig: ns.kc, eventSource: 'kumulus.io/runtime-test', httpBindAddress: '127.0.0.1:0', gracefulShutdownTimeoutMs: 1500, logger: log });
    managers.push(manager);
    const started: string[] = [];
    const finished: string[] = [];
    const aborted: string[] = [];
    manager.addController({
      name: 'slow',
      for: manager.informer(CONFIGMAPS, { namespace: ns.name }),
      maxConcurrentReconciles: 2,
      reconcile: async (ctx, request) => {
        started.push(request.name);
        const ms = request.name === 'endless' ? 60_000 : 400;
        await sleep(ms, undefined, { signal: ctx.signal }).catch(() => aborted.push(request.name));
        if (!ctx.signal.aborted) finished.push(request.name);
      },
    });
    await manager.start();
    const cms = createKubeClient(ns.kc).resource(CONFIGMAPS);
    await cms.create({ metadata: { name: 'quick', namespace: ns.name } });
    await cms.create({ metadata: { name: 'endless', namespace: ns.name } });
    await until('both in flight', () => started.length === 2);
    const stopping = manager.stop();
    await cms.create({ metadata: { name: 'late', namespace: ns.name } });
    const stoppedAt = performance.now();
    await stopping;
    expect(finished).to.deep.equal(['quick'], 'the in-flight reconcile finished');
    expect(aborted).to.deep.equal(['endless'], 'the overrunning reconcile was aborted at the bound');
    expect(started).to.not.include('late', 'no new work after stop');
    expect(performance.now() - stoppedAt).to.be.below(3000);
  });

  it('kumulus operator: a SIGTERM stops the process cleanly and releases its lease', async function () {
    this.timeout(60_000);
    const plane = await sharedControlPlane();
    await ensureKumulusCrds();
    const lease = uniqueName('sigterm');
    const dir = await mkdtemp(join(tmpdir(), 'kumulus-operator-'));
    const script = join(dir, 'run.ts');
    const operator = resolve(import.meta.dirname, '../../controllers/operator.ts');
    await writeFile(script, `import { runOperator } from ${JSON.stringify(operator)};\nconst op = await runOperator({ args: process.argv.slice(2) });\nprocess.stdout.write('METRICS ' + op.metricsUrl + '\\n');\nawait op.done;\n`);
    const child = spawn(process.execPath, [script, '--http-bind-address=127.0.0.1:0', `--leader-election-namespace=${ns.name}`, `--leader-election-id=${lease}`, '--leader-election-identity=proc'], {
      env: { ...process.env, KUBECONFIG: plane.kubeconfigPath, KUMULUS_LOG_LEVEL: 'warn' },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const exited = new Promise<number | null>((done) => child.on('exit', (code) => done(code)));
    try {
      await expectCleanStop(child, exited, ns.name, lease);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  });
});

/** Waits for the operator child to lead, scrapes it, sends SIGTERM, and checks a clean exit and a released lease. */
async function expectCleanStop(child: ChildProcess & { stdout: Readable }, exited: Promise<number | null>, namespace: string, lease: string): Promise<void> {
  let out = '';
  child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
  await until('the operator to report its metrics URL', () => out.includes('METRICS '), 30_000);
  const metricsUrl = /METRICS (\S+)/.exec(out)![1]!;
  const leases = createKubeClient(await sharedKubeConfig()).resource<KubeObject & { spec?: { holderIdentity?: string } }>(LEASES);
  let holder: string | undefined;
  const deadline = Date.now() + 10_000;
  while (holder !== 'proc' && Date.now() < deadline) {
    holder = await leases.get({ namespace, name: lease }).then((l) => l.spec?.holderIdentity, () => undefined);
    await sleep(100);
  }
  expect(holder).to.equal('proc');
  // The Lease is written a moment before the leader's controllers start and the gauge flips.
  const leading = async () => parseMetrics(await (await fetch(metricsUrl)).text()).get(`leader_election_master_status{name="${lease}"}`);
  let gauge = await leading();
  for (const until = Date.now() + 10_000; gauge !== 1 && Date.now() < until; gauge = await leading()) await sleep(100);
  expect(gauge).to.equal(1);
  child.kill('SIGTERM');
  expect(await exited).to.equal(0);
  const released = await leases.get({ namespace, name: lease });
  expect(released.spec?.holderIdentity ?? '').to.equal('');
}
