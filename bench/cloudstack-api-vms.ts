import * as k8s from '@kubernetes/client-node';
import express from 'express';
import * as http from 'node:http';
import { readFile } from 'node:fs/promises';
import { availableParallelism, loadavg } from 'node:os';
import type { AddressInfo } from 'node:net';
import { runApi } from '../cloudstack-api/main.ts';
import { Host, Network, NetworkOffering, ServiceOffering, Template, VirtualMachine, Zone, type KindInfo } from '../crds/index.ts';
import { PUBLIC_NAMESPACE } from '../lib/identity.ts';
import { isAlreadyExists, type KubeObject, resourceTypeOf } from '../lib/kube-client.ts';
import { setLogLevel } from '../lib/log.ts';
import { forkBaselineAndApi, pool, round, signed, startBenchCloud, summary } from './support/cloudstack-bench.ts';
import { load, median, type Measurement } from './support/http-load.ts';

/**
 * The compute half of the API at scale (issue 13's benchmark), served by the real API process
 * (`runApi`: every command, real authenticator, access reviews, informer caches) forked into a
 * child of its own, against a real apiserver:
 *  1. listVirtualMachines, one page of 500, with `vms` (10,000 by default) VMs present, each
 *     Running with a NIC and a placement in status as the operator and agent write them; the
 *     baseline in the same run is listZones on the same server (and an empty express handler).
 *  2. deployVirtualMachine requests accepted per second (the synchronous part: checks, the VM
 *     object and its AsyncJob created as the caller), against the apiserver's raw create rate
 *     for the same VM objects at the same concurrency, from this process with admin rights.
 * Nothing runs the VMs (no operator or agent), so the jobs stay pending; that is the point. The
 * VMs' 100 Hosts exist, and while the lists are timed their agents' status writes go on as in a
 * running cloud (usage and heartbeat, each host about every 30 s: `host writes per second`, 3 by
 * default, 0 for none), so a page is timed while the objects its rows read keep changing.
 * Prints one JSON line per figure (medians of alternating rounds).
 * Usage: node bench/cloudstack-api-vms.ts [vms] [seconds per round] [list concurrency] [rounds] [deploys per round] [deploy concurrency] [host writes per second]
 */

const ZONE = 'bench-zone';
const OFFERING = 'bench-small';
const TEMPLATE = 'bench-tiny';
const NETWORK = 'bench-net';

async function serve(kind: string, kubeconfigPath: string): Promise<void> {
  setLogLevel('warn');
  if (kind === 'baseline') {
    const server = express()
      .get('/client/api', (_req, res) => {
        res.end();
      })
      .listen(0, '127.0.0.1', () => process.send?.({ port: (server.address() as AddressInfo).port }));
  } else {
    const kc = new k8s.KubeConfig();
    kc.loadFromString(await readFile(kubeconfigPath, 'utf8'));
    const api = await runApi({ kubeConfig: kc, args: ['--api-bind-address', '127.0.0.1:0', '--log-level', 'warn'], env: {} });
    process.send?.({ port: Number(new URL(api.url).port) });
  }
  process.on('message', () => process.exit(0));
}

function get(agent: http.Agent, port: number, path: string): Promise<{ status: number; body: string }> {
  return new Promise((done, fail) => {
    http
      .get({ host: '127.0.0.1', port, path, agent }, (response) => {
        let body = '';
        response.on('data', (chunk: Buffer) => (body += chunk.toString()));
        response.on('end', () => done({ status: response.statusCode ?? 0, body }));
      })
      .on('error', fail);
  });
}

