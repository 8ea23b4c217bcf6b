import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { PUBLIC_NAMESPACE } from '../../lib/identity.ts';
import { uniqueName } from '../support/cluster.ts';
import { type InfraCloud, type Obj, settleVm, startInfraCloud, waitUntil } from './cloudstack-infra-harness.ts';

/**
 * Real clients, the Python `cs` client and the Go SDK, each run a VM's whole lifecycle through
 * the API over the real control plane, waiting for each job with their own polling:
 * a generated key pair, deploy with the key, user data and a network, stop, start, reboot, a
 * data volume created, attached and detached, destroy, recover (root admin), destroy again and
 * expunge (root admin). The test plays the operator and the agent (VM and volume status, as
 * lib/agent-contract.ts assigns it); the API and the AsyncJob controller are the real ones.
 * Against `npm start` with a booted guest this is issue 13's acceptance test, not this one.
 */

const run = promisify(execFile);
type Vm = Obj & { metadata: { generation?: number }; spec: Record<string, unknown> };
type Row = Record<string, unknown>;
type Keys = { apiKey: string; secretKey: string };

/** A real client: `call` runs one command (waiting for its job, as the client does) and answers `{ <object name>: {...} }`. */
interface Driver {
  readonly name: string;
  /** Why it cannot run here, or undefined. */
  prepare(): Promise<string | undefined>;
  call(endpoint: string, keys: Keys, command: string, params: Record<string, string>): Promise<Row>;
  cleanup(): Promise<void>;
}

/** The Python `cs` client (Debian package `cs`, command `cloudstack`). */
const csDriver: Driver = {
  name: 'the Python cs client',
  async prepare() {
    try {
      const { stdout } = await run('cloudstack', ['--help'], { timeout: 20_000 });
      return stdout.includes('COMMAND') ? undefined : 'the command cloudstack is not the Python cs client';
    } catch {
      return 'the Python cs client (Debian package cs, command cloudstack) is not installed';
    }
  },
  async call(endpoint, keys, command, params) {
    const env = { ...process.env, CLOUDSTACK_ENDPOINT: endpoint, CLOUDSTACK_KEY: keys.apiKey, CLOUDSTACK_SECRET: keys.secretKey, CLOUDSTACK_TIMEOUT: '120' };
    const args = ['--quiet', command, ...Object.entries(params).map(([k, v]) => `${k}=${v}`)];
    const { stdout } = await run('cloudstack', args, { env, timeout: 150_000 }).catch((err: unknown) => {
      throw new Error(`cloudstack ${args.join(' ')} failed: ${(err as { stdout?: string }).stdout ?? ''}${(err as { stderr?: string }).stderr ?? String(err)}`);
    });
    // cs prints nothing for an empty answer (a list with no rows is `{}`).
    return stdout.trim() === '' ? {} : (JSON.parse(stdout) as Row);
  },
  cleanup: () => Promise.resolve(),
};

/*
 * The Go SDK (Debian package golang-github-xanzy-go-cloudstack-dev, 2.9.0), its async client
 * waiting for each job: a small program built offline from the packaged source maps a command
 * and its parameters to the SDK's typed call and prints the typed result under its object name.
 */
