import { expect } from 'chai';
import { setCondition, type StatusWithConditions } from '../../lib/conditions.ts';
import { ConfigError, parseConfig, parseDuration, runtimeOptions, validateRuntimeConfig } from '../../lib/config.ts';
import { ownerRequests } from '../../lib/controller.ts';
import { collectionPath, objectKey, parseObjectKey, type KubeObject } from '../../lib/kube-client.ts';
import { controllerOf, setControllerReference } from '../../lib/ownership.ts';
import { planFailure, planStatus, type StatusBag, type StatusWriter } from '../../lib/status.ts';
import { byLabel, createStore, OWNER_UID_INDEX } from '../../lib/store.ts';

const t0 = new Date('2026-01-01T00:00:00.000Z');
const t1 = new Date('2026-01-01T01:00:00.000Z');

describe('runtime: conditions', () => {
  it('moves lastTransitionTime only when the status flips, and records the generation', () => {
    const status: StatusWithConditions = {};
    expect(setCondition(status, { type: 'Ready', status: 'False', reason: 'Pending', message: 'Volume web-root: PrimaryStorage nfs1 is in Maintenance' }, 1, t0)).to.equal(true);
    expect(setCondition(status, { type: 'Ready', status: 'False', reason: 'Pending', message: 'Volume web-root: PrimaryStorage nfs1 is in Maintenance' }, 1, t1)).to.equal(false);
    const ready = () => status.conditions?.find((c) => c.type === 'Ready');
    expect(ready()?.lastTransitionTime).to.equal('2026-01-01T00:00:00Z');
    expect(setCondition(status, { type: 'Ready', status: 'False', reason: 'Pending', message: 'still waiting' }, 2, t1)).to.equal(true);
    expect(ready()).to.deep.equal({ type: 'Ready', status: 'False', observedGeneration: 2, lastTransitionTime: '2026-01-01T00:00:00Z', reason: 'Pending', message: 'still waiting' });
    expect(setCondition(status, { type: 'Ready', status: 'True', reason: 'Available' }, 2, t1)).to.equal(true);
    expect(ready()?.lastTransitionTime).to.equal('2026-01-01T01:00:00Z');
  });

  it('reports Synced from the last reconcile, with the error as the message', () => {
    const writer: StatusWriter = { fieldManager: 'kumulus-operator', fields: ['observedGeneration'], conditions: ['Synced'] };
    const status: StatusBag = planFailure({}, 3, writer, new Error('Zone z1 not found'), { type: 'Synced', reason: 'DependencyMissing' }, t0)!;
    expect(status.conditions?.find((c) => c.type === 'Synced')).to.deep.include({ status: 'False', reason: 'DependencyMissing', message: 'Zone z1 not found', observedGeneration: 3 });
    expect(status.observedGeneration).to.equal(undefined, 'a failed reconcile has not observed the generation');
    const synced = planStatus(status, 3, writer, { conditions: [] }, t1);
    expect(synced?.observedGeneration).to.equal(3);
    expect(planStatus(synced, 3, writer, { conditions: [] }, t1)).to.equal(undefined);
  });
});

describe('runtime: configuration', () => {
  it('defaults to the client-go lease timings and controller-runtime concurrency', () => {
    const config = parseConfig(runtimeOptions, [], {}, validateRuntimeConfig);
    expect(config).to.deep.include({ leaseDuration: 15_000, renewDeadline: 10_000, retryPeriod: 2_000, leaderElect: true, maxConcurrentReconciles: 1, logLevel: 'info', httpBindAddress: '0.0.0.0:8080' });
  });

  it('reads flags over the environment', () => {
    const config = parseConfig(
      runtimeOptions,
      ['--leader-election-lease-duration=30s', '--leader-elect', 'false', '--log-level', 'debug', '--http-bind-address=127.0.0.1:0'],
      { KUMULUS_LEADER_ELECTION_LEASE_DURATION: '20s', KUMULUS_MAX_CONCURRENT_RECONCILES: '4', KUBECONFIG: '/tmp/kc' },
      validateRuntimeConfig,
    );
    expect(config).to.deep.include({ leaseDuration: 30_000, leaderElect: false, logLevel: 'debug', maxConcurrentReconciles: 4, kubeconfig: '/tmp/kc', httpBindAddress: '127.0.0.1:0' });
  });

  it('fails with every bad value named, with its source and the fix', () => {
    const attempt = () =>
      parseConfig(runtimeOptions, ['--leader-election-retry-period=soon', '--frobnicate'], { KUMULUS_MAX_CONCURRENT_RECONCILES: '0', KUMULUS_LOG_LEVEL: 'loud' }, validateRuntimeConfig);
    expect(attempt).to.throw(ConfigError);
    try {
      attempt();
    } catch (err) {
      const message = (err as Error).message;
      expect(message).to.include('invalid --leader-election-retry-period (KUMULUS_LEADER_ELECTION_RETRY_PERIOD) "soon" (from flag --leader-election-retry-period): expected a duration like 500ms, 15s or 2m');
      expect(message).to.include('invalid --max-concurrent-reconciles (KUMULUS_MAX_CONCURRENT_RECONCILES) "0" (from environment variable KUMULUS_MAX_CONCURRENT_RECONCILES): expected an integer from 1 to 1000');
      expect(message).to.include('invalid --log-level (KUMULUS_LOG_LEVEL) "loud"');
      expect(message).to.include('unknown argument "--frobnicate"');
    }
  });

  it('checks that the lease outlives the renew deadline, which outlives the retry period', () => {
    expect(() => parseConfig(runtimeOptions, ['--leader-election-renew-deadline=20s'], {}, validateRuntimeConfig)).to.throw(/--leader-election-lease-duration .* must be longer than --leader-election-renew-deadline/);
    expect(() => parseConfig(runtimeOptions, ['--leader-election-retry-period=9s'], {}, validateRuntimeConfig)).to.throw(/must be longer than 1.2 × --leader-election-retry-period/);
  });

  it('parses Go-style durations', () => {
    expect([parseDuration('500ms'), parseDuration('15s'), parseDuration('1m30s'), parseDuration('1.5h')]).to.deep.equal([500, 15_000, 90_000, 5_400_000]);
    expect([parseDuration('15'), parseDuration('s'), parseDuration('1x'), parseDuration('')]).to.deep.equal([undefined, undefined, undefined, undefined]);
  });
});

