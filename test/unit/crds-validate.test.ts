import { expect } from 'chai';
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { Account, Network, Pod, ServiceOffering, VirtualMachine, Zone, kindByName, kinds, type SpecOf, type StatusOf, type VirtualMachineObject } from '../../crds/index.ts';

const EXAMPLES = join(import.meta.dirname, '../../examples');

interface Manifest {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string };
  spec?: Record<string, unknown>;
}

async function examples(): Promise<{ file: string; object: Manifest }[]> {
  const out: { file: string; object: Manifest }[] = [];
  const folders = (await readdir(EXAMPLES, { withFileTypes: true })).filter((e) => e.isDirectory()).map((e) => e.name);
  for (const folder of folders.sort()) {
    for (const file of (await readdir(join(EXAMPLES, folder))).sort()) {
      for (const doc of parseAllDocuments(await readFile(join(EXAMPLES, folder, file), 'utf8'))) {
        out.push({ file: `${folder}/${file}`, object: doc.toJS() as Manifest });
      }
    }
  }
  return out;
}

function fields(result: ReturnType<typeof Zone.validate>): string[] {
  return result.valid ? [] : result.errors.map((e) => e.field);
}

const zone = () => ({
  apiVersion: 'infra.kumulus.io/v1alpha1',
  kind: 'Zone',
  metadata: { name: 'z' },
  spec: { networkType: 'Advanced', dns1: '8.8.8.8', internalDns1: '10.0.0.2' },
});

