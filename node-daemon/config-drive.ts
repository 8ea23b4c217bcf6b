/**
 * A VM's config drive: how its SSH keys, user data, hostname and metadata reach the guest
 * without a metadata server (DESIGN.md, "Guest data"). It is cloud-init's ConfigDrive v2, as
 * CloudStack's KVM agent writes it: an ISO9660 image labelled config-2 holding
 * openstack/latest/{meta_data.json, user_data, network_data.json, vendor_data.json}, plus
 * CloudStack's own cloudstack/ tree for images that read that instead. The agent keeps one
 * per VM at <dir>/<vm uid>.iso and rebuilds it when its inputs change; a running guest sees
 * the new one at its next start, as with CloudStack.
 */
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { NetworkObject, SSHKeyPairObject, VirtualMachineObject } from '../crds/index.ts';
import { guestAddressing } from '../lib/ipv4.ts';
import type { Runner } from './drivers/exec.ts';
import { assertUid } from './drivers/identity.ts';

export interface ConfigDriveNic {
  mac: string;
  /** The Network's uid (network_data.json's network_id). */
  networkUid: string;
  ipAddress?: string;
  netmask?: string;
  gateway?: string;
  /** Carries the default route (the VM's default NIC). */
  isDefault?: boolean;
  /** Where the guest's DNS server answers (the network's service address). */
  dns?: string;
  mtu?: number;
}

export interface ConfigDriveInput {
  /** The VM's metadata.uid: the instance id cloud-init keys its once-per-instance work on. */
  uid: string;
  /** The VM's name (CloudStack's name: spec.displayName, else metadata.name). */
  name: string;
  hostName: string;
  availabilityZone: string;
  /** The VM's namespace (CloudStack's account). */
  project?: string;
  publicKeys: { name: string; key: string }[];
  /** Decoded user data. */
  userData?: Buffer;
  /** Free-form metadata (meta_data.json's meta). */
  meta?: Record<string, string>;
  nics: ConfigDriveNic[];
}

/**
 * A VM's config drive input, from the VM (hostName, userData, its zone, status.nics), its
 * SSHKeyPair and the Networks of its NICs (for the DNS server, the network's service address).
 */
export function configDriveInputOf(vm: VirtualMachineObject, keyPair: SSHKeyPairObject | undefined, networkOf: (name: string) => NetworkObject | undefined): ConfigDriveInput {
  const userData = vm.spec.userData !== undefined ? Buffer.from(vm.spec.userData, 'base64') : undefined;
  return {
    uid: vm.metadata.uid ?? '',
    name: vm.spec.displayName ?? vm.metadata.name ?? '',
    hostName: vm.spec.hostName ?? vm.metadata.name ?? '',
    availabilityZone: vm.spec.zoneRef.name,
    ...(vm.metadata.namespace !== undefined ? { project: vm.metadata.namespace } : {}),
    // A generated pair has its public key once the operator made it.
    publicKeys: keyPair?.spec.publicKey !== undefined ? [{ name: keyPair.metadata.name ?? '', key: keyPair.spec.publicKey }] : [],
    ...(userData !== undefined && userData.length > 0 ? { userData } : {}),
    nics: (vm.status?.nics ?? []).map((nic) => {
      const network = networkOf(nic.network);
      const dns = network ? guestAddressing(network)?.serviceAddress : undefined;
      return {
        mac: nic.macAddress,
        networkUid: network?.metadata.uid ?? nic.network,
        ...(nic.ipAddress !== undefined ? { ipAddress: nic.ipAddress } : {}),
        ...(nic.netmask !== undefined ? { netmask: nic.netmask } : {}),
        ...(nic.gateway !== undefined ? { gateway: nic.gateway } : {}),
        isDefault: nic.isDefault,
        ...(dns !== undefined ? { dns } : {}),
      };
    }),
  };
}

