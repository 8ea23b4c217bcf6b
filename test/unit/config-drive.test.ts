import { randomUUID } from 'node:crypto';
import { mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import type { NetworkObject, SSHKeyPairObject, VirtualMachineObject } from '../../crds/index.ts';
import { configDriveDigest, configDriveFiles, configDriveInputOf, configDrives, ensureConfigDrive, removeConfigDrive, type ConfigDriveInput } from '../../node-daemon/config-drive.ts';
import { commandRunner } from '../../node-daemon/drivers/exec.ts';

const uid = '0b5e5a52-7c1f-4a43-9c1e-0a0c7c1f4a43';
const netUid = '7d3f8a12-1b2c-4d5e-8f90-a1b2c3d4e5f6';
const key = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGxU4aR5f3p1d0Y4pX3Wl6m3b8Kc2mJQ0rT7yH9vN2sB demo@example';

function input(overrides: Partial<ConfigDriveInput> = {}): ConfigDriveInput {
  return {
    uid,
    name: 'Web server 1',
    hostName: 'web-1',
    availabilityZone: 'zone1',
    project: 'demo',
    publicKeys: [{ name: 'demo-key', key }],
    userData: Buffer.from('#cloud-config\npackages: [nginx]\n'),
    nics: [{ mac: '02:00:0b:5e:5a:52', networkUid: netUid, ipAddress: '10.1.1.10', netmask: '255.255.255.0', gateway: '10.1.1.1', isDefault: true, dns: '10.1.1.254', mtu: 1450 }],
    ...overrides,
  };
}

const json = (files: Map<string, Buffer>, path: string): Record<string, unknown> => JSON.parse(files.get(path)?.toString() ?? 'null') as Record<string, unknown>;

describe('config drive: contents (cloud-init ConfigDrive v2, CloudStack layout)', function () {
  it('writes meta_data.json with the instance id, names, zone and keys', function () {
    const files = configDriveFiles(input());
    expect(json(files, 'openstack/latest/meta_data.json')).to.deep.equal({
      uuid: uid,
      name: 'Web server 1',
      hostname: 'web-1',
      availability_zone: 'zone1',
      launch_index: 0,
      project_id: 'demo',
      public_keys: { 'demo-key': key },
      keys: [{ name: 'demo-key', type: 'ssh', data: key }],
      meta: {},
    });
    // The local cloud's guest reads it line by line with sed: one member per line.
    expect(files.get('openstack/latest/meta_data.json')?.toString()).to.include(`\n  "hostname": "web-1",\n`).and.include(`\n  "public_keys": {\n    "demo-key": "${key}"\n  },\n`);
    expect(files.get('openstack/latest/user_data')?.toString()).to.equal('#cloud-config\npackages: [nginx]\n');
    expect(files.get('cloudstack/userdata/user_data.txt')?.toString()).to.equal('#cloud-config\npackages: [nginx]\n');
    expect(files.get('cloudstack/metadata/local-hostname.txt')?.toString()).to.equal('web-1');
    expect(files.get('cloudstack/metadata/public-keys.txt')?.toString()).to.equal(`${key}\n`);
  });

  it('writes network_data.json from the NICs: static where the address is known, DHCP where not', function () {
    const files = configDriveFiles(input({ nics: [...input().nics, { mac: '02:00:0b:5e:5a:53', networkUid: netUid }] }));
    expect(json(files, 'openstack/latest/network_data.json')).to.deep.equal({
      links: [
        { id: 'interface0', type: 'phy', ethernet_mac_address: '02:00:0b:5e:5a:52', mtu: 1450 },
        { id: 'interface1', type: 'phy', ethernet_mac_address: '02:00:0b:5e:5a:53' },
      ],
      networks: [
        {
          id: 'network0',
          link: 'interface0',
          network_id: netUid,
          type: 'ipv4',
          ip_address: '10.1.1.10',
          netmask: '255.255.255.0',
          routes: [{ network: '0.0.0.0', netmask: '0.0.0.0', gateway: '10.1.1.1' }],
        },
        { id: 'network1', link: 'interface1', network_id: netUid, type: 'ipv4_dhcp' },
      ],
      services: [{ type: 'dns', address: '10.1.1.254' }],
    });
  });

  it('has no user_data without user data, and a digest that follows every input', function () {
    const files = configDriveFiles(input({ userData: undefined }));
    expect(files.has('openstack/latest/user_data')).to.equal(false);
    const base = configDriveDigest(configDriveFiles(input()));
    expect(configDriveDigest(configDriveFiles(input()))).to.equal(base);
    for (const changed of [{ hostName: 'web-2' }, { publicKeys: [] }, { userData: Buffer.from('x') }, { nics: [] }, { availabilityZone: 'zone2' }]) {
      expect(configDriveDigest(configDriveFiles(input(changed))), JSON.stringify(changed)).to.not.equal(base);
    }
    expect(() => configDriveFiles(input({ uid: '../etc' }))).to.throw(/uid/);
  });
});

describe('config drive: the ISO', function () {
  let dir: string;
  before(async function () {
    dir = await mkdtemp(join(tmpdir(), 'kumulus-config-drive-'));
  });
  after(async function () {
    await rm(dir, { recursive: true, force: true });
  });

  it('builds an ISO9660 image labelled config-2, rebuilds it only when the inputs change, and removes it', async function () {
    const run = commandRunner();
    const first = await ensureConfigDrive(run, dir, input());
    expect(first.built).to.equal(true);
    expect(first.path).to.equal(join(dir, `${uid}.iso`));
    const label = (await run(['isoinfo', '-d', '-i', first.path])).stdout;
    expect(label).to.match(/^Volume id: config-2$/m);
    const listing = (await run(['isoinfo', '-R', '-f', '-i', first.path])).stdout;
    expect(listing).to.include('/openstack/latest/meta_data.json').and.include('/openstack/latest/user_data').and.include('/openstack/latest/network_data.json');
    const meta = (await run(['isoinfo', '-R', '-x', '/openstack/latest/meta_data.json', '-i', first.path])).stdout;
    expect(JSON.parse(meta)).to.include({ uuid: uid, hostname: 'web-1' });

    const mtime = (await stat(first.path)).mtimeMs;
    expect((await ensureConfigDrive(run, dir, input())).built, 'same inputs: kept').to.equal(false);
    expect((await stat(first.path)).mtimeMs).to.equal(mtime);
    const changed = await ensureConfigDrive(run, dir, input({ hostName: 'web-renamed' }));
    expect(changed.built).to.equal(true);
    expect(changed.digest).to.not.equal(first.digest);
    expect(JSON.parse((await run(['isoinfo', '-R', '-x', '/openstack/latest/meta_data.json', '-i', first.path])).stdout)).to.include({ hostname: 'web-renamed' });
    expect((await readdir(dir)).sort(), 'no staging leftovers').to.deep.equal([`${uid}.iso`, `${uid}.iso.sha256`]);

    await removeConfigDrive(dir, uid);
    expect(await readdir(dir)).to.deep.equal([]);
    expect((await ensureConfigDrive(run, dir, input({ uid: randomUUID() }))).built).to.equal(true);
  });
});

describe('config drive: from the VM, its key pair and its networks', function () {
  it('takes the host name, the decoded user data, the zone and the NICs the operator allocated', function () {
    const vm = {
      metadata: { name: 'web-1', namespace: 'demo', uid },
      spec: { displayName: 'Web server 1', hostName: 'web', zoneRef: { name: 'zone1' }, userData: Buffer.from('#!/bin/sh\necho hi\n').toString('base64'), sshKeyPairRef: { name: 'demo-key' } },
      status: { nics: [{ network: 'web', deviceId: 0, isDefault: true, ipAddress: '10.1.1.10', netmask: '255.255.255.0', gateway: '10.1.1.1', macAddress: '02:00:0b:5e:5a:52' }] },
    } as unknown as VirtualMachineObject;
    const keyPair = { metadata: { name: 'demo-key' }, spec: { publicKey: key } } as unknown as SSHKeyPairObject;
    const network = { metadata: { name: 'web', namespace: 'demo', uid: netUid }, spec: { cidr: '10.1.1.0/24', gateway: '10.1.1.1' } } as unknown as NetworkObject;
    const mapped = configDriveInputOf(vm, keyPair, (name) => (name === 'web' ? network : undefined));
    expect(mapped).to.deep.equal({
      uid,
      name: 'Web server 1',
      hostName: 'web',
      availabilityZone: 'zone1',
      project: 'demo',
      publicKeys: [{ name: 'demo-key', key }],
      userData: Buffer.from('#!/bin/sh\necho hi\n'),
      nics: [{ mac: '02:00:0b:5e:5a:52', networkUid: netUid, ipAddress: '10.1.1.10', netmask: '255.255.255.0', gateway: '10.1.1.1', isDefault: true, dns: '10.1.1.254' }],
    });
    const bare = configDriveInputOf({ ...vm, spec: { zoneRef: { name: 'zone1' } }, status: {} } as unknown as VirtualMachineObject, { metadata: { name: 'k' }, spec: {} } as unknown as SSHKeyPairObject, () => undefined);
    expect(bare).to.deep.include({ name: 'web-1', hostName: 'web-1', publicKeys: [], nics: [] });
    expect(bare).to.not.have.property('userData');
  });
});

describe('config drive: the agent’s drives, per VM', function () {
  it('builds a VM’s drive from its objects, rebuilds it when its key pair appears, and removes it', async function () {
    const dir = await mkdtemp(join(tmpdir(), 'kumulus-config-drives-'));
    try {
      const run = commandRunner();
      let keyPair: SSHKeyPairObject | undefined = undefined;
      const drives = configDrives({ dir, run, keyPairOf: () => keyPair, networkOf: () => undefined });
      const vm = { metadata: { name: 'web-1', namespace: 'demo', uid }, spec: { zoneRef: { name: 'zone1' }, sshKeyPairRef: { name: 'k' } } } as unknown as VirtualMachineObject;
      const path = await drives.ensure(vm);
      expect(path).to.equal(join(dir, `${uid}.iso`));
      const keys = async () => (await run(['isoinfo', '-R', '-x', '/cloudstack/metadata/public-keys.txt', '-i', path])).stdout;
      expect(await keys()).to.equal('');
      keyPair = { metadata: { name: 'k' }, spec: { publicKey: key } } as unknown as SSHKeyPairObject;
      expect(await drives.ensure(vm)).to.equal(path);
      expect(await keys()).to.equal(`${key}\n`);
      await drives.remove(uid);
      expect(await readdir(dir)).to.deep.equal([]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
