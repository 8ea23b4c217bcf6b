import * as k8s from '@kubernetes/client-node';
import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { parseAllDocuments } from 'yaml';
import { log } from '../../lib/log.ts';
import { ensureKumulusCrds, sharedControlPlane, sharedKubeConfig } from '../support/cluster.ts';

const ROOT = join(import.meta.dirname, '../..');
const FIELD_MANAGER = 'kumulus-examples-test';

/** The objects of examples/<folder>, in the order kubectl applies them (file name, then document). */
async function folderObjects(folder: string): Promise<k8s.KubernetesObject[]> {
  const dir = join(ROOT, 'examples', folder);
  const objects: k8s.KubernetesObject[] = [];
  for (const file of (await readdir(dir)).filter((f) => f.endsWith('.yaml')).sort()) {
    for (const doc of parseAllDocuments(await readFile(join(dir, file), 'utf8'))) objects.push(doc.toJS() as k8s.KubernetesObject);
  }
  return objects;
}

type Spec = Record<string, unknown>;

describe('crds: examples apply to a real apiserver', function () {
  this.timeout(180_000);
  let kc: k8s.KubeConfig;
  let objects: k8s.KubernetesObjectApi;
  const applied: k8s.KubernetesObject[] = [];

  before(async () => {
    kc = await sharedKubeConfig();
    objects = k8s.KubernetesObjectApi.makeApiClient(kc);
    await ensureKumulusCrds();
  });

  // Namespaces stay: deleting them would leave them Terminating for whatever applies the examples next.
  after(async () => {
    for (const object of applied.reverse().filter((o) => o.kind !== 'Namespace')) await objects.delete(object).catch(() => undefined);
  });

  const read = (object: k8s.KubernetesObject) =>
    objects.read<k8s.KubernetesObject & { spec?: Spec }>({
      apiVersion: object.apiVersion ?? '',
      kind: object.kind ?? '',
      metadata: { name: object.metadata?.name ?? '', namespace: object.metadata?.namespace },
    });

  for (const folder of ['zone-advanced', 'tenant', 'vm']) {
    it(`applies examples/${folder} server-side, object by object in file order`, async () => {
      const list = await folderObjects(folder);
      for (const object of list) {
        const result = await objects.patch(object, undefined, undefined, FIELD_MANAGER, true, k8s.PatchStrategy.ServerSideApply);
        expect(result.metadata?.uid, `${object.kind}/${object.metadata?.name}`).to.be.a('string');
        applied.push(object);
      }
      for (const object of list) {
        const stored = await read(object);
        expect(stored.metadata?.name).to.equal(object.metadata?.name);
      }
    });
  }

  it('stores the schema defaults, so controllers read complete objects', async () => {
    const zone = await read({ apiVersion: 'infra.kumulus.io/v1alpha1', kind: 'Zone', metadata: { name: 'zone1' } });
    expect(zone.spec).to.include({ securityGroupsEnabled: false, localStorageEnabled: false, allocationState: 'Enabled' });
    const cluster = await read({ apiVersion: 'infra.kumulus.io/v1alpha1', kind: 'Cluster', metadata: { name: 'cluster1' } });
    expect(cluster.spec).to.include({ maxHosts: 16, clusterType: 'CloudManaged', arch: 'x86_64', allocationState: 'Enabled' });
    const offering = await read({ apiVersion: 'infra.kumulus.io/v1alpha1', kind: 'ServiceOffering', metadata: { name: 'small' } });
    expect(offering.spec).to.include({ storageType: 'shared', provisioningType: 'thin', offerHa: false, cacheMode: 'none' });
    const vm = await read({ apiVersion: 'compute.kumulus.io/v1alpha1', kind: 'VirtualMachine', metadata: { name: 'web-1', namespace: 'demo' } });
    expect(vm.spec).to.include({ state: 'Running', bootType: 'BIOS' });
    expect((vm.spec?.networks as Spec[])[0]).to.include({ name: 'web', default: false });
    const account = await read({ apiVersion: 'iam.kumulus.io/v1alpha1', kind: 'Account', metadata: { name: 'acme' } });
    expect(account.spec).to.include({ state: 'enabled', accountType: 'User' });
  });

  it('applies every folder again with kubectl apply --server-side -R, as users do', async function () {
    const kubectl = await promisify(execFile)('kubectl', ['version', '--client']).catch((e: Error) => e);
    if (kubectl instanceof Error) {
      log.warn('skipping: no kubectl on PATH', { error: kubectl.message });
      this.skip();
    }
    const plane = await sharedControlPlane();
    for (const folder of ['zone-advanced', 'tenant', 'vm']) {
      const { stdout } = await promisify(execFile)('kubectl', ['--kubeconfig', plane.kubeconfigPath, 'apply', '--server-side', '-R', '-f', join(ROOT, 'examples', folder)]);
      const lines = stdout.trim().split('\n');
      expect(lines.length, folder).to.equal((await folderObjects(folder)).length);
      for (const line of lines) expect(line, folder).to.match(/serverside-applied$/);
    }
  });
});
