import { expect } from 'chai';
import { PUBLIC_NAMESPACE } from '../../lib/identity.ts';
import { csDriver, type Driver, goDriver, type Keys, type Row } from '../support/cloudstack-drivers.ts';
import { uniqueName } from '../support/cluster.ts';
import { type InfraCloud, type Obj, settleVm, startInfraCloud, waitUntil } from './cloudstack-infra-harness.ts';

/**
 * Real clients, the Python `cs` client and the Go SDK, each run a VM's whole lifecycle through
 * the API over the real control plane, waiting for each job with their own polling:
 * a generated key pair, deploy with the key, user data and a network, stop, start, reboot, a
 * data volume created, attached and detached, destroy, recover (root admin), destroy again and
 * expunge (root admin). The test plays the operator and the agent (VM and volume status, as
 * lib/agent-contract.ts assigns it); the API and the AsyncJob controller are the real ones.
 * test/e2e/cloudstack-clients-local.test.ts runs the same clients against `npm start` with a
 * booted guest.
 */

type Vm = Obj & { metadata: { generation?: number }; spec: Record<string, unknown> };

for (const driver of [csDriver, goDriver()]) describeLifecycle(driver);

function describeLifecycle(driver: Driver): void {
  describe(`cloudstack-api: a VM lifecycle driven by ${driver.name} (real control plane)`, function () {
    this.timeout(900_000);
    let cloud: InfraCloud;
    let tenant: { namespace: string; account: string; keys: { apiKey: string; secretKey: string } };
    const s = uniqueName('cslc').slice(5);
    const ids: Record<string, string> = {};
    const name = `life-${s}`;

    /** One command through the client as `keys` (for an async command: the finished job's object, after the client waited for it). */
    const cs = (args: string[], keys: Keys = tenant.keys): Promise<Row> => {
      const [command = '', ...rest] = args;
      return driver.call(cloud.endpoint, keys, command, Object.fromEntries(rest.map((arg) => [arg.slice(0, arg.indexOf('=')), arg.slice(arg.indexOf('=') + 1)])));
    };

    const admin = () => ({ apiKey: cloud.credentials.apiKey, secretKey: cloud.credentials.secretKey });
    const vmNamed = async (vmName: string) => (await cloud.resource('VirtualMachine').list({ namespace: tenant.namespace })).items.find((o) => o.metadata.name === vmName) as Vm | undefined;

    /** Plays the operator and agent once the VM's spec moved past `after`: `state` at its generation, with its NIC. */
    async function settleAfter(after: number, state: string, extra: Record<string, unknown> = {}): Promise<void> {
      const vm = await waitUntil(`VM ${name} past generation ${after}`, async () => {
        const found = await vmNamed(name);
        return found && (found.metadata.generation ?? 0) > after ? found : undefined;
      });
      await settleVm(cloud.kube, vm, state, {
        placement: { zone: `z-${s}`, pod: `p-${s}`, cluster: `c-${s}`, host: `h-${s}` },
        nics: [{ network: `net-${s}`, deviceId: 0, isDefault: true, ipAddress: '10.7.1.10', netmask: '255.255.255.0', gateway: '10.7.1.1', macAddress: '02:00:0a:07:01:0a' }],
        ...extra,
      });
    }

    /** A cs command whose job the test carries out as operator and agent: `state` once the VM's spec changed. */
    async function vmJob(args: string[], state: string, keys = tenant.keys, extra: () => Promise<Record<string, unknown>> = () => Promise.resolve({})): Promise<Row> {
      const before = (await vmNamed(name))?.metadata.generation ?? 0;
      const answer = cs(args, keys);
      await settleAfter(before, state, await extra());
      return answer;
    }

    /** Plays the volume controller and agent: the volume named `volumeName` in the API Ready at its generation, once its spec moved past `after`. */
    async function settleVolume(volumeName: string, after: number, status: Record<string, unknown>): Promise<void> {
      const volumes = cloud.resource('Volume');
      const volume = await waitUntil(`volume ${volumeName} past generation ${after}`, async () => {
        const found = (await volumes.list({ namespace: tenant.namespace })).items.find((v) => v.spec?.['displayName'] === volumeName) as Vm | undefined;
        return found && (found.metadata.generation ?? 0) > after ? found : undefined;
      });
      const generation = volume.metadata.generation ?? 1;
      const now = new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
      await volumes.patchStatus({ namespace: tenant.namespace, name: volume.metadata.name ?? '' }, { status: { observedGeneration: generation, conditions: [{ type: 'Ready', status: 'True', reason: 'Ready', message: '', lastTransitionTime: now, observedGeneration: generation }], ...status } });
    }

    before(async function () {
      this.timeout(240_000);
      const missing = await driver.prepare();
      if (missing !== undefined) {
        console.log(`skipped: ${missing}`);
        this.skip();
      }
      cloud = await startInfraCloud('cslife');
      const make = async (kind: string, objName: string, spec: Record<string, unknown>, namespace?: string) => cloud.resource(kind).create({ metadata: { name: objName, ...(namespace ? { namespace } : {}) }, spec });
      ids['zone'] = (await make('Zone', `z-${s}`, { displayName: `Zone ${s}`, networkType: 'Advanced', dns1: '8.8.8.8', internalDns1: '10.0.0.2', guestCidr: '10.7.0.0/16', allocationState: 'Enabled' })).metadata.uid ?? '';
      ids['small'] = (await make('ServiceOffering', `small-${s}`, { displayName: `Small ${s}`, cpuNumber: 1, cpuSpeed: 1000, memory: '512Mi' })).metadata.uid ?? '';
      ids['disk'] = (await make('DiskOffering', `d5-${s}`, { displayName: `Disk 5 ${s}`, diskSize: '5Gi' })).metadata.uid ?? '';
      await make('NetworkOffering', `iso-${s}`, { guestIpType: 'Isolated' });
      await cloud.kube.resource({ group: '', version: 'v1', plural: 'namespaces', kind: 'Namespace', namespaced: false }).create({ metadata: { name: PUBLIC_NAMESPACE } }).catch(() => undefined);
      const template = await make('Template', `tiny-${s}`, { displayName: `Tiny ${s}`, url: 'file:///var/lib/kumulus/tiny.qcow2', format: 'QCOW2', zoneRefs: [{ name: `z-${s}` }], isPublic: true }, PUBLIC_NAMESPACE);
      await cloud.resource('Template').patchStatus({ namespace: PUBLIC_NAMESPACE, name: template.metadata.name ?? '' }, { status: { state: 'Active', isReady: true, zones: [{ zone: `z-${s}`, downloadState: 'DOWNLOADED', downloadPercent: 100, sizeBytes: 1 << 30 }] } });
      ids['template'] = template.metadata.uid ?? '';
      const made = await cloud.tenant('cslt');
      tenant = made;
      ids['network'] = (await make('Network', `net-${s}`, { displayName: `Net ${s}`, networkOfferingRef: { name: `iso-${s}` }, zoneRef: { name: `z-${s}` }, cidr: '10.7.1.0/24' }, tenant.namespace)).metadata.uid ?? '';
      await waitUntil('the API caches', async () => ((await made.client.request('listNetworks', { id: ids['network'] ?? '' })).body['count'] === 1 ? true : undefined));
    });

    after(async () => {
      await cloud?.stop();
      await driver.cleanup();
    });

    it('creates a key pair, deploys with it, user data and a network, and waits for Running', async () => {
      const pair = (await cs(['createSSHKeyPair', `name=key-${s}`]))['keypair'] as Row;
      expect(pair['privatekey']).to.match(/^-----BEGIN RSA PRIVATE KEY-----/);
      const userData = Buffer.from('#cloud-config\nhostname: life\n').toString('base64');
      const deployed = await vmJob(
        ['deployVirtualMachine', `zoneid=${ids['zone']}`, `serviceofferingid=${ids['small']}`, `templateid=${ids['template']}`, `networkids=${ids['network']}`, `keypair=key-${s}`, `userdata=${userData}`, `name=${name}`],
        'Running',
      );
      const vm = deployed['virtualmachine'] as Row;
      expect(vm).to.include({ name, state: 'Running', zoneid: ids['zone'], templateid: ids['template'], account: tenant.account, keypairs: `key-${s}` });
      expect((vm['nic'] as Row[])[0]).to.include({ ipaddress: '10.7.1.10', networkid: ids['network'], isdefault: true });
      ids['vm'] = vm['id'] as string;
      const object = await vmNamed(name);
      expect(object?.metadata.uid).to.equal(ids['vm']);
      expect(object?.spec).to.deep.include({ state: 'Running', hostName: name, userData, sshKeyPairRef: { name: `key-${s}` } });
    });

    it('stops, starts and reboots', async () => {
      expect(((await vmJob(['stopVirtualMachine', `id=${ids['vm']}`], 'Stopped'))['virtualmachine'] as Row)['state']).to.equal('Stopped');
      expect((await vmNamed(name))?.spec['state']).to.equal('Stopped');
      expect(((await vmJob(['startVirtualMachine', `id=${ids['vm']}`], 'Running'))['virtualmachine'] as Row)['state']).to.equal('Running');
      const rebooted = await vmJob(['rebootVirtualMachine', `id=${ids['vm']}`], 'Running', tenant.keys, async () => ({ lastRebootAt: (await vmNamed(name))?.spec['rebootRequestedAt'] }));
      expect((rebooted['virtualmachine'] as Row)['state']).to.equal('Running');
    });

    it('creates a data volume, attaches it and detaches it', async () => {
      const volumeName = `data-${s}`;
      const creating = cs(['createVolume', `name=${volumeName}`, `zoneid=${ids['zone']}`, `diskofferingid=${ids['disk']}`]);
      await settleVolume(volumeName, 0, { state: 'Allocated' });
      const created = (await creating)['volume'] as Row;
      expect(created).to.include({ name: volumeName, state: 'Allocated', diskofferingid: ids['disk'] });
      const volumeNamed = async () => (await cloud.resource('Volume').list({ namespace: tenant.namespace })).items.find((v) => v.spec?.['displayName'] === volumeName) as Vm;
      const volume = await volumeNamed();
      const attaching = cs(['attachVolume', `id=${created['id'] as string}`, `virtualmachineid=${ids['vm']}`]);
      await settleVolume(volumeName, volume.metadata.generation ?? 1, { state: 'Ready', attachedAt: new Date().toISOString().replace(/\.\d{3}Z$/, 'Z') });
      expect((await attaching)['volume']).to.include({ id: created['id'], virtualmachineid: ids['vm'] });
      const attached = await volumeNamed();
      expect(attached.spec['vmRef']).to.deep.equal({ name });
      const detaching = cs(['detachVolume', `id=${created['id'] as string}`]);
      await settleVolume(volumeName, attached.metadata.generation ?? 1, { state: 'Ready' });
      // cs shows no virtualmachineid; the Go SDK's struct shows it empty.
      expect(((await detaching)['volume'] as Row)['virtualmachineid'] ?? '').to.equal('');
    });

    it('destroys, recovers (root admin), destroys again and expunges (root admin)', async () => {
      expect(((await vmJob(['destroyVirtualMachine', `id=${ids['vm']}`], 'Destroyed'))['virtualmachine'] as Row)['state']).to.equal('Destroyed');
      const before = (await vmNamed(name))?.metadata.generation ?? 0;
      const recovered = await cs(['recoverVirtualMachine', `id=${ids['vm']}`], admin());
      // The Go SDK (cloudstack-go v2.17.0) reads recoverVirtualMachine's object one level too high (no getRawValue), against CloudStack too: its fields come back empty.
      if (driver === csDriver) expect(recovered['virtualmachine']).to.include({ id: ids['vm'], state: 'Stopped' });
      expect((await vmNamed(name))?.spec['state']).to.equal('Stopped');
      await settleAfter(before, 'Stopped');
      await vmJob(['destroyVirtualMachine', `id=${ids['vm']}`], 'Destroyed');
      await cs(['expungeVirtualMachine', `id=${ids['vm']}`], admin());
      expect(await vmNamed(name)).to.equal(undefined);
      const listed = ((await cs(['listVirtualMachines', 'listall=true'], admin()))['virtualmachine'] as Row[] | undefined) ?? [];
      expect(listed.map((row) => row['id'])).to.not.include(ids['vm']);
    });
  });
}