async function main(): Promise<void> {
  const vmCount = Number(process.argv[2] ?? 10_000);
  const seconds = Number(process.argv[3] ?? 3);
  // Latency is one caller's (1 in flight): on a 2-core machine more would only measure the queue.
  const concurrency = Number(process.argv[4] ?? 1);
  const rounds = Number(process.argv[5] ?? 3);
  const deploys = Number(process.argv[6] ?? 300);
  const deployConcurrency = Number(process.argv[7] ?? 8);
  const hostWritesPerSecond = Number(process.argv[8] ?? 3);
  setLogLevel('warn');
  const cloud = await startBenchCloud();
  const { kubeconfig, client, keys, namespace } = cloud;

  const resource = (kind: KindInfo) => client.resource<KubeObject & { spec?: Record<string, unknown> }>(resourceTypeOf(kind));
  const create = async (kind: KindInfo, obj: KubeObject & { spec: Record<string, unknown> }) =>
    resource(kind)
      .create({ apiVersion: kind.apiVersion, kind: kind.kind, ...obj })
      .catch((err: unknown) => {
        if (!isAlreadyExists(err)) throw err;
        return resource(kind).get({ name: obj.metadata.name ?? '', namespace: obj.metadata.namespace });
      });
  await client.resource({ group: '', version: 'v1', plural: 'namespaces', kind: 'Namespace', namespaced: false }).create({ metadata: { name: PUBLIC_NAMESPACE } }).catch(() => undefined);
  const zone = await create(Zone, { metadata: { name: ZONE }, spec: { displayName: 'Bench zone', networkType: 'Advanced', dns1: '8.8.8.8', internalDns1: '10.0.0.2', guestCidr: '10.128.0.0/9', allocationState: 'Enabled' } });
  const offering = await create(ServiceOffering, { metadata: { name: OFFERING }, spec: { displayName: 'Bench small', cpuNumber: 1, cpuSpeed: 1000, memory: '512Mi' } });
  await create(NetworkOffering, { metadata: { name: 'bench-isolated' }, spec: { guestIpType: 'Isolated' } });
  const template = await create(Template, { metadata: { name: TEMPLATE, namespace: PUBLIC_NAMESPACE }, spec: { displayName: 'Bench tiny', url: 'file:///var/lib/kumulus/tiny.qcow2', format: 'QCOW2', zoneRefs: [{ name: ZONE }], isPublic: true } });
  await resource(Template).patchStatus({ namespace: PUBLIC_NAMESPACE, name: TEMPLATE }, { status: { state: 'Active', isReady: true, zones: [{ zone: ZONE, downloadState: 'DOWNLOADED', downloadPercent: 100, sizeBytes: 1 << 30 }] } });
  // /16: the 10,000 VMs' addresses fit, as the network's IPAM would give them.
  const network = await create(Network, { metadata: { name: NETWORK, namespace }, spec: { displayName: 'Bench net', networkOfferingRef: { name: 'bench-isolated' }, zoneRef: { name: ZONE }, cidr: '10.200.0.0/16' } });

  const HOSTS = 100;
  const hostStatus = (load: number) => ({ status: { state: 'Up', resourceState: 'Enabled', usage: { cpuLoadAverage: load, cpuUsedPercent: 10, memoryUsedBytes: 1 << 30 } } });
  await pool(
    Array.from({ length: HOSTS }, (_, h) => async () => {
      await create(Host, { metadata: { name: `bench-host-${h}` }, spec: { clusterRef: { name: 'bench-cluster' }, nodeName: `bench-node-${h}` } });
      await resource(Host).patchStatus({ name: `bench-host-${h}` }, hostStatus(0));
    }),
    16,
  );
  const vmSpec = (hostName: string) => ({ zoneRef: { name: ZONE }, serviceOfferingRef: { name: OFFERING }, templateRef: { namespace: PUBLIC_NAMESPACE, name: TEMPLATE }, hostName, networks: [{ name: NETWORK, default: true }], state: 'Running' });
  const now = new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
  const setupStarted = performance.now();
  await pool(
    Array.from({ length: vmCount }, (_, i) => async () => {
      const name = `bench-vm-${i}`;
      const vm = await create(VirtualMachine, { metadata: { name, namespace }, spec: vmSpec(name) });
      const ip = `10.200.${Math.floor((i + 2) / 256)}.${(i + 2) % 256}`;
      await resource(VirtualMachine).patchStatus(
        { namespace, name },
        {
          status: {
            state: 'Running',
            observedGeneration: vm.metadata.generation ?? 1,
            powerState: 'PowerOn',
            instanceName: `i-${(vm.metadata.uid ?? '').slice(0, 8)}`,
            placement: { zone: ZONE, pod: 'bench-pod', cluster: 'bench-cluster', host: `bench-host-${i % 100}` },
            nics: [{ network: NETWORK, deviceId: 0, isDefault: true, ipAddress: ip, netmask: '255.255.0.0', gateway: '10.200.0.1', macAddress: `02:00:0a:c8:${((i >> 8) & 255).toString(16).padStart(2, '0')}:${(i & 255).toString(16).padStart(2, '0')}` }],
            conditions: [
              { type: 'Ready', status: 'True', reason: 'Running', message: '', lastTransitionTime: now, observedGeneration: vm.metadata.generation ?? 1 },
              { type: 'Synced', status: 'True', reason: 'Reconciled', message: '', lastTransitionTime: now, observedGeneration: vm.metadata.generation ?? 1 },
            ],
          },
        },
      );
    }),
    32,
  );
  const setupSeconds = (performance.now() - setupStarted) / 1000;

  const servers = await forkBaselineAndApi(import.meta.filename, kubeconfig);
  const page = { page: '1', pagesize: '500' };
  const workloads = {
    baseline: Array.from({ length: 500 }, (_, i) => signed('listZones', {}, keys, i)),
    listZones: Array.from({ length: 500 }, (_, i) => signed('listZones', {}, keys, i)),
    [`listVirtualMachines page=1 pagesize=500 (of ${vmCount})`]: Array.from({ length: 500 }, (_, i) => signed('listVirtualMachines', page, keys, i)),
  };
  const samples: Record<string, Measurement[]> = Object.fromEntries(Object.keys(workloads).map((k) => [k, []]));
  // The machine's load when the clock starts and stops: figures taken under load are not comparable with a quiet run's.
  const load1m = (): number => round(loadavg()[0] ?? 0);
  let loadAtStart: number | undefined;
  let loadAtEnd: number | undefined;
  const deployed: { api: number[]; raw: number[] } = { api: [], raw: [] };
  let deployFailures = 0;
  try {
    // The API's caches hold every VM before the clock starts: the page must be full and count them all.
    const agent = new http.Agent({ keepAlive: true });
    for (let tries = 0; ; tries++) {
      const reply = await get(agent, servers.api.port, signed('listVirtualMachines', page, keys, 100_000 + tries));
      const body = JSON.parse(reply.body) as { listvirtualmachinesresponse?: { count?: number; virtualmachine?: unknown[] } };
      const list = body.listvirtualmachinesresponse;
      const listCheck = `HTTP ${reply.status}, count ${list?.count}, rows ${list?.virtualmachine?.length}`;
      if (list?.count === vmCount && list.virtualmachine?.length === Math.min(500, vmCount)) break;
      if (tries > 600) throw new Error(`the API never listed all ${vmCount} VMs: ${listCheck}`);
      await new Promise((done) => setTimeout(done, 500));
    }
    loadAtStart = load1m();
    for (let i = 0; i < rounds; i++) {
      // The hosts' agents write their status while the lists are timed, one host after another.
      let hostWrites = 0;
      const churn = hostWritesPerSecond > 0 ? setInterval(() => {
        const h = hostWrites++ % HOSTS;
        resource(Host).patchStatus({ name: `bench-host-${h}` }, hostStatus(hostWrites / 100)).catch((err: unknown) => console.error(`host status write failed: ${String(err)}`));
      }, 1000 / hostWritesPerSecond) : undefined;
      for (const [figure, paths] of Object.entries(workloads)) {
        const port = figure === 'baseline' ? servers.baseline.port : servers.api.port;
        samples[figure]!.push(await load(port, paths, seconds, concurrency));
      }
      clearInterval(churn);
      // deployVirtualMachine through the API, then the same objects created raw, at the same concurrency.
      const deployParams = { zoneid: zone.metadata.uid ?? '', serviceofferingid: offering.metadata.uid ?? '', templateid: template.metadata.uid ?? '', networkids: network.metadata.uid ?? '' };
      const paths = Array.from({ length: deploys }, (_, d) => signed('deployVirtualMachine', { ...deployParams, name: `dep-${i}-${d}` }, keys, d));
      let started = performance.now();
      await pool(
        paths.map((path) => async () => {
          const reply = await get(agent, servers.api.port, path);
          if (reply.status !== 200 && deployFailures++ === 0) console.error(`first deploy failure: HTTP ${reply.status} ${reply.body.slice(0, 500)}`);
        }),
        deployConcurrency,
      );
      deployed.api.push(deploys / ((performance.now() - started) / 1000));
      started = performance.now();
      await pool(
        Array.from({ length: deploys }, (_, d) => () => resource(VirtualMachine).create({ apiVersion: VirtualMachine.apiVersion, kind: VirtualMachine.kind, metadata: { name: `raw-${i}-${d}`, namespace }, spec: vmSpec(`raw-${i}-${d}`) })),
        deployConcurrency,
      );
      deployed.raw.push(deploys / ((performance.now() - started) / 1000));
    }
    loadAtEnd = load1m();
    agent.destroy();
  } finally {
    await servers.stop();
    await cloud.stop();
  }

  const common = { vms: vmCount, hosts: HOSTS, hostWritesPerSecond, seconds, concurrency, rounds, node: process.version, cores: availableParallelism(), loadAverage1mAtStart: loadAtStart, loadAverage1mAtEnd: loadAtEnd };
  console.log(JSON.stringify({ bench: 'cloudstack-api-vms', figure: 'setup: create the VMs and write their status in the apiserver', unit: 's', value: round(setupSeconds), ...common }));
  const baseline = summary(samples['baseline']!);
  const zones = summary(samples['listZones']!);
  for (const [figure, measurements] of Object.entries(samples)) {
    const s = summary(measurements);
    const name = figure === 'baseline' ? 'empty express handler (baseline)' : `signed GET ${figure}`;
    console.log(JSON.stringify({ bench: 'cloudstack-api-vms', figure: name, unit: 'ms', value: s.p99Ms, ...s, p50OverBaselineMs: round(s.p50Ms - baseline.p50Ms), p99OverListZonesMs: round(s.p99Ms - zones.p99Ms), ...common }));
    if (s.failures > 0) process.exitCode = 1;
  }
  const apiRate = median(deployed.api);
  const rawRate = median(deployed.raw);
  console.log(JSON.stringify({ bench: 'cloudstack-api-vms', figure: 'deployVirtualMachine accepted per second (signed GET, VM and AsyncJob created as the caller)', unit: 'deploys/s', value: round(apiRate), failures: deployFailures, deploysPerRound: deploys, deployConcurrency, ...common }));
  console.log(JSON.stringify({ bench: 'cloudstack-api-vms', figure: 'raw VirtualMachine creates per second (apiserver, same objects and concurrency; baseline)', unit: 'creates/s', value: round(rawRate), ratioApiOverRaw: round(apiRate / rawRate), deploysPerRound: deploys, deployConcurrency, ...common }));
  if (deployFailures > 0) process.exitCode = 1;
}

if (process.argv[2] === 'serve') await serve(process.argv[3] ?? 'api', process.argv[4] ?? '');
else await main();
