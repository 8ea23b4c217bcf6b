import * as k8s from '@kubernetes/client-node';
import express from 'express';
import { readFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import winston from 'winston';
import { createApiApp } from '../cloudstack-api/app.ts';
import { createCommandTable } from '../cloudstack-api/commands/define.ts';
import { infrastructureCommands } from '../cloudstack-api/commands/infrastructure.ts';
import { createTenancy } from '../cloudstack-api/tenancy/index.ts';
import { Cluster, Host, Pod, Zone, type KindInfo } from '../crds/index.ts';
import { createInformerFactory } from '../lib/informer.ts';
import { createKubeClient, isAlreadyExists, type KubeObject, resourceTypeOf } from '../lib/kube-client.ts';
import { log, setLogLevel } from '../lib/log.ts';
import { forkBaselineAndApi, pool, round, signed, startBenchCloud, summary } from './support/cloudstack-bench.ts';
import { load, type Measurement } from './support/http-load.ts';

/**
 * listHosts and listZones latency with many hosts present (5,000 by default), served by the
 * real API (real authenticator, access reviews, informer caches) from a child process, and
 * the same load against an empty express handler in another child as the baseline, in the
 * same run. The hosts are real objects in a real apiserver (valid, no agents). Each request
 * is signed (v3) with the bootstrap admin's keys and verified for real.
 * Prints one JSON line per figure (medians of alternating rounds).
 * Usage: node bench/cloudstack-api-lists.ts [hosts] [seconds per round] [concurrency] [rounds]
 */

const HOSTS_PER_CLUSTER = 100;

async function serve(kind: string, kubeconfigPath: string): Promise<void> {
  setLogLevel('warn');
  let app: express.Express;
  if (kind === 'baseline') {
    app = express().get('/client/api', (_req, res) => {
      res.end();
    });
  } else {
    const kc = new k8s.KubeConfig();
    kc.loadFromString(await readFile(kubeconfigPath, 'utf8'));
    const client = createKubeClient(kc);
    const informers = createInformerFactory(client, log);
    const tenancy = createTenancy({ client, informers });
    const commands = createCommandTable(infrastructureCommands({ clientFor: (caller) => tenancy.clientFor(caller), mayList: (caller, type, ns) => tenancy.mayList(caller, type, ns), informers }));
    informers.start();
    while (!informers.hasSynced()) await new Promise((done) => setTimeout(done, 100));
    await tenancy.directory.synced();
    app = createApiApp({ auth: tenancy.auth, sessions: tenancy.sessions, commands, log: winston.createLogger({ silent: true }) });
  }
  const server = app.listen(0, '127.0.0.1', () => process.send?.({ port: (server.address() as AddressInfo).port }));
  process.on('message', () => process.exit(0));
}

async function main(): Promise<void> {
  const hostCount = Number(process.argv[2] ?? 5000);
  const seconds = Number(process.argv[3] ?? 3);
  const concurrency = Number(process.argv[4] ?? 8);
  const rounds = Number(process.argv[5] ?? 3);
  setLogLevel('warn');
  const cloud = await startBenchCloud();
  const { kubeconfig, client, keys } = cloud;

  const create = async (kind: KindInfo, obj: KubeObject & { spec: Record<string, unknown> }) =>
    client
      .resource(resourceTypeOf(kind))
      .create({ apiVersion: kind.apiVersion, kind: kind.kind, ...obj })
      .catch((err: unknown) => {
        if (!isAlreadyExists(err)) throw err;
      });
  const created = performance.now();
  await create(Zone, { metadata: { name: 'bench-zone' }, spec: { displayName: 'Bench zone', dns1: '8.8.8.8', internalDns1: '10.0.0.2' } });
  await create(Pod, { metadata: { name: 'bench-pod' }, spec: { zoneRef: { name: 'bench-zone' }, gateway: '10.200.0.1', netmask: '255.255.0.0', startIp: '10.200.0.10', endIp: '10.200.0.250' } });
  const clusters = Math.ceil(hostCount / HOSTS_PER_CLUSTER);
  await pool(
    Array.from({ length: clusters }, (_, c) => () => create(Cluster, { metadata: { name: `bench-cluster-${c}` }, spec: { podRef: { name: 'bench-pod' }, maxHosts: HOSTS_PER_CLUSTER } })),
    16,
  );
  await pool(
    Array.from({ length: hostCount }, (_, h) => () =>
      create(Host, { metadata: { name: `bench-host-${h}` }, spec: { clusterRef: { name: `bench-cluster-${Math.floor(h / HOSTS_PER_CLUSTER)}` }, nodeName: `bench-node-${h}`, hostTags: ['bench'] } }),
    ),
    32,
  );
  const setupSeconds = (performance.now() - created) / 1000;

  const servers = await forkBaselineAndApi(import.meta.filename, kubeconfig);
  const someHost = (await client.resource(resourceTypeOf(Host)).get({ name: 'bench-host-0' })).metadata.uid ?? '';
  const workloads = {
    baseline: Array.from({ length: 500 }, (_, i) => signed('listZones', {}, keys, i)),
    listZones: Array.from({ length: 500 }, (_, i) => signed('listZones', {}, keys, i)),
    'listHosts (first page: 500 of all hosts)': Array.from({ length: 500 }, (_, i) => signed('listHosts', {}, keys, i)),
    'listHosts id=<one host>': Array.from({ length: 500 }, (_, i) => signed('listHosts', { id: someHost }, keys, i)),
  };
  const samples: Record<string, Measurement[]> = Object.fromEntries(Object.keys(workloads).map((k) => [k, []]));
  try {
    for (let i = 0; i < rounds; i++) {
      for (const [figure, paths] of Object.entries(workloads)) {
        const port = figure === 'baseline' ? servers.baseline.port : servers.api.port;
        samples[figure]!.push(await load(port, paths, seconds, concurrency));
      }
    }
  } finally {
    await servers.stop();
    await cloud.stop();
  }

  const common = { hosts: hostCount, seconds, concurrency, rounds, node: process.version };
  console.log(JSON.stringify({ bench: 'cloudstack-api-lists', figure: 'setup: create zone, pod, clusters and hosts in the apiserver', unit: 's', value: round(setupSeconds), ...common }));
  const baseline = summary(samples['baseline']!);
  for (const [figure, measurements] of Object.entries(samples)) {
    const s = summary(measurements);
    const name = figure === 'baseline' ? 'empty express handler (baseline)' : `signed GET ${figure}`;
    console.log(JSON.stringify({ bench: 'cloudstack-api-lists', figure: name, unit: 'ms', value: s.p50Ms, ...s, p50OverBaselineMs: round(s.p50Ms - baseline.p50Ms), ...common }));
    if (s.failures > 0) process.exitCode = 1;
  }
}

if (process.argv[2] === 'serve') await serve(process.argv[3] ?? 'api', process.argv[4] ?? '');
else await main();
