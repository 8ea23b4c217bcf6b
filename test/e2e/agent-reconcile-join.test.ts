import { expect } from 'chai';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { HOST_LEASE_NAMESPACE, hostLeaseName } from '../../lib/agent-contract.ts';
import { installCrds, readCrdManifests } from '../../lib/install-crds.ts';
import { createKubeClient, isNotFound, type KubeClient, type KubeObject } from '../../lib/kube-client.ts';
import { LEASES } from '../../lib/leader-election.ts';
import { log } from '../../lib/log.ts';
import { runAgent, type RunningAgent } from '../../node-daemon/main.ts';
import { RESOURCES } from '../../node-daemon/resources.ts';
import { sharedKubeConfig } from '../support/cluster.ts';
import { until } from '../support/until.ts';

/**
 * How an agent finds the Host it is, against the real control plane: from its node's
 * kumulus.io/cluster label, by adopting a Host made ahead for its node under another name (as
 * CloudStack's addHost does), and by waiting, creating nothing, while it has no cluster to join.
 * The agents run the simulator hypervisor: joining needs no guests.
 */

const repoRoot = resolve(import.meta.dirname, '../..');
const NODES = { group: '', version: 'v1', plural: 'nodes', kind: 'Node', namespaced: false };
type Obj = KubeObject & { spec?: Record<string, unknown>; status?: Record<string, unknown> };

describe('agent joining: node label, adoption of a Host made ahead, waiting (real control plane)', function () {
  this.timeout(120_000);
  const s = randomBytes(3).toString('hex');
  const cluster = `cluster-j${s}`;
  let client: KubeClient;
  let stateDir: string;
  const agents: RunningAgent[] = [];
  const cleanup: (() => Promise<unknown>)[] = [];

  const start = async (node: string, extraArgs: string[] = []) => {
    const agent = await runAgent({
      kubeConfig: client.kubeConfig,
      handleSignals: false,
      env: { NODE_NAME: node },
      args: ['--http-bind-address=127.0.0.1:0', '--hypervisor=simulator', `--state-dir=${join(stateDir, node)}`, '--log-level=warn', ...extraArgs],
    });
    agents.push(agent);
    return agent;
  };
  const exists = (kind: keyof typeof RESOURCES, name: string) =>
    client
      .resource(RESOURCES[kind])
      .get({ name })
      .then(
        () => true,
        (err: unknown) => (isNotFound(err) ? false : Promise.reject(err as Error)),
      );

  before(async function () {
    this.timeout(600_000);
    const kc = await sharedKubeConfig();
    await installCrds(kc, await readCrdManifests(join(repoRoot, 'crds')), log);
    client = createKubeClient(kc);
    await client
      .resource({ group: '', version: 'v1', plural: 'namespaces', kind: 'Namespace', namespaced: false })
      .create({ metadata: { name: HOST_LEASE_NAMESPACE } })
      .catch(() => undefined);
    stateDir = await mkdtemp(join(tmpdir(), 'kumulus-agent-join-'));
    const make = async (kind: keyof typeof RESOURCES, name: string, spec: Record<string, unknown>) => {
      await client.resource<Obj>(RESOURCES[kind]).create({ metadata: { name }, spec });
      cleanup.push(() => client.resource(RESOURCES[kind]).delete({ name }).catch(() => undefined));
    };
    await make('zones', `zone-j${s}`, { networkType: 'Advanced', dns1: '8.8.8.8', internalDns1: '192.168.100.2' });
    await make('pods', `pod-j${s}`, { zoneRef: { name: `zone-j${s}` }, gateway: '192.168.100.1', netmask: '255.255.255.0', startIp: '192.168.100.10' });
    await make('clusters', cluster, { podRef: { name: `pod-j${s}` }, hypervisor: 'Simulator' });
  });

  after(async function () {
    for (const agent of agents) await agent.stop();
    for (const step of cleanup.reverse()) await step();
    if (stateDir) await rm(stateDir, { recursive: true, force: true });
  });

  it('joins the cluster its node is labelled with', async function () {
    const node = `node-label-${s}`;
    await client.resource(NODES).create({ metadata: { name: node, labels: { 'kumulus.io/cluster': cluster } } });
    cleanup.push(() => client.resource(NODES).delete({ name: node }).catch(() => undefined));
    cleanup.push(() => client.resource(RESOURCES.hosts).delete({ name: node }).catch(() => undefined));
    const agent = await start(node);
    expect((await agent.joined).cluster).to.equal(cluster);
    const host = await client.resource<Obj & { spec: { clusterRef: { name: string }; nodeName: string } }>(RESOURCES.hosts).get({ name: node });
    expect(host.spec).to.deep.include({ clusterRef: { name: cluster }, nodeName: node });
    expect(host.status?.hypervisorVersion).to.match(/^Simulator /);
  });

  it('with nothing to join, waits and creates nothing; then adopts the Host made ahead for its node under another name', async function () {
    const node = `node-adopt-${s}`;
    const hostName = `host-added-${s}`;
    const agent = await start(node);
    // Once the agent says it waits, it has looked for a cluster and created nothing.
    await until('the agent to report that it waits', 30_000, async () => {
      const report = (await (await fetch(`${agent.manager.url}/readyz`)).json()) as { checks?: Record<string, string> };
      return report.checks?.['joined']?.startsWith('not joined: ') ? true : undefined;
    });
    expect(agent.hostName).to.equal(undefined);
    expect(await exists('hosts', node)).to.equal(false);
    const waiting = await fetch(`${agent.manager.url}/readyz`);
    expect(waiting.status, 'not ready before it has joined').to.equal(503);
    expect(((await waiting.json()) as { checks: Record<string, string> }).checks['joined']).to.match(/^not joined: no cluster to join: pass --cluster, label node /);

    await client.resource<Obj>(RESOURCES.hosts).create({ metadata: { name: hostName }, spec: { clusterRef: { name: cluster }, nodeName: node, url: 'http://192.0.2.50' } });
    cleanup.push(() => client.resource(RESOURCES.hosts).delete({ name: hostName }).catch(() => undefined));
    // The join retries at most every 5 s.
    const joined = await agent.joined;
    expect(joined.host).to.equal(hostName);
    expect(agent.hostName).to.equal(hostName);
    expect(await exists('hosts', node), 'no second Host named after the node').to.equal(false);
    // Ready once joined and the caches the join created are synced.
    let ready = await fetch(`${agent.manager.url}/readyz`);
    for (let i = 0; i < 100 && ready.status !== 200; i++) {
      await sleep(100);
      ready = await fetch(`${agent.manager.url}/readyz`);
    }
    const report = (await ready.json()) as { checks: Record<string, string>; informersSynced: boolean };
    expect(ready.status, JSON.stringify(report)).to.equal(200);
    expect(report.checks).to.deep.equal({ joined: 'ok' });
    const lease = await client.resource<KubeObject & { spec: { holderIdentity: string } }>(LEASES).get({ namespace: HOST_LEASE_NAMESPACE, name: hostLeaseName(hostName) });
    expect(lease.spec.holderIdentity).to.equal(node);
    const host = await client.resource<Obj>(RESOURCES.hosts).get({ name: hostName });
    expect((host.status?.capacity as { memoryBytes: number } | undefined)?.memoryBytes).to.be.greaterThan(0);
  });
});