const sdkSource = '/usr/share/gocode/src/github.com/xanzy/go-cloudstack';
const goMod = `module kumulus.test/gosdklifecycle\n\ngo 1.21\n\nrequire github.com/xanzy/go-cloudstack/v2 v2.9.0\n\nreplace github.com/xanzy/go-cloudstack/v2 => ${sdkSource}\n`;
const goProgram = `package main

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"

	"github.com/xanzy/go-cloudstack/v2/cloudstack"
)

func main() {
	cs := cloudstack.NewAsyncClient(os.Getenv("CS_ENDPOINT"), os.Getenv("CS_KEY"), os.Getenv("CS_SECRET"), false)
	p := map[string]string{}
	for _, arg := range os.Args[2:] {
		kv := strings.SplitN(arg, "=", 2)
		p[kv[0]] = kv[1]
	}
	var name string
	var out interface{}
	var err error
	vms := cs.VirtualMachine
	switch os.Args[1] {
	case "createSSHKeyPair":
		name = "keypair"
		out, err = cs.SSH.CreateSSHKeyPair(cs.SSH.NewCreateSSHKeyPairParams(p["name"]))
	case "deployVirtualMachine":
		d := vms.NewDeployVirtualMachineParams(p["serviceofferingid"], p["templateid"], p["zoneid"])
		d.SetNetworkids([]string{p["networkids"]})
		d.SetKeypair(p["keypair"])
		d.SetUserdata(p["userdata"])
		d.SetName(p["name"])
		name = "virtualmachine"
		out, err = vms.DeployVirtualMachine(d)
	case "stopVirtualMachine":
		name = "virtualmachine"
		out, err = vms.StopVirtualMachine(vms.NewStopVirtualMachineParams(p["id"]))
	case "startVirtualMachine":
		name = "virtualmachine"
		out, err = vms.StartVirtualMachine(vms.NewStartVirtualMachineParams(p["id"]))
	case "rebootVirtualMachine":
		name = "virtualmachine"
		out, err = vms.RebootVirtualMachine(vms.NewRebootVirtualMachineParams(p["id"]))
	case "destroyVirtualMachine":
		name = "virtualmachine"
		out, err = vms.DestroyVirtualMachine(vms.NewDestroyVirtualMachineParams(p["id"]))
	case "recoverVirtualMachine":
		name = "virtualmachine"
		out, err = vms.RecoverVirtualMachine(vms.NewRecoverVirtualMachineParams(p["id"]))
	case "expungeVirtualMachine":
		name = "success"
		out, err = vms.ExpungeVirtualMachine(vms.NewExpungeVirtualMachineParams(p["id"]))
	case "listVirtualMachines":
		l := vms.NewListVirtualMachinesParams()
		l.SetListall(true)
		name = "list"
		out, err = vms.ListVirtualMachines(l)
	case "createVolume":
		c := cs.Volume.NewCreateVolumeParams()
		c.SetName(p["name"])
		c.SetZoneid(p["zoneid"])
		c.SetDiskofferingid(p["diskofferingid"])
		name = "volume"
		out, err = cs.Volume.CreateVolume(c)
	case "attachVolume":
		name = "volume"
		out, err = cs.Volume.AttachVolume(cs.Volume.NewAttachVolumeParams(p["id"], p["virtualmachineid"]))
	case "detachVolume":
		d := cs.Volume.NewDetachVolumeParams()
		d.SetId(p["id"])
		name = "volume"
		out, err = cs.Volume.DetachVolume(d)
	default:
		err = fmt.Errorf("no such command in the program: %s", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	json.NewEncoder(os.Stdout).Encode(map[string]interface{}{name: out})
}
`;

function goDriver(): Driver {
  let dir = '';
  let program = '';
  return {
    name: 'the Go SDK',
    async prepare() {
      if (!existsSync(sdkSource)) return `${sdkSource} is missing (Debian package golang-github-xanzy-go-cloudstack-dev)`;
      try {
        await run('go', ['version'], { timeout: 30_000 });
      } catch {
        return 'the go command is not installed, so the Go SDK program cannot be built';
      }
      dir = await mkdtemp(join(tmpdir(), 'kumulus-gosdk-life-'));
      await writeFile(join(dir, 'go.mod'), goMod);
      await writeFile(join(dir, 'main.go'), goProgram);
      program = join(dir, 'lifecycle');
      await run('nice', ['-n', '10', 'go', 'build', '-o', program, '.'], { cwd: dir, timeout: 840_000, env: { ...process.env, GOFLAGS: '-mod=mod', GOPROXY: 'off', GOTOOLCHAIN: 'local', GOWORK: 'off' } });
      return undefined;
    },
    async call(endpoint, keys, command, params) {
      const args = [command, ...Object.entries(params).map(([k, v]) => `${k}=${v}`)];
      const { stdout } = await run(program, args, { env: { PATH: process.env['PATH'], CS_ENDPOINT: endpoint, CS_KEY: keys.apiKey, CS_SECRET: keys.secretKey }, timeout: 150_000 }).catch((err: unknown) => {
        throw new Error(`Go SDK ${args.join(' ')} failed: ${(err as { stderr?: string }).stderr ?? String(err)}`);
      });
      const answer = JSON.parse(stdout) as Row;
      // The SDK's list struct: Count and the rows.
      const list = answer['list'] as { Count?: number; VirtualMachines?: Row[] } | undefined;
      return list ? (list.Count ? { count: list.Count, virtualmachine: list.VirtualMachines } : {}) : answer;
    },
    async cleanup() {
      if (dir) await rm(dir, { recursive: true, force: true });
    },
  };
}

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
      expect(vm).to.include({ name, state: 'Running', zoneid: ids['zone'], templateid: ids['template'], account: tenant.account });
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
      // The Go SDK 2.9.0 reads recoverVirtualMachine's object one level too high (no getRawValue), against CloudStack too: its fields come back empty.
      if (driver === csDriver) expect((recovered['virtualmachine'] as Row)['id']).to.equal(ids['vm']);
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
