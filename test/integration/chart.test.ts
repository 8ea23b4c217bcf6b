import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { resolveHelm } from '../../lib/controlplane/index.ts';
import { createKubeClient, isAlreadyExists, type KubeClient, type KubeObject } from '../../lib/kube-client.ts';
import { log } from '../../lib/log.ts';
import { sharedKubeConfig } from '../support/cluster.ts';
import { applyManifests, parseManifests } from '../support/manifests.ts';

const exec = promisify(execFile);
const chart = join(import.meta.dirname, '..', '..', 'charts', 'kumulus');

/** helm's exit code and output, for the cases where failing is the point. */
async function helmResult(helm: string, args: string[]): Promise<{ code: number; output: string }> {
  try {
    const { stdout, stderr } = await exec(helm, args, { maxBuffer: 64 * 1024 * 1024 });
    return { code: 0, output: stdout + stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: e.code ?? 1, output: (e.stdout ?? '') + (e.stderr ?? '') };
  }
}

describe('Helm chart charts/kumulus', function () {
  this.timeout(120_000);
  let helm: string;
  let client: KubeClient;

  before(async function () {
    this.timeout(1_800_000);
    helm = await resolveHelm(log);
    client = createKubeClient(await sharedKubeConfig());
  });

  it('passes helm lint --strict with no warning', async () => {
    const { code, output } = await helmResult(helm, ['lint', '--strict', chart, '--namespace', 'kumulus-system']);
    expect(code, output).to.equal(0);
    expect(output).not.to.match(/\[(WARNING|ERROR)\]/);
  });

  it('renders, with its CRDs, into objects a real apiserver accepts (apply --dry-run=server)', async () => {
    const { code, output } = await helmResult(helm, ['template', 'kumulus', chart, '--namespace', 'kumulus-system', '--include-crds']);
    expect(code, output).to.equal(0);
    const docs = parseManifests(output);
    const kinds = docs.map((d) => d.kind);
    expect(kinds.filter((k) => k === 'CustomResourceDefinition').length).to.be.greaterThan(15);
    for (const kind of ['Deployment', 'DaemonSet', 'Service', 'ServiceAccount', 'ClusterRole', 'PodDisruptionBudget', 'MutatingWebhookConfiguration', 'ValidatingWebhookConfiguration']) {
      expect(kinds, kind).to.include(kind);
    }
    // Namespaces exist for real first (the release's comes from `helm install --create-namespace`,
    // the others from the chart): a dry-run namespace holds nothing, so nothing could be checked in it.
    const chartNamespaces = docs.filter((d) => d.kind === 'Namespace').map((d) => d.metadata.name ?? '');
    for (const name of ['kumulus-system', ...chartNamespaces]) {
      await client
        .resource({ group: '', version: 'v1', plural: 'namespaces', kind: 'Namespace', namespaced: false })
        .create({ metadata: { name } })
        .catch((err: unknown) => {
          if (!isAlreadyExists(err)) throw err;
        });
    }
    const applied = await applyManifests(client, docs, { fieldManager: 'chart-dry-run', dryRun: true });
    expect(applied.map((a) => `${a.kind}/${a.metadata.name}`)).to.deep.equal(docs.map((d) => `${d.kind}/${d.metadata.name}`));
    // Dry run: nothing was stored.
    const stored = await client
      .resource<KubeObject>({ group: 'apps', version: 'v1', plural: 'daemonsets', kind: 'DaemonSet', namespaced: true })
      .list({ namespace: 'kumulus-system' });
    expect(stored.items.map((d) => d.metadata.name)).not.to.include('kumulus-agent');
  });

  it('runs the agent privileged on the host network and PID namespace, and everything else non-root and read-only', async () => {
    const docs = parseManifests((await helmResult(helm, ['template', 'kumulus', chart, '--namespace', 'kumulus-system'])).output);
    type PodSpec = {
      hostNetwork?: boolean;
      hostPID?: boolean;
      nodeSelector?: Record<string, string>;
      securityContext?: { runAsNonRoot?: boolean };
      containers: { securityContext?: { privileged?: boolean; readOnlyRootFilesystem?: boolean; allowPrivilegeEscalation?: boolean } }[];
    };
    const workloads = docs.filter((d) => d.kind === 'Deployment' || d.kind === 'DaemonSet') as (KubeObject & { spec: { template: { spec: PodSpec } } })[];
    expect(workloads.map((w) => w.metadata.name).sort()).to.deep.equal(['kumulus-agent', 'kumulus-api', 'kumulus-operator', 'kumulus-webhooks']);
    for (const w of workloads) {
      const pod = w.spec.template.spec;
      if (w.kind === 'DaemonSet') {
        expect(pod.hostNetwork && pod.hostPID && pod.containers[0]?.securityContext?.privileged, w.metadata.name).to.equal(true);
        expect(pod.nodeSelector).to.deep.equal({ 'kumulus.io/hypervisor': 'true' });
      } else {
        expect(pod.securityContext?.runAsNonRoot, w.metadata.name).to.equal(true);
        expect(pod.containers[0]?.securityContext?.readOnlyRootFilesystem, w.metadata.name).to.equal(true);
        expect(pod.containers[0]?.securityContext?.allowPrivilegeEscalation, w.metadata.name).to.equal(false);
        expect(pod.hostNetwork, w.metadata.name).to.equal(undefined);
      }
    }
  });

  it('refuses bad values naming the field, and a namespace other than kumulus-system', async () => {
    const badLevel = await helmResult(helm, ['template', 'kumulus', chart, '--namespace', 'kumulus-system', '--set', 'logLevel=loud']);
    expect(badLevel.code).not.to.equal(0);
    expect(badLevel.output).to.include('/logLevel');
    const badReplicas = await helmResult(helm, ['template', 'kumulus', chart, '--namespace', 'kumulus-system', '--set', 'operator.replicas=-1']);
    expect(badReplicas.code).not.to.equal(0);
    expect(badReplicas.output).to.include('/operator/replicas');
    const certManager = await helmResult(helm, ['template', 'kumulus', chart, '--namespace', 'kumulus-system', '--set', 'webhooks.certManager=true']);
    expect(certManager.code, certManager.output).to.equal(0);
    expect(certManager.output).to.include('--cert-manager=true');
    const badCertManager = await helmResult(helm, ['template', 'kumulus', chart, '--namespace', 'kumulus-system', '--set', 'webhooks.certManager=maybe']);
    expect(badCertManager.output).to.include('/webhooks/certManager');
    const elsewhere = await helmResult(helm, ['template', 'kumulus', chart, '--namespace', 'default']);
    expect(elsewhere.code).not.to.equal(0);
    expect(elsewhere.output).to.include('install Kumulus into the namespace kumulus-system');
  });
});
