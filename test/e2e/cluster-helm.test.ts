import { expect } from 'chai';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { assertRoute } from '../../lib/controlplane/node-network.ts';
import type { KubeObject, ResourceType } from '../../lib/kube-client.ts';
import { applyManifests, parseManifests } from '../support/manifests.ts';
import { missingNodeCapability, startRealCluster, type RealCluster } from '../support/real-node.ts';
import { until } from '../support/until.ts';

/**
 * Kumulus installed with its Helm chart into a real cluster: the control plane of the harness
 * plus a real node (containerd, kubelet, kube-proxy) in a network namespace, with the images
 * `npm run image` builds. The operator, webhooks and API pods become Ready, the agent
 * DaemonSet's pod runs privileged on the labelled node and joins it as a Host that comes Up, a
 * CloudStack client reaches the API through its Service, and `helm uninstall` leaves nothing
 * on the node. The harness's own teardown check (no process, mount, link, namespace or rule
 * left on the host) runs last.
 */

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


type Pod = KubeObject & {
  spec: { nodeName?: string; hostNetwork?: boolean; containers: { image: string }[] };
  status?: { phase?: string; conditions?: { type: string; status: string }[]; containerStatuses?: { restartCount: number; imageID: string }[] };
};

const ready = (pod: Pod) => pod.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') === true;

describe('Kumulus on a real node: helm install, the agent DaemonSet, helm uninstall', function () {
  this.timeout(600_000);
  let cluster: RealCluster | undefined;
  let installed = false;

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
    const started = Date.now();
    await c.helm([
      'install', 'kumulus', chart,
      '--namespace', NS, '--create-namespace',
      '--set', `image.repository=${kumulus.repository}`, '--set', `image.tag=${kumulus.tag}`, '--set', 'image.pullPolicy=Never',
      '--set', `agent.image.repository=${agent.repository}`, '--set', `agent.image.tag=${agent.tag}`, '--set', 'agent.image.pullPolicy=Never',
      // Two cores: one replica each is enough to prove the pods work.
      '--set', 'operator.replicas=1', '--set', 'webhooks.replicas=1', '--set', 'api.replicas=1',
      '--set', `agent.libvirt.socketDir=${c.libvirtSocketDir}`, '--set', `agent.libvirt.uri=${c.libvirtd.uri}`,
      '--set', `agent.dataDir=${c.dataDir}`, '--set', `agent.stateDir=${join(c.dataDir, 'agent')}`,
      '--set', 'agent.cluster=cluster1', '--set', `agent.vtepAddress=${c.node.address}`, '--set', 'agent.domainType=kvm',
    ]);
    installed = true;
    // Not `helm --wait`: the agent is Ready only once it has joined, which needs the zone below.
    for (const component of ['webhooks', 'operator', 'api']) {
      const pod = await until(`the ${component} pod to be Ready`, 300_000, async () => {
        const [first, ...more] = await pods(component);
        return first && more.length === 0 && ready(first) ? first : undefined;
      }, 1000);
      expect(pod.spec.hostNetwork, component).to.equal(undefined);
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
    for (const file of (await readdir(join(repoRoot, 'examples', 'zone-advanced'))).filter((f) => f.endsWith('.yaml')).sort()) {
      await applyManifests(c.client, parseManifests(await readFile(join(repoRoot, 'examples', 'zone-advanced', file), 'utf8')), { fieldManager: 'e2e' });
    }
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
    const out = await c.inNode([cs, 'listZones'], {
      HOME: '/nonexistent',
      CLOUDSTACK_ENDPOINT: `http://${clusterIP}:${service.spec.ports[0]?.port}/client/api`,
      CLOUDSTACK_KEY: decode('apiKey'),
      CLOUDSTACK_SECRET: decode('secretKey'),
    });
    const zones = (JSON.parse(out) as { zone?: { name: string }[] }).zone ?? [];
    expect(zones.map((z) => z.name)).to.include('Zone 1');
  });

  it('uninstalls: no pod of the release, no webhook configuration, no RBAC left; nothing left on the node', async function () {
    const c = cluster!;
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
    expect(links.filter((l) => l !== 'lo' && l !== c.network.nodeLink && l !== 'cni0')).to.deep.equal([]);
  });
});
