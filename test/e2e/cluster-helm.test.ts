import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { copyFile, mkdir, readdir, readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { assertRoute } from '../../lib/controlplane/node-network.ts';
import { errorMessage } from '../../lib/error-message.ts';
import { isNotFound, type KubeObject, type ResourceType } from '../../lib/kube-client.ts';
import { log } from '../../lib/log.ts';
import { libvirtDriver, type LibvirtDriver } from '../../node-daemon/drivers/hypervisor/libvirt.ts';
import { ensureGuestTemplate } from '../../node-daemon/guest-template/build.ts';
import { registerGuestTemplate } from '../../node-daemon/guest-template/register.ts';
import { buildImages } from '../../packaging/images.ts';
import { applyManifests, parseManifests } from '../support/manifests.ts';
import { missingNodeCapability, startRealCluster, type RealCluster } from '../support/real-node.ts';
import { guestDomainType, guestDomainTypeNote } from '../support/guest-domain-type.ts';
import { until } from '../support/until.ts';

/**
 * Kumulus installed with its Helm chart into a real cluster: the control plane of the harness
 * plus a real node (containerd, kubelet, kube-proxy) in a network namespace, with the images
 * `npm run image` builds. The operator, webhooks and API pods become Ready, the agent
 * DaemonSet's pod runs privileged on the labelled node and joins it as a Host that comes Up;
 * examples/vm's web-1 runs there through that agent; a CloudStack client reaches the API
 * through its Service; `helm upgrade` to a rebuilt agent image replaces the agent's pod while
 * web-1 keeps its domain and QEMU process; and `helm uninstall` leaves nothing on the node.
 * The harness's own teardown check (no process, mount, link, namespace or rule left on the
 * host) runs last.
 */

const exec = promisify(execFile);

const repoRoot = join(import.meta.dirname, '..', '..');
const chart = join(repoRoot, 'charts', 'kumulus');
const NS = 'kumulus-system';

const type = (group: string, version: string, plural: string, kind: string, namespaced: boolean): ResourceType => ({ group, version, plural, kind, namespaced });
const PODS = type('', 'v1', 'pods', 'Pod', true);
const NODES = type('', 'v1', 'nodes', 'Node', false);
const SERVICES = type('', 'v1', 'services', 'Service', true);
const DAEMONSETS = type('apps', 'v1', 'daemonsets', 'DaemonSet', true);
const SECRETS = type('', 'v1', 'secrets', 'Secret', true);
const HOSTS = type('infra.kumulus.io', 'v1alpha1', 'hosts', 'Host', false);
const WEBHOOK_CONFIGS = type('admissionregistration.k8s.io', 'v1', 'validatingwebhookconfigurations', 'ValidatingWebhookConfiguration', false);
const CLUSTER_ROLES = type('rbac.authorization.k8s.io', 'v1', 'clusterroles', 'ClusterRole', false);
const NAMESPACES = type('', 'v1', 'namespaces', 'Namespace', false);
const VMS = type('compute.kumulus.io', 'v1alpha1', 'virtualmachines', 'VirtualMachine', true);

type Vm = KubeObject & { status?: { state?: string; powerState?: string; startedAt?: string; conditions?: { type: string; status: string }[] } };

/** Where the examples keep storage: the chart's default agent.dataDir. */
const EXAMPLES_DATA_DIR = '/var/lib/kumulus/';

/**
 * An example folder's objects as this node runs them: here the chart's agent.dataDir is the
 * node's own data folder, so the examples' storage paths under /var/lib/kumulus move there.
 */
async function exampleObjects(folder: string, dataDir: string): Promise<KubeObject[]> {
  const dir = join(repoRoot, 'examples', folder);
  const objects: KubeObject[] = [];
  for (const file of (await readdir(dir)).filter((f) => f.endsWith('.yaml')).sort()) {
    objects.push(...parseManifests((await readFile(join(dir, file), 'utf8')).replaceAll(EXAMPLES_DATA_DIR, `${dataDir}/`)));
  }
  return objects;
}

type Pod = KubeObject & {
  spec: { nodeName?: string; hostNetwork?: boolean; containers: { image: string }[] };
  status?: { phase?: string; conditions?: { type: string; status: string }[]; containerStatuses?: { restartCount: number; imageID: string }[] };
};

const ready = (pod: Pod) => pod.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') === true;

describe('Kumulus on a real node: helm install, the agent DaemonSet, helm uninstall', function () {
  this.timeout(600_000);
  let cluster: RealCluster | undefined;
  let installed = false;
  let installStarted = 0;
  let netnsBefore: string[] = [];
  let hypervisor: LibvirtDriver;
  let web1: { uid: string; pid: number; startedAt: string } | undefined;
  /** Why a domain is in its state, from libvirt and QEMU's own log: an assertion on its state says it on failure. */
  const domainReport = async (uid: string): Promise<string> => {
    const name = (await hypervisor.observe(uid))?.name ?? uid;
    const reason = await exec('virsh', ['-c', cluster!.libvirtd.uri, 'domstate', '--reason', name]).then((r) => r.stdout.trim(), (err: unknown) => String(err));
    const qemuLog = await readFile(join(dirname(cluster!.libvirtSocketDir), 'log', 'qemu', `${name}.log`), 'utf8').catch((err: unknown) => String(err));
    return `domstate: ${reason}; QEMU log: ${qemuLog.split('\n').slice(-15).join('\n')}`;
  };
  const hostNetns = async () => (await exec('ip', ['netns', 'list'])).stdout.split('\n').map((l) => l.split(' ')[0] ?? '').filter(Boolean).sort();

  const pods = async (component?: string) =>
    (await cluster!.client.resource<Pod>(PODS).list({ namespace: NS, labelSelector: `app.kubernetes.io/instance=kumulus${component ? `,app.kubernetes.io/component=${component}` : ''}` })).items;

  before(async function () {
    // Cold: the node binaries, helm and the images are built once (about 30 minutes on 2 cores).
    this.timeout(3_600_000);
    const missing = await missingNodeCapability();
    if (missing) {
      console.log(`      SKIP: this machine lacks ${missing}`);
      this.skip();
    }
    cluster = await startRealCluster();
    hypervisor = libvirtDriver({ uri: cluster.libvirtd.uri, domainType: guestDomainType, logger: log.child({ test: 'cluster-helm' }) });
    console.log(`      ${guestDomainTypeNote()}`);
  });

  after(async function () {
    this.timeout(300_000);
    if (!cluster) return;
    if (installed) await cluster.helm(['uninstall', 'kumulus', '--namespace', NS, '--wait', '--timeout', '3m']).catch(() => undefined);
    const left = await cluster.stop();
    expect(left, 'left behind by the real node').to.deep.equal([]);
  });

  it('installs: operator, webhooks and API Ready; the agent runs privileged on the labelled node, joins, and its Host comes Up', async function () {
    const c = cluster!;
    const { kumulus, agent } = c.images;
    installStarted = Date.now();
    const started = installStarted;
    netnsBefore = await hostNetns();
    await c.helm([
      'install', 'kumulus', chart,
      '--namespace', NS, '--create-namespace',
      '--set', `image.repository=${kumulus.repository}`, '--set', `image.tag=${kumulus.tag}`, '--set', 'image.pullPolicy=Never',
      '--set', `agent.image.repository=${agent.repository}`, '--set', `agent.image.tag=${agent.tag}`, '--set', 'agent.image.pullPolicy=Never',
      // Two cores: one replica each is enough to prove the pods work.
      '--set', 'operator.replicas=1', '--set', 'webhooks.replicas=1', '--set', 'api.replicas=1',
      '--set', `agent.libvirt.socketDir=${c.libvirtSocketDir}`, '--set', `agent.libvirt.uri=${c.libvirtd.uri}`,
      '--set', `agent.dataDir=${c.dataDir}`, '--set', `agent.stateDir=${join(c.dataDir, 'agent')}`,
      '--set', 'agent.cluster=cluster1', '--set', `agent.vtepAddress=${c.node.address}`, '--set', `agent.domainType=${guestDomainType}`,
    ]);
    installed = true;
    // Not `helm --wait`: the agent is Ready only once it has joined, which needs the zone below.
    for (const component of ['webhooks', 'operator', 'api']) {
      const pod = await until(`the ${component} pod to be Ready`, 300_000, async () => {
        const [first, ...more] = await pods(component);
        return first && more.length === 0 && ready(first) ? first : undefined;
      }, 1000);
      expect(pod.spec.hostNetwork, component).to.equal(undefined);
      // The operator and the API start before the webhooks serve: they wait for them, never exit.
      expect(pod.status?.containerStatuses?.[0]?.restartCount, `${component} restarts`).to.equal(0);
    }
    const installedSeconds = (Date.now() - started) / 1000;
    // The agent runs only on nodes labelled as hypervisors: none yet.
    const unlabelled = await until('the DaemonSet controller to look at the node', 60_000, async () => {
      const ds = await c.client.resource<KubeObject & { status?: { observedGeneration?: number; desiredNumberScheduled?: number } }>(DAEMONSETS).get({ namespace: NS, name: 'kumulus-agent' });
      return ds.status?.observedGeneration !== undefined ? ds : undefined;
    });
    expect(unlabelled.status?.desiredNumberScheduled).to.equal(0);
    expect(await pods('agent')).to.have.length(0);
    await c.client.resource(NODES).patch({ name: c.node.name }, { metadata: { labels: { 'kumulus.io/hypervisor': 'true' } } });

    // The zone the agent joins; the webhooks now admit it (failure policy Fail).
    const zone = await exampleObjects('zone-advanced', c.dataDir);
    const pool = zone.find((o) => o.kind === 'PrimaryStorage') as (KubeObject & { spec: { path: string } }) | undefined;
    expect(pool?.spec.path, 'the examples\' SharedMountPoint is the node\'s mount point').to.equal(c.primaryDir);
    await applyManifests(c.client, zone, { fieldManager: 'e2e' });
    const host = await until('the node\'s Host to be Up', 240_000, async () => {
      const h = await c.client.resource<KubeObject & { status?: { state?: string } }>(HOSTS).get({ name: c.node.name }).catch(() => undefined);
      return h?.status?.state === 'Up' ? h : undefined;
    }, 500);
    const hostUpSeconds = (Date.now() - started) / 1000;
    console.log(`      ${JSON.stringify({ figure: 'helm-install-to-host-up', installedSeconds, hostUpSeconds })}`);
    expect(host.metadata.labels?.['kumulus.io/cluster']).to.equal('cluster1');

    // Its readiness probe passes once it has joined (probed every 5 s).
    const agentPod = await until('the agent pod to be Ready', 60_000, async () => {
      const [first, ...more] = await pods('agent');
      return first && more.length === 0 && ready(first) ? first : undefined;
    }, 1000);
    expect(agentPod.spec.nodeName).to.equal(c.node.name);
    expect(agentPod.spec.hostNetwork).to.equal(true);
    expect(agentPod.spec.containers[0]?.image).to.equal(agent.ref);
  });

  it('runs examples/vm: web-1 reaches Running through the DaemonSet agent, its QEMU on the node', async function () {
    const c = cluster!;
    // What `npm start` registers as kumulus-public/kumulus-guest, served from the node's data folder.
    const guest = await ensureGuestTemplate({ logger: log });
    const templateFile = join(c.dataDir, 'templates', 'kumulus-guest.qcow2');
    await mkdir(join(c.dataDir, 'templates'), { recursive: true });
    await copyFile(guest.path, templateFile);
    await registerGuestTemplate(c.client, { ...guest, path: templateFile });
    const applied = await applyManifests(c.client, await exampleObjects('vm', c.dataDir), { fieldManager: 'e2e' });
    const uid = applied.find((o) => o.kind === 'VirtualMachine')?.metadata.uid ?? '';
    const vm = await until('web-1 to be Running', 300_000, async () => {
      const got = await c.client.resource<Vm>(VMS).get({ namespace: 'demo', name: 'web-1' });
      return got.status?.state === 'Running' && got.status.conditions?.some((k) => k.type === 'Ready' && k.status === 'True') ? got : undefined;
    }, 1000);
    console.log(`      ${JSON.stringify({ figure: 'helm-install-to-web-1-running', seconds: (Date.now() - installStarted) / 1000 })}`);
    expect(vm.status?.powerState).to.equal('PowerOn');
    const domain = await hypervisor.observe(uid);
    expect(domain?.state).to.equal('running');
    expect(domain?.pid).to.be.a('number');
    // The node's libvirtd started it: its QEMU lives in the node's network namespace.
    const [qemuNet, nodeNet] = await Promise.all([exec('readlink', [`/proc/${domain?.pid}/ns/net`]), exec('stat', ['-L', '-c', 'net:[%i]', c.network.netnsPath])]);
    expect(qemuNet.stdout.trim()).to.equal(nodeNet.stdout.trim());
    web1 = { uid, pid: domain?.pid ?? 0, startedAt: vm.status?.startedAt ?? '' };
    expect(web1.startedAt).to.match(/^\d{4}-/);

    // The guest boots, reads the config drive the agent in its pod made (host name, key, user
    // data), and leases its address from the network's DHCP service, which that agent runs.
    const serialLog = join(c.dataDir, 'agent', 'consoles', `${uid}.log`);
    const serial = await until('web-1 to boot, run its user data and lease its address', 300_000, async () => {
      const text = await readFile(serialLog, 'utf8').catch(() => '');
      return text.includes('kumulus-guest: lease') && text.includes('kumulus-guest: user-data exit') ? text : undefined;
    }, 2000).catch(async (err: unknown) => {
      throw new Error(`${errorMessage(err)}; ${await domainReport(uid)}; serial log: ${(await readFile(serialLog, 'utf8').catch(() => '')).slice(-2000)}`);
    });
    console.log(`      ${JSON.stringify({ figure: 'helm-install-to-web-1-leased', seconds: (Date.now() - installStarted) / 1000, domainType: guestDomainType })}`);
    expect(serial).to.include('kumulus-guest: config-drive hostname=web-1 ssh-key=demo@example');
    expect(serial).to.include('kumulus-guest: user-data: hello from web-1');
    const lease = serial.split('\n').find((l) => l.includes('kumulus-guest: lease'));
    expect(lease).to.include('eth0 ip=10.1.1.10/24').and.to.include('router=10.1.1.1').and.to.include('hostname=web-1');
  });

  it('serves a CloudStack client through the API Service', async function () {
    const c = cluster!;
    const service = await c.client.resource<KubeObject & { spec: { clusterIP: string; ports: { port: number }[] } }>(SERVICES).get({ namespace: NS, name: 'kumulus-api' });
    const { clusterIP } = service.spec;
    // Inside the node, a Service address is only ever DNATed by kube-proxy: it never leaves.
    await assertRoute(clusterIP, { type: 'unicast', dev: 'lo' }, c.network.netns);
    expect(clusterIP.startsWith('10.96.'), clusterIP).to.equal(true);
    const secret = await c.client.resource<KubeObject & { data: Record<string, string> }>(SECRETS).get({ namespace: NS, name: 'kumulus-admin-credentials' });
    const decode = (key: string) => Buffer.from(secret.data[key] ?? '', 'base64').toString('utf8');
    // The Python cs client: PyPI installs it as `cs`, Debian as `cloudstack`.
    const cs = (await c.inNode(['sh', '-c', 'command -v cs || command -v cloudstack'])).trim();
    const env = {
      HOME: '/nonexistent',
      CLOUDSTACK_ENDPOINT: `http://${clusterIP}:${service.spec.ports[0]?.port}/client/api`,
      CLOUDSTACK_KEY: decode('apiKey'),
      CLOUDSTACK_SECRET: decode('secretKey'),
    };
    const out = await c.inNode([cs, 'listZones'], env);
    const zones = (JSON.parse(out) as { zone?: { name: string }[] }).zone ?? [];
    expect(zones.map((z) => z.name)).to.include('Zone 1');
    const vms = JSON.parse(await c.inNode([cs, 'listVirtualMachines', 'listall=true'], env)) as { virtualmachine?: { id: string; name: string; state: string }[] };
    expect(vms.virtualmachine?.find((v) => v.id === web1?.uid), 'web-1 through the API').to.include({ state: 'Running' });
  });

  it('upgrades to a rebuilt agent image: the agent pod is replaced, and web-1 keeps its domain and QEMU process', async function () {
    const c = cluster!;
    const before = web1!;
    const running = await hypervisor.observe(before.uid);
    expect(running?.state, `web-1 before the upgrade: ${await domainReport(before.uid)}`).to.equal('running');
    // "Rebuilt": the same content with another label is another image, imported like the first.
    const rebuilt = (await buildImages({ logger: log, labels: { 'io.kumulus.test': 'upgrade' } })).agent;
    expect(rebuilt.ref).not.to.equal(c.images.agent.ref);
    await c.node.importImage(rebuilt);
    const [oldPod] = await pods('agent');
    await c.helm(['upgrade', 'kumulus', chart, '--namespace', NS, '--reuse-values', '--set', `agent.image.tag=${rebuilt.tag}`, '--wait', '--timeout', '5m']);
    const newPod = await until('the agent pod on the rebuilt image to be Ready', 180_000, async () => {
      const [pod, ...more] = await pods('agent');
      return pod && more.length === 0 && pod.metadata.uid !== oldPod?.metadata.uid && ready(pod) ? pod : undefined;
    }, 1000);
    expect(newPod.spec.containers[0]?.image).to.equal(rebuilt.ref);
    const after = await hypervisor.observe(before.uid);
    console.log(`      ${JSON.stringify({ figure: 'agent-upgrade-qemu-pid', before: before.pid, after: after?.pid })}`);
    expect(after?.state, `web-1 after the upgrade: ${await domainReport(before.uid)}`).to.equal('running');
    expect(after?.pid, 'the same QEMU process').to.equal(before.pid);
    const vm = await c.client.resource<Vm>(VMS).get({ namespace: 'demo', name: 'web-1' });
    expect(vm.status?.state).to.equal('Running');
    expect(vm.status?.powerState).to.equal('PowerOn');
    expect(vm.status?.startedAt, 'never restarted').to.equal(before.startedAt);
  });

  it('uninstalls: no pod of the release, no webhook configuration, no RBAC left; nothing left on the node', async function () {
    const c = cluster!;
    // The cloud's own objects first: the agent removes their domains, disks and networks.
    await c.client.resource(NAMESPACES).delete({ name: 'demo' });
    await until('the demo namespace (web-1, its volumes and network) to be gone', 180_000, async () =>
      c.client.resource(NAMESPACES).get({ name: 'demo' }).then(() => undefined, (err: unknown) => (isNotFound(err) ? true : Promise.reject(err as Error))), 1000);
    expect(await hypervisor.list()).to.deep.equal([]);
    await c.helm(['uninstall', 'kumulus', '--namespace', NS, '--wait', '--timeout', '3m']);
    installed = false;
    await until('the release\'s pods to be gone', 120_000, async () => ((await pods()).length === 0 ? true : undefined), 500);
    const configs = (await c.client.resource(WEBHOOK_CONFIGS).list({})).items.map((w) => w.metadata.name);
    expect(configs).not.to.include('kumulus');
    const roles = (await c.client.resource(CLUSTER_ROLES).list({ labelSelector: 'app.kubernetes.io/instance=kumulus' })).items;
    expect(roles.map((r) => r.metadata.name)).to.deep.equal([]);
    // On the node: the CRI holds no pod sandbox any more, libvirt no domain.
    await until('the node\'s pod sandboxes to be removed', 120_000, async () => ((await c.node.crictl(['pods', '-q'])).trim() === '' ? true : undefined), 1000);
    const links = (await c.inNode(['ip', '-o', 'link', 'show'])).split('\n').filter(Boolean).map((l) => l.split(':')[1]?.trim().split('@')[0]);
    expect(links.filter((l) => l !== 'lo' && l !== c.network.nodeLink && l !== 'cni0' && !c.trafficBridges.includes(l ?? ''))).to.deep.equal([]);
    // The guest networks' service namespaces went with them.
    expect(await hostNetns()).to.deep.equal(netnsBefore);
  });
});
