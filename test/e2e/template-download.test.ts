import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { expect } from 'chai';
import { prepareInfrastructure, registerInfrastructureControllers } from '../../controllers/infrastructure.ts';
import { registerTemplateController } from '../../controllers/template.ts';
import { HOST_LEASE_NAMESPACE, templateDownloadLeaseName } from '../../lib/agent-contract.ts';
import { installCrds, readCrdManifests } from '../../lib/install-crds.ts';
import { createKubeClient, isNotFound, type KubeClient, type KubeObject, type ResourceClient } from '../../lib/kube-client.ts';
import { LEASES } from '../../lib/leader-election.ts';
import { log } from '../../lib/log.ts';
import { createManager, type Manager } from '../../lib/manager.ts';
import { commandRunner } from '../../node-daemon/drivers/exec.ts';
import { runAgent, type RunningAgent } from '../../node-daemon/main.ts';
import { RESOURCES } from '../../node-daemon/resources.ts';
import { sharedKubeConfig } from '../support/cluster.ts';
import { until } from '../support/until.ts';

/**
 * Templates end to end on the real control plane, with two agents (simulator hypervisor) on
 * two hosts of one zone and the operator's Template controller: exactly one agent downloads
 * each template into the zone's secondary storage (over http from a loopback server, or from
 * a file), with progress and the checksum and format verified; every failure ends in
 * DOWNLOAD_ERROR naming its cause, with no file left behind; pools fill their caches from
 * secondary storage, not from the URL; a template deleted while in use waits for its last user,
 * then its copies go. The agents run under the host lock: an agent's first network sync
 * reaches the host's links.
 */

interface Condition {
  type: string;
  status: string;
  reason: string;
  message: string;
}
type ZoneEntry = { zone: string; downloadState: string; downloadPercent: number; sizeBytes?: number; physicalSizeBytes?: number; storage?: string; installPath?: string; checksum?: string; message?: string };
type Obj = KubeObject & {
  spec?: Record<string, unknown>;
  status?: Record<string, unknown> & { state?: string; conditions?: Condition[]; zones?: ZoneEntry[]; pools?: { pool: string; state: string; sizeBytes?: number; message?: string }[]; isReady?: boolean };
};

const repoRoot = resolve(import.meta.dirname, '../..');
const NAMESPACES = { group: '', version: 'v1', plural: 'namespaces', kind: 'Namespace', namespaced: false };
const condition = (o: Obj | undefined, type: string) => o?.status?.conditions?.find((c) => c.type === type);

async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true }).catch(() => []);
  return entries.filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name));
}