/** The files of the drive, by path inside it. A pure function of the input. */
export function configDriveFiles(input: ConfigDriveInput): Map<string, Buffer> {
  assertUid('config drive uid', input.uid);
  const json = (value: unknown) => Buffer.from(`${JSON.stringify(value, null, 2)}\n`);
  // One member per line (indented JSON): the local cloud's guest reads it with sed.
  const metaData = {
    uuid: input.uid,
    name: input.name,
    hostname: input.hostName,
    availability_zone: input.availabilityZone,
    launch_index: 0,
    ...(input.project !== undefined ? { project_id: input.project } : {}),
    public_keys: Object.fromEntries(input.publicKeys.map((k) => [k.name, k.key])),
    keys: input.publicKeys.map((k) => ({ name: k.name, type: 'ssh', data: k.key })),
    meta: input.meta ?? {},
  };
  const links = input.nics.map((nic, i) => ({ id: `interface${i}`, type: 'phy', ethernet_mac_address: nic.mac, ...(nic.mtu !== undefined ? { mtu: nic.mtu } : {}) }));
  const networks = input.nics.map((nic, i) => {
    const base = { id: `network${i}`, link: `interface${i}`, network_id: nic.networkUid };
    if (nic.ipAddress === undefined || nic.netmask === undefined) return { ...base, type: 'ipv4_dhcp' };
    return {
      ...base,
      type: 'ipv4',
      ip_address: nic.ipAddress,
      netmask: nic.netmask,
      routes: nic.gateway !== undefined && nic.isDefault === true ? [{ network: '0.0.0.0', netmask: '0.0.0.0', gateway: nic.gateway }] : [],
    };
  });
  const dns = [...new Set(input.nics.flatMap((n) => (n.dns !== undefined ? [n.dns] : [])))];
  const files = new Map<string, Buffer>([
    ['openstack/latest/meta_data.json', json(metaData)],
    ['openstack/latest/network_data.json', json({ links, networks, services: dns.map((address) => ({ type: 'dns', address })) })],
    ['openstack/latest/vendor_data.json', json({})],
    ['cloudstack/metadata/instance-id.txt', Buffer.from(input.uid)],
    ['cloudstack/metadata/vm-id.txt', Buffer.from(input.uid)],
    ['cloudstack/metadata/local-hostname.txt', Buffer.from(input.hostName)],
    ['cloudstack/metadata/availability-zone.txt', Buffer.from(input.availabilityZone)],
    ['cloudstack/metadata/public-keys.txt', Buffer.from(input.publicKeys.map((k) => `${k.key}\n`).join(''))],
  ]);
  if (input.userData !== undefined) {
    files.set('openstack/latest/user_data', input.userData);
    files.set('cloudstack/userdata/user_data.txt', input.userData);
  }
  return files;
}

/** What the drive holds, as one digest: the agent rebuilds it when this changes. */
export function configDriveDigest(files: Map<string, Buffer>): string {
  const hash = createHash('sha256');
  for (const [path, content] of [...files].sort(([a], [b]) => a.localeCompare(b))) {
    hash.update(`${path}\0${content.length}\0`).update(content);
  }
  return hash.digest('hex');
}

export function configDrivePath(dir: string, uid: string): string {
  assertUid('config drive uid', uid);
  return join(dir, `${uid}.iso`);
}

/**
 * Makes <dir>/<uid>.iso hold the input, building it (genisoimage) only when its digest
 * differs from the one recorded beside it. The image is written under a temporary name and
 * renamed, so a guest or a crash never sees half an ISO.
 */
export async function ensureConfigDrive(run: Runner, dir: string, input: ConfigDriveInput): Promise<{ path: string; digest: string; built: boolean }> {
  const files = configDriveFiles(input);
  const digest = configDriveDigest(files);
  const path = configDrivePath(dir, input.uid);
  const recorded = await readFile(`${path}.sha256`, 'utf8').catch(() => '');
  const present = await stat(path).then(() => true, () => false);
  if (recorded.trim() === digest && present) return { path, digest, built: false };
  await mkdir(dir, { recursive: true });
  // Leftovers of a build an agent was killed in.
  for (const name of await readdir(dir)) if (name.startsWith(`.${input.uid}-`)) await rm(join(dir, name), { recursive: true, force: true });
  const staging = await mkdtemp(join(dir, `.${input.uid}-`));
  try {
    for (const [name, content] of files) {
      await mkdir(dirname(join(staging, 'root', name)), { recursive: true });
      await writeFile(join(staging, 'root', name), content);
    }
    const part = join(staging, 'drive.iso');
    await run(['genisoimage', '-quiet', '-input-charset', 'utf-8', '-J', '-R', '-V', 'config-2', '-o', part, join(staging, 'root')]);
    await rename(part, path);
    await writeFile(`${path}.sha256`, digest);
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
  return { path, digest, built: true };
}

export async function removeConfigDrive(dir: string, uid: string): Promise<void> {
  const path = configDrivePath(dir, uid);
  await rm(path, { force: true });
  await rm(`${path}.sha256`, { force: true });
}

/**
 * The agent's config drives: `ensure` builds (or keeps) a VM's drive from the objects it reads
 * and returns the path for DomainSpec.configDrive; `remove` deletes it once the domain is gone.
 */
export interface ConfigDrives {
  ensure(vm: VirtualMachineObject): Promise<string>;
  remove(uid: string): Promise<void>;
}

export function configDrives(deps: {
  dir: string;
  run: Runner;
  keyPairOf: (vm: VirtualMachineObject) => SSHKeyPairObject | undefined;
  networkOf: (vm: VirtualMachineObject, name: string) => NetworkObject | undefined;
}): ConfigDrives {
  return {
    ensure: async (vm) => (await ensureConfigDrive(deps.run, deps.dir, configDriveInputOf(vm, deps.keyPairOf(vm), (name) => deps.networkOf(vm, name)))).path,
    remove: (uid) => removeConfigDrive(deps.dir, uid),
  };
}
