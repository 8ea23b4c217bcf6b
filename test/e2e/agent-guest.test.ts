import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { chmod, mkdtemp, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { expect } from 'chai';
import { log } from '../../lib/log.ts';
import { commandRunner } from '../../node-daemon/drivers/exec.ts';
import { libvirtDriver, type LibvirtDriver } from '../../node-daemon/drivers/hypervisor/libvirt.ts';
import { nicMac } from '../../lib/guest-identity.ts';
import { linuxNetworkDriver } from '../../node-daemon/drivers/network/driver.ts';
import { bridgeName, vxlanDeviceName } from '../../node-daemon/drivers/network/names.ts';
import type { GuestNetworkSpec } from '../../node-daemon/drivers/network/types.ts';
import { fileStorageDriver } from '../../node-daemon/drivers/storage/driver.ts';
import type { PoolSpec } from '../../node-daemon/drivers/storage/types.ts';
import { ensureConfigDrive } from '../../node-daemon/config-drive.ts';
import { ensureGuestTemplate } from '../../node-daemon/guest-template/build.ts';
import { guestDomainType, guestDomainTypeNote } from '../support/guest-domain-type.ts';
import { useLibvirt, type TestLibvirt } from '../support/libvirtd.ts';

describe('agent drivers boot the local cloud’s template from its disk; it leases its address from the agent’s DHCP and reads its config drive', function () {
  this.timeout(300_000);
  const logger = log.child({ test: 'agent-guest' });
  const run = commandRunner();
  const id = randomBytes(2).toString('hex');
  const vni = 200_000 + Number.parseInt(id, 16);
  const underlay = `kgu${id}`;
  const serviceNamespacePrefix = `kumulus-gu${id}-`;
  const vmUid = randomUUID();
  const netUid = randomUUID();
  const rootUid = randomUUID();
  const mac = nicMac(vmUid, netUid);
  // An ed25519 public key blob (type string and 32 key bytes); the guest prints its MD5 fingerprint.
  const keyBlob = Buffer.concat([Buffer.from([0, 0, 0, 11]), Buffer.from('ssh-ed25519'), Buffer.from([0, 0, 0, 32]), randomBytes(32)]).toString('base64');
  let libvirt: TestLibvirt;
  let hypervisor: LibvirtDriver | undefined;
  let workDir: string;

  before(async function () {
    libvirt = await useLibvirt();
    if (libvirt.limitation !== undefined) {
      console.log(`      SKIP: ${libvirt.limitation}`);
      this.skip();
    }
    workDir = await mkdtemp('/var/tmp/kumulus-guest-');
    await chmod(workDir, 0o755);
    // The underlay: a veth end carrying this host's VTEP address.
    await run(['ip', 'link', 'add', underlay, 'type', 'veth', 'peer', 'name', `kgv${id}`]);
    await run(['ip', 'addr', 'add', '192.168.79.1/30', 'dev', underlay]);
    await run(['ip', 'link', 'set', underlay, 'up']);
    await run(['ip', 'link', 'set', `kgv${id}`, 'up']);
  });

  after(async function () {
    await hypervisor?.undefine(vmUid).catch(() => undefined);
    // Only what this test made: other Kumulus links on the host are not ours to remove.
    for (const link of [vxlanDeviceName(vni), bridgeName({ type: 'vxlan', vni }), underlay]) {
      await run(['ip', 'link', 'del', link]).catch(() => undefined);
    }
    await run(['ip', 'netns', 'del', `${serviceNamespacePrefix}${bridgeName({ type: 'vxlan', vni })}`]).catch(() => undefined);
    if (workDir) {
      const pid = Number.parseInt(await readFile(join(workDir, 'dnsmasq', `kbx${vni}`, 'dnsmasq.pid'), 'utf8').catch(() => ''), 10);
      if (Number.isInteger(pid)) process.kill(pid, 'SIGTERM');
      const table = await run(['nft', '-j', 'list', 'table', 'bridge', 'kumulus']).catch(() => undefined);
      const comments = [...(table?.stdout ?? '').matchAll(/"comment": ?"([^"]*)"/g)].map((m) => m[1] ?? '');
      if (comments.length > 0 && comments.every((c) => c.startsWith(`kbx${vni}:`))) {
        for (const family of ['bridge', 'inet', 'arp']) await run(['nft', 'delete', 'table', family, 'kumulus']).catch(() => undefined);
      }
      await rm(workDir, { recursive: true, force: true });
    }
    await libvirt?.release();
  });

  it('boots the template on the network’s bridge: the serial log shows the config drive’s hostname and SSH key, the user data ran, and the DHCP lease dnsmasq recorded', async function () {
    console.log(`      NOTE: ${guestDomainTypeNote()}`);
    const guest = await ensureGuestTemplate({ logger });
    console.log(`      template: ${guest.path} (${guest.sizeBytes} bytes, virtual ${guest.virtualSizeBytes}) from ${guest.packages.join(' ')}`);
    const network: GuestNetworkSpec = {
      uid: netUid,
      inUse: true,
      segment: { type: 'vxlan', vni, localVtep: '192.168.79.1', remoteVteps: [] },
      dhcp: {
        cidr: '10.63.0.0/24',
        serviceAddress: '10.63.0.254',
        gateway: '10.63.0.1',
        domain: 'guest.kumulus.test',
        hosts: [{ mac, ip: '10.63.0.20', hostname: 'tiny' }],
      },
    };
    const net = linuxNetworkDriver({ stateDir: join(workDir, 'dnsmasq'), serviceNamespacePrefix, logger });
    await net.apply([network]);

    const storage = fileStorageDriver({ hostName: 'e2e', logger });
    const pool: PoolSpec = { type: 'Local', uid: randomUUID(), path: join(workDir, 'pool') };
    await storage.applyPool(pool);
    await storage.applyVolume(pool, {
      kind: 'root',
      uid: rootUid,
      template: { uid: randomUUID(), format: 'qcow2', checksum: `{SHA-256}${guest.sha256}`, url: `file://${guest.path}` },
    });
    const drive = await ensureConfigDrive(run, join(workDir, 'config-drives'), {
      uid: vmUid,
      name: 'Tiny One',
      hostName: 'tiny-1',
      availabilityZone: 'zone-e2e',
      publicKeys: [{ name: 'e2e-key', key: `ssh-ed25519 ${keyBlob} e2e@kumulus` }],
      userData: Buffer.from('#!/bin/sh\necho "user data ran as $(id -u) on $(hostname)"\n'),
      nics: [{ mac, networkUid: netUid, ipAddress: '10.63.0.20', netmask: '255.255.255.0', gateway: '10.63.0.1', isDefault: true, dns: '10.63.0.254', mtu: 1450 }],
    });

    hypervisor = libvirtDriver({ uri: libvirt.uri, domainType: guestDomainType, logger });
    const serialLogPath = join(workDir, 'serial.log');
    const bridge = bridgeName({ type: 'vxlan', vni });
    await hypervisor.define({
      uid: vmUid,
      vcpus: 1,
      memoryMiB: 192,
      disks: [{ path: join(workDir, 'pool', `${rootUid}.qcow2`), format: 'qcow2', volumeUid: rootUid, deviceId: 0 }],
      nics: [{ mac, bridge, mtu: 1450 }],
      configDrive: drive.path,
      serialLogPath,
    });
    await hypervisor.start(vmUid);

    const started = Date.now();
    const deadline = started + 240_000;
    let serial = '';
    while (!serial.includes('kumulus-guest: lease') || !serial.includes('kumulus-guest: user-data exit')) {
      if (Date.now() > deadline) throw new Error(`the guest did not obtain a lease in 240 s; serial log:\n${serial}`);
      await sleep(1000);
      serial = await readFile(serialLogPath, 'utf8').catch(() => '');
    }
    const seconds = (Date.now() - started) / 1000;
    const lines = serial.split('\n').filter((l) => l.includes('kumulus-guest:')).map((l) => l.trim());
    console.log(`      boot to lease: ${seconds} s (domain type ${guestDomainType}); guest serial:\n        ${lines.join('\n        ')}`);
    const leaseLine = lines.find((l) => l.includes('kumulus-guest: lease')) ?? '';
    expect(serial, 'SYSLINUX booted from the disk').to.include('SYSLINUX');
    expect(serial).to.include(`kumulus-guest: nic eth0 mac=${mac}`);
    const fingerprint = (createHash('md5').update(Buffer.from(keyBlob, 'base64')).digest('hex').match(/../g) ?? []).join(':');
    expect(serial).to.include(`kumulus-guest: ssh-key for root: type=ssh-ed25519 comment=e2e@kumulus fingerprint=${fingerprint}`);
    expect(serial).to.include(`kumulus-guest: config-drive hostname=tiny-1 ssh-key=e2e@kumulus uuid=${vmUid} name=Tiny One zone=zone-e2e`);
    expect(serial).to.include('kumulus-guest: network-data links=1');
    expect(serial).to.include('kumulus-guest: user-data: user data ran as 0 on tiny-1');
    expect(leaseLine).to.include('eth0 ip=10.63.0.20/24');
    expect(leaseLine).to.include('router=10.63.0.1');
    expect(leaseLine).to.include('mtu=1450');
    const leases = await readFile(join(workDir, 'dnsmasq', bridge, 'leases'), 'utf8');
    console.log(`      dnsmasq lease: ${leases.trim()}`);
    expect(leases).to.match(new RegExp(`${mac} 10\\.63\\.0\\.20 tiny`));
  });
});