describe('templates: one agent per zone downloads into secondary storage; pools fill from it; deletion waits for users (real control plane, two agents)', function () {
  this.timeout(300_000);
  const s = randomBytes(3).toString('hex');
  const ns = `tmpl-${s}`;
  const names = { zone: `zone-t${s}`, pod: `pod-t${s}`, cluster: `cluster-t${s}`, store: `images-t${s}`, offering: `so-t${s}` };
  const nodes = [`node-ta${s}`, `node-tb${s}`];
  let client: KubeClient;
  let operator: Manager | undefined;
  const agents: RunningAgent[] = [];
  let dir: string;
  let secondary: string;
  let server: Server;
  let base: string;
  let closedPort: number;
  const requests = new Map<string, number>();
  const clusterScoped: { kind: keyof typeof RESOURCES; name: string }[] = [];
  let qcow2: { path: string; sha256: string; md5: string; bytes: number };
  const res = (kind: keyof typeof RESOURCES) => client.resource<Obj>(RESOURCES[kind]);
  const templates = () => res('templates');

  const template = async (name: string, spec: Record<string, unknown>) =>
    templates().create({ metadata: { name, namespace: ns }, spec: { format: 'QCOW2', zoneRefs: [{ name: names.zone }], ...spec } });
  const entryOf = (t: Obj | undefined) => t?.status?.zones?.find((z) => z.zone === names.zone);
  const settled = async (name: string) =>
    until(`Template ${name} to finish downloading`, 120_000, async () => {
      const t = await templates().get({ name, namespace: ns });
      const state = entryOf(t)?.downloadState;
      return state === 'DOWNLOADED' || state === 'DOWNLOAD_ERROR' ? t : undefined;
    });
  const leaseHolder = async () =>
    (await client.resource<KubeObject & { spec?: { holderIdentity?: string } }>(LEASES).get({ namespace: HOST_LEASE_NAMESPACE, name: templateDownloadLeaseName(names.zone) })).spec?.holderIdentity;

  before(async function () {
    this.timeout(600_000);
    const kc = await sharedKubeConfig();
    await installCrds(kc, await readCrdManifests(join(repoRoot, 'crds')), log);
    client = createKubeClient(kc);
    for (const name of [HOST_LEASE_NAMESPACE, ns]) await client.resource(NAMESPACES).create({ metadata: { name } }).catch(() => undefined);
    dir = await mkdtemp(join(tmpdir(), 'kumulus-templates-'));
    secondary = join(dir, 'secondary');

    // The images: a qcow2 with 4 MiB of data, and the same data raw (a format mismatch).
    const raw = join(dir, 'images', 'data.raw');
    await mkdir(join(dir, 'images'));
    await writeFile(raw, randomBytes(4 * 2 ** 20));
    const path = join(dir, 'images', 'disk.qcow2');
    await commandRunner()(['qemu-img', 'convert', '-q', '-f', 'raw', '-O', 'qcow2', raw, path]);
    await commandRunner()(['qemu-img', 'resize', '-q', '-f', 'qcow2', path, '64M']);
    const bytes = await readFile(path);
    qcow2 = { path, sha256: createHash('sha256').update(bytes).digest('hex'), md5: createHash('md5').update(bytes).digest('hex'), bytes: bytes.length };

    // A loopback HTTP server: /slow/ trickles the file out in 64 KiB steps, so progress shows.
    server = createServer((req, res) => {
      const url = req.url ?? '';
      requests.set(url, (requests.get(url) ?? 0) + 1);
      const file = url.endsWith('.raw') ? raw : url.endsWith('.qcow2') && !url.includes('missing') ? path : undefined;
      if (!file) {
        res.writeHead(404).end('not here');
        return;
      }
      void stat(file).then(async (info) => {
        res.writeHead(200, { 'content-length': info.size, 'content-type': 'application/octet-stream' });
        if (!url.startsWith('/slow/')) {
          createReadStream(file).pipe(res);
          return;
        }
        const data = await readFile(file);
        for (let at = 0; at < data.length && !res.destroyed; at += 65536) {
          res.write(data.subarray(at, at + 65536));
          await sleep(40);
        }
        res.end();
      });
    });
    await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
    const address = (server.address() as AddressInfo).address;
    expect((await commandRunner()(['ip', 'route', 'get', address])).stdout, 'the image server is on this machine').to.match(/^local /);
    base = `http://${address}:${(server.address() as AddressInfo).port}`;
    // A port that was just free: nothing answers there.
    const probe = createServer();
    await new Promise<void>((done) => probe.listen(0, '127.0.0.1', done));
    closedPort = (probe.address() as AddressInfo).port;
    await new Promise((done) => probe.close(done));

    operator = createManager({ kubeConfig: kc, eventSource: 'kumulus.io/operator', httpBindAddress: '127.0.0.1:0', logger: log.child({ test: 'templates' }) });
    registerTemplateController(operator, registerInfrastructureControllers(operator));
    await prepareInfrastructure(client);
    await operator.start();

    const create = async (kind: keyof typeof RESOURCES, name: string, spec: Record<string, unknown>) => {
      await res(kind).create({ metadata: { name }, spec });
      clusterScoped.push({ kind, name });
    };
    await create('zones', names.zone, { networkType: 'Advanced', dns1: '8.8.8.8', internalDns1: '192.168.100.2' });
    await create('pods', names.pod, { zoneRef: { name: names.zone }, gateway: '192.168.100.1', netmask: '255.255.255.0', startIp: '192.168.100.10' });
    await create('clusters', names.cluster, { podRef: { name: names.pod }, hypervisor: 'Simulator' });
    await create('secondaryStorages', names.store, { zoneRef: { name: names.zone }, provider: 'Local', url: `file://${secondary}` });
    for (const [i, node] of nodes.entries()) {
      await create('primaryStorages', `pool-${i}-t${s}`, { zoneRef: { name: names.zone }, scope: 'Host', hostRef: { name: node }, protocol: 'Local', path: join(dir, `pool-${i}`) });
    }
    await create('serviceOfferings', names.offering, { cpuNumber: 1, cpuSpeed: 500, memory: '128Mi' });
    for (const node of nodes) {
      agents.push(
        await runAgent({
          kubeConfig: kc,
          handleSignals: false,
          env: { NODE_NAME: node },
          args: ['--http-bind-address=127.0.0.1:0', '--hypervisor=simulator', `--cluster=${names.cluster}`, `--state-dir=${join(dir, node)}`, '--log-level=warn'],
        }),
      );
    }
    await Promise.all(agents.map((a) => a.joined));
  });

  after(async function () {
    this.timeout(120_000);
    for (const agent of agents) await agent.stop();
    await operator?.stop();
    server?.close();
    for (const kind of ['vms', 'volumes', 'templates'] as const) {
      for (const o of (await res(kind).list({ namespace: ns }).catch(() => ({ items: [] as Obj[] }))).items) {
        await res(kind).patch({ name: o.metadata.name ?? '', namespace: ns }, { metadata: { finalizers: null } }).catch(() => undefined);
      }
    }
    await client?.resource(NAMESPACES).delete({ name: ns }).catch(() => undefined);
    for (const { kind, name } of clusterScoped.reverse()) await res(kind).delete({ name }).catch(() => undefined);
    for (const node of nodes) await res('hosts').delete({ name: node }).catch(() => undefined);
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('exactly one agent of the zone, the Lease holder, downloads over http, showing progress, and the operator makes the template Ready', async function () {
    await template('slow', { url: `${base}/slow/disk.qcow2`, checksum: `{SHA-256}${qcow2.sha256}` });
    const seen: string[] = [];
    const done = await until('Template slow to be downloaded', 120_000, async () => {
      const t = await templates().get({ name: 'slow', namespace: ns });
      const entry = entryOf(t);
      if (entry) seen.push(`${entry.downloadState} ${entry.downloadPercent}`);
      return entry?.downloadState === 'DOWNLOADED' ? t : undefined;
    }, 100);
    const progress = [...new Set(seen)];
    console.log(`      states seen: ${progress.join(', ')}`);
    expect(progress.some((p) => /^DOWNLOAD_IN_PROGRESS ([1-9]|[1-9]\d)$/.test(p)), 'a percentage between 0 and 100 was reported').to.equal(true);
    expect(requests.get('/slow/disk.qcow2'), 'two agents, one download').to.equal(1);
    const holder = await leaseHolder();
    expect(nodes).to.include(holder);
    console.log(`      downloaded by ${holder}, the holder of Lease ${templateDownloadLeaseName(names.zone)}`);

    const entry = entryOf(done);
    expect(entry).to.deep.include({ downloadPercent: 100, sizeBytes: 64 * 2 ** 20, physicalSizeBytes: qcow2.bytes, storage: names.store, checksum: `{SHA-256}${qcow2.sha256}` });
    const file = join(secondary, entry?.installPath ?? '');
    expect(createHash('sha256').update(await readFile(file)).digest('hex')).to.equal(qcow2.sha256);
    expect(await filesUnder(secondary)).to.deep.equal([file]);

    const ready = await until('the operator to make Template slow Ready', 30_000, async () => {
      const t = await templates().get({ name: 'slow', namespace: ns });
      return condition(t, 'Ready')?.status === 'True' ? t : undefined;
    });
    expect(ready.status).to.deep.include({ state: 'Active', isReady: true });
    expect(condition(ready, 'InUse')).to.deep.include({ status: 'False' });
    expect(condition(ready, 'Synced')).to.deep.include({ status: 'True' });
  });

  it('downloads from a file:// URL and verifies a bare MD5 checksum, as CloudStack accepts it', async function () {
    await template('md5', { url: `file://${qcow2.path}`, checksum: qcow2.md5 });
    const t = await settled('md5');
    expect(entryOf(t)).to.deep.include({ downloadState: 'DOWNLOADED', downloadPercent: 100, checksum: `{SHA-256}${qcow2.sha256}` });
  });

  it('prepares a template on the pools spec.preparePools lists before any VM needs it (prepareTemplate), each agent filling its own', async function () {
    const pools = nodes.map((_, i) => `pool-${i}-t${s}`);
    const copies = async () => (await Promise.all(nodes.map((_, i) => filesUnder(join(dir, `pool-${i}`, '.kumulus-templates'))))).flat().filter((f) => f.endsWith('.qcow2'));
    const md5 = await templates().get({ name: 'md5', namespace: ns });
    const uid = md5.metadata.uid ?? '';
    expect((await copies()).filter((f) => f.includes(uid)), 'nothing cached before it is asked').to.deep.equal([]);
    await templates().patch({ name: 'md5', namespace: ns }, { spec: { preparePools: pools.map((name) => ({ name })) } });
    const prepared = await until('both pools to report the prepared copy', 60_000, async () => {
      const o = await templates().get({ name: 'md5', namespace: ns });
      return pools.every((p) => o.status?.pools?.some((e) => e.pool === p && e.state === 'Ready')) ? o : undefined;
    });
    for (const p of pools) expect(prepared.status?.pools?.find((e) => e.pool === p)).to.deep.include({ state: 'Ready', sizeBytes: 64 * 2 ** 20 });
    const files = (await copies()).filter((f) => f.includes(uid));
    expect(files).to.have.length(2);
    for (const f of files) expect(createHash('sha256').update(await readFile(f)).digest('hex')).to.equal(qcow2.sha256);

    // Not in use: deleting it removes the prepared copies too.
    await templates().delete({ name: 'md5', namespace: ns });
    await until('the prepared copies to go with the template', 60_000, async () => ((await copies()).some((f) => f.includes(uid)) ? undefined : true));
  });

  const failures = [
    { name: 'badsum', what: 'a bad checksum', spec: () => ({ url: `${base}/disk.qcow2`, checksum: `{SHA-256}${'0'.repeat(64)}` }), cause: /^bad checksum: expected \{SHA-256\}0{64}, .* have \{SHA-256\}[0-9a-f]{64}/ },
    { name: 'badformat', what: 'a raw image registered as QCOW2', spec: () => ({ url: `file://${join(dir, 'images', 'data.raw')}` }), cause: /^format mismatch: qemu-img info says the image is raw, but the template says QCOW2/ },
    { name: 'unreachable', what: 'a URL nothing answers', spec: () => ({ url: `http://127.0.0.1:${closedPort}/disk.qcow2` }), cause: /^unreachable URL: http:\/\/127\.0\.0\.1:\d+\/disk\.qcow2: fetch failed: .*ECONNREFUSED/ },
    { name: 'notfound', what: 'a URL that answers 404', spec: () => ({ url: `${base}/missing.qcow2` }), cause: /^unreachable URL: GET .*missing\.qcow2 answered 404/ },
    { name: 'nofile', what: 'a file that does not exist', spec: () => ({ url: `file://${join(dir, 'images', 'gone.qcow2')}` }), cause: /^unreachable URL: file:.*gone\.qcow2: ENOENT/ },
  ];
  for (const failure of failures) {
    it(`ends ${failure.what} in DOWNLOAD_ERROR naming the cause, with no file left anywhere`, async function () {
      const created = await template(failure.name, failure.spec());
      const t = await settled(failure.name);
      const entry = entryOf(t);
      expect(entry?.downloadState).to.equal('DOWNLOAD_ERROR');
      expect(entry?.message).to.match(failure.cause);
      expect(await filesUnder(join(secondary, 'template', 'tmpl', created.metadata.uid ?? '')), 'no partial file').to.deep.equal([]);
      const summed = await until('the operator to report the failure', 30_000, async () => {
        const o = await templates().get({ name: failure.name, namespace: ns });
        return condition(o, 'Synced')?.status === 'False' ? o : undefined;
      });
      expect(condition(summed, 'Ready')).to.deep.include({ status: 'False', reason: 'DownloadError' });
      expect(condition(summed, 'Synced')?.message).to.include(`zone ${names.zone}: download failed: `);
      expect(summed.status?.isReady).to.equal(false);
    });
  }

  it('fills a pool’s cache from secondary storage, not from the URL, and reports the pool’s copy', async function () {
    // The non-downloader's pool, so the copy crosses hosts through secondary storage.
    const holder = await leaseHolder();
    const node = nodes.find((n) => n !== holder) ?? '';
    const pool = `pool-${nodes.indexOf(node)}-t${s}`;
    const before = requests.get('/slow/disk.qcow2');
    await placeVm('web', node, 'slow');
    const volume = await until('the root volume to be made', 60_000, async () => {
      const v = await res('volumes').get({ name: 'web-root', namespace: ns });
      return v.status?.path ? v : undefined;
    });
    const info = JSON.parse((await commandRunner()(['qemu-img', 'info', '-U', '--output=json', volume.status?.path as string])).stdout) as { 'backing-filename'?: string };
    expect(info['backing-filename']).to.match(new RegExp(`^${join(dir, `pool-${nodes.indexOf(node)}`)}/\\.kumulus-templates/`));
    expect(requests.get('/slow/disk.qcow2'), 'no second download from the URL').to.equal(before);
    const t = await until('the pool copy to be reported', 30_000, async () => {
      const o = await templates().get({ name: 'slow', namespace: ns });
      return o.status?.pools?.some((p) => p.pool === pool) ? o : undefined;
    });
    expect(t.status?.pools?.find((p) => p.pool === pool)).to.deep.include({ state: 'Ready', sizeBytes: 64 * 2 ** 20 });
  });

  it('deleting a template still in use leaves it Inactive until the last user is gone, then removes every copy', async function () {
    const live = await templates().get({ name: 'slow', namespace: ns });
    const secondaryFile = join(secondary, entryOf(live)?.installPath ?? '');
    const poolCopies = (await Promise.all(nodes.map((_, i) => filesUnder(join(dir, `pool-${i}`, '.kumulus-templates'))))).flat().filter((f) => f.endsWith('.qcow2'));
    expect(poolCopies).to.have.length(1);

    await templates().delete({ name: 'slow', namespace: ns });
    const held = await until('the deleted template to be held', 30_000, async () => {
      const o = await templates().get({ name: 'slow', namespace: ns });
      return o.status?.state === 'Inactive' && condition(o, 'DeletionBlocked')?.status === 'True' ? o : undefined;
    });
    expect(condition(held, 'InUse')).to.deep.include({ status: 'True' });
    expect(condition(held, 'InUse')?.message).to.include(`VirtualMachine ${ns}/web`).and.include(`Volume ${ns}/web-root`);
    expect(condition(held, 'Ready')).to.deep.include({ status: 'False', reason: 'Deleting' });
    await sleep(3000);
    expect((await stat(secondaryFile)).isFile(), 'the copies stay while the template is used').to.equal(true);
    expect((await stat(poolCopies[0] ?? '')).isFile()).to.equal(true);

    await res('vms').delete({ name: 'web', namespace: ns });
    await until('the template to be gone', 90_000, async () =>
      templates()
        .get({ name: 'slow', namespace: ns })
        .then(
          () => undefined,
          (err: unknown) => (isNotFound(err) ? true : Promise.reject(err as Error)),
        ),
    );
    expect(await stat(secondaryFile).then(() => 'present', () => 'gone')).to.equal('gone');
    expect(await stat(poolCopies[0] ?? '').then(() => 'present', () => 'gone')).to.equal('gone');
  });

  async function placeVm(name: string, node: string, templateName: string): Promise<void> {
    const labels = { 'kumulus.io/host': node };
    const vms: ResourceClient<Obj> = res('vms');
    const vm = await vms.create({
      metadata: { name, namespace: ns },
      spec: { zoneRef: { name: names.zone }, serviceOfferingRef: { name: names.offering }, templateRef: { name: templateName, namespace: ns }, state: 'Running' },
    });
    const owner = [{ apiVersion: vm.apiVersion ?? '', kind: 'VirtualMachine', name, uid: vm.metadata.uid ?? '', controller: true, blockOwnerDeletion: true }];
    await res('volumes').create({
      metadata: { name: `${name}-root`, namespace: ns, labels, ownerReferences: owner },
      spec: { type: 'ROOT', zoneRef: { name: names.zone }, templateRef: { name: templateName, namespace: ns }, vmRef: { name }, deviceId: 0, size: '1Gi' },
    });
    // The operator's part (lib/agent-contract.ts): the root volume's pool, the VM's placement.
    await res('volumes').patchStatus({ name: `${name}-root`, namespace: ns }, { status: { pool: `pool-${nodes.indexOf(node)}-t${s}` } });
    await vms.patch({ name, namespace: ns }, { metadata: { labels } });
    await vms.patchStatus({ name, namespace: ns }, { status: { placement: { zone: names.zone, pod: names.pod, cluster: names.cluster, host: node } } });
  }
});