describe('crds: ajv validators', () => {
  it('accepts every object of examples/', async () => {
    const all = await examples();
    expect(all.length).to.be.greaterThan(20);
    for (const { file, object } of all.filter((e) => e.object.kind !== 'Namespace')) {
      const kind = kindByName(object.kind);
      expect(kind, `${file}: ${object.kind}`).to.not.equal(undefined);
      expect(object.apiVersion, file).to.equal(kind?.apiVersion);
      expect(kind?.validate(object), `${file}: ${object.metadata.name}`).to.deep.equal({ valid: true });
    }
  });

  it('puts examples/<folder> files in numbered order, each folder with its Namespace objects first', async () => {
    const all = await examples();
    for (const folder of ['zone-advanced', 'tenant', 'vm']) {
      const files = [...new Set(all.filter((e) => e.file.startsWith(`${folder}/`)).map((e) => e.file.split('/')[1] ?? ''))];
      expect(files.length, folder).to.be.greaterThan(2);
      for (const f of files) expect(f, folder).to.match(/^\d{2}-[a-z0-9-]+\.yaml$/);
      const namespaces = new Set(all.filter((e) => e.file.startsWith(`${folder}/`) && e.object.kind === 'Namespace').map((e) => e.object.metadata.name));
      for (const { object } of all.filter((e) => e.file.startsWith(`${folder}/`) && e.object.metadata.namespace)) {
        expect(namespaces.has(object.metadata.namespace ?? ''), `${folder}: namespace ${object.metadata.namespace} is created in the folder`).to.equal(true);
      }
    }
    const kindsUsed = new Set(all.map((e) => e.object.kind));
    for (const expected of ['Zone', 'Pod', 'Cluster', 'PhysicalNetwork', 'IPRange', 'PrimaryStorage', 'SecondaryStorage', 'ServiceOffering', 'DiskOffering', 'NetworkOffering', 'Domain', 'Account', 'User', 'Template', 'Network', 'VirtualMachine']) {
      expect(kindsUsed.has(expected), expected).to.equal(true);
    }
  });

  it('rejects bad input with the field path', () => {
    expect(fields(Zone.validate({ ...zone(), spec: { ...zone().spec, dns1: '8.8.8' } }))).to.deep.equal(['spec.dns1']);
    expect(fields(Zone.validate({ ...zone(), spec: { ...zone().spec, networkType: 'Fancy' } }))).to.deep.equal(['spec.networkType']);
    const { internalDns1: _, ...noInternal } = zone().spec;
    expect(fields(Zone.validate({ ...zone(), spec: noInternal }))).to.deep.equal(['spec.internalDns1']);
    expect(fields(Zone.validate({ ...zone(), spec: { ...zone().spec, guestCidr: '10.0.0.0/33' } }))).to.deep.equal(['spec.guestCidr']);
    const pod = {
      apiVersion: 'infra.kumulus.io/v1alpha1',
      kind: 'Pod',
      metadata: { name: 'p' },
      spec: { zoneRef: { name: 'z' }, gateway: '10.0.0.1', netmask: '255.255.0.255', startIp: '10.0.0.5' },
    };
    expect(fields(Pod.validate(pod))).to.deep.equal(['spec.netmask']);
    const vm = {
      apiVersion: 'compute.kumulus.io/v1alpha1',
      kind: 'VirtualMachine',
      metadata: { name: 'v', namespace: 'n' },
      spec: { serviceOfferingRef: { name: 's' }, templateRef: { name: 't' }, networks: [{ name: 'a', ipAddress: '10.0.0.300' }] },
    };
    expect(fields(VirtualMachine.validate(vm)).sort()).to.deep.equal(['spec.networks[0].ipAddress', 'spec.zoneRef']);
    expect(fields(ServiceOffering.validate({ apiVersion: 'infra.kumulus.io/v1alpha1', kind: 'ServiceOffering', metadata: { name: 's' }, spec: { cpuNumber: 0, memory: '1 GB' } })).sort()).to.deep.equal([
      'spec.cpuNumber',
      'spec.memory',
    ]);
    expect(fields(Network.validate({ apiVersion: 'network.kumulus.io/v1alpha1', kind: 'Network', metadata: { name: 'n' }, spec: { networkOfferingRef: { name: 'o' }, zoneRef: { name: 'z' }, vlan: 0 } }))).to.deep.equal(['spec.vlan']);
    expect(fields(Account.validate({ apiVersion: 'iam.kumulus.io/v1alpha1', kind: 'Account', metadata: { name: 'a' }, spec: { domainRef: { name: 'd' }, namespace: 'Not_A_Name' } }))).to.deep.equal([
      'spec.namespace',
    ]);
  });

  it('rejects an object of another kind', () => {
    expect(fields(Zone.validate({ ...zone(), kind: 'Pod' }))).to.deep.equal(['kind']);
  });

  it('compiles a validator for every kind', () => {
    for (const kind of kinds) {
      const result = kind.validate({ apiVersion: kind.apiVersion, kind: kind.kind, metadata: { name: 'x' } });
      expect(result.valid ? [] : result.errors.map((e) => e.field), kind.kind).to.deep.equal(['spec']);
    }
  });
});

describe('crds: TypeScript types', () => {
  it('types whole objects, specs and statuses from the same schemas the validators use', () => {
    const spec: SpecOf<typeof VirtualMachine> = { zoneRef: { name: 'zone1' }, serviceOfferingRef: { name: 'small' }, templateRef: { name: 'debian-12' }, state: 'Stopped' };
    const status: StatusOf<typeof VirtualMachine> = {
      state: 'Running',
      placement: { zone: 'zone1', pod: 'pod1', cluster: 'cluster1', host: 'node-1' },
      conditions: [{ type: 'Ready', status: 'True', reason: 'Running', message: 'VM is running', lastTransitionTime: '2026-01-01T00:00:00Z', observedGeneration: 1 }],
    };
    const vm: VirtualMachineObject = { apiVersion: 'compute.kumulus.io/v1alpha1', kind: 'VirtualMachine', metadata: { name: 'web-1', namespace: 'demo' }, spec, status };
    expect(VirtualMachine.validate(vm)).to.deep.equal({ valid: true });
    const broken = { ...vm, status: { ...status, state: 'Sleeping' } };
    expect(fields(VirtualMachine.validate(broken))).to.deep.equal(['status.state']);
  });
});