describe('runtime: keys, paths, store and owners', () => {
  const obj = (name: string, extra: Partial<KubeObject['metadata']> = {}): KubeObject => ({ metadata: { name, namespace: 'ns', uid: `uid-${name}`, ...extra } });

  it('addresses core and grouped resources, namespaced or not', () => {
    expect(collectionPath({ group: '', version: 'v1', plural: 'configmaps', kind: 'ConfigMap', namespaced: true }, 'a')).to.equal('/api/v1/namespaces/a/configmaps');
    expect(collectionPath({ group: 'infra.kumulus.io', version: 'v1alpha1', plural: 'zones', kind: 'Zone', namespaced: false }, 'ignored')).to.equal('/apis/infra.kumulus.io/v1alpha1/zones');
    expect(parseObjectKey(objectKey({ namespace: 'n', name: 'x' }))).to.deep.equal({ namespace: 'n', name: 'x' });
    expect(parseObjectKey('cluster-wide')).to.deep.equal({ name: 'cluster-wide' });
  });

  it('keeps its indexes in step with sets and deletes', () => {
    const store = createStore<KubeObject>();
    store.addIndex('zone', byLabel('kumulus.io/zone'));
    store.set(obj('a', { labels: { 'kumulus.io/zone': 'z1' }, ownerReferences: [{ apiVersion: 'v1', kind: 'X', name: 'p', uid: 'p1' }] }));
    store.set(obj('b', { labels: { 'kumulus.io/zone': 'z1' } }));
    expect(store.byIndex('zone', 'z1').map((o) => o.metadata.name).sort()).to.deep.equal(['a', 'b']);
    store.set(obj('b', { labels: { 'kumulus.io/zone': 'z2' } }));
    expect(store.byIndex('zone', 'z1').map((o) => o.metadata.name)).to.deep.equal(['a']);
    expect(store.byIndex(OWNER_UID_INDEX, 'p1').map((o) => o.metadata.name)).to.deep.equal(['a']);
    store.delete('ns/a');
    expect(store.byIndex('zone', 'z1')).to.deep.equal([]);
    expect(store.byIndex(OWNER_UID_INDEX, 'p1')).to.deep.equal([]);
    expect(() => store.byIndex('missing', 'x')).to.throw(/no index named "missing"/);
  });

  it('sets one controller reference and maps children back to it', () => {
    const owner = { apiVersion: 'compute.kumulus.io/v1alpha1', kind: 'VirtualMachine', ...obj('vm') };
    const child = { apiVersion: 'compute.kumulus.io/v1alpha1', kind: 'Volume', ...obj('vm-root') };
    setControllerReference(owner, child);
    setControllerReference(owner, child);
    expect(child.metadata.ownerReferences).to.have.length(1);
    expect(controllerOf(child)).to.deep.include({ kind: 'VirtualMachine', name: 'vm', uid: 'uid-vm', controller: true, blockOwnerDeletion: true });
    const other = { apiVersion: 'compute.kumulus.io/v1alpha1', kind: 'VirtualMachine', ...obj('vm2') };
    expect(() => setControllerReference(other, child)).to.throw(/already controlled by VirtualMachine vm/);
    const elsewhere = { ...child, metadata: { ...child.metadata, namespace: 'other', ownerReferences: [] } };
    expect(() => setControllerReference(owner, elsewhere)).to.throw(/same namespace/);
    const map = ownerRequests({ group: 'compute.kumulus.io', kind: 'VirtualMachine', namespaced: true });
    expect(map(child)).to.deep.equal([{ namespace: 'ns', name: 'vm' }]);
    expect(ownerRequests({ group: 'infra.kumulus.io', kind: 'VirtualMachine', namespaced: true })(child)).to.deep.equal([], 'the group must match too');
  });
});
