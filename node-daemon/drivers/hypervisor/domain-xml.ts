import { createHash } from 'node:crypto';
import { isAbsolute } from 'node:path';
import { assertUid, domainName } from '../identity.ts';
import type { DomainDisk, DomainSpec } from './types.ts';

/** libvirt's domain type: kvm on hosts with /dev/kvm, qemu (TCG) without, test for test:///. */
export type DomainType = 'kvm' | 'qemu' | 'test';

/**
 * CloudStack's guest.cpu.mode. Unset means the hypervisor's default model, which boots
 * everywhere, including nested KVM where host-passthrough can fail on unsupported MSRs.
 */
export type GuestCpuMode = 'host-model' | 'host-passthrough';

export interface RenderOptions {
  type: DomainType;
  cpuMode?: GuestCpuMode;
}

const metadataNamespace = 'https://kumulus.io/xmlns/domain/v1';
const macPattern = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/;

function escape(value: string): string {
  return value.replace(/[<>&'"]/g, (c) => `&#${c.charCodeAt(0)};`);
}

function invalid(field: string, problem: string): never {
  throw new Error(`domain spec ${field}: ${problem}`);
}

export function validateDomainSpec(spec: DomainSpec): void {
  assertUid('domain spec uid', spec.uid);
  if (!Number.isInteger(spec.vcpus) || spec.vcpus < 1) invalid('vcpus', `${spec.vcpus} must be an integer ≥ 1`);
  if (!Number.isInteger(spec.memoryMiB) || spec.memoryMiB < 32) {
    invalid('memoryMiB', `${spec.memoryMiB} must be an integer ≥ 32`);
  }
  const deviceIds = new Set<number>();
  spec.disks.forEach((disk, i) => {
    if (!isAbsolute(disk.path)) invalid(`disks[${i}].path`, `"${disk.path}" must be an absolute path`);
    assertUid(`domain spec disks[${i}].volumeUid`, disk.volumeUid);
    if (!Number.isInteger(disk.deviceId) || disk.deviceId < 0 || disk.deviceId > 63) invalid(`disks[${i}].deviceId`, `${disk.deviceId} must be an integer from 0 to 63`);
    if (deviceIds.has(disk.deviceId)) invalid(`disks[${i}].deviceId`, `${disk.deviceId} is taken by another disk: give each Volume of the VM its own spec.deviceId`);
    deviceIds.add(disk.deviceId);
  });
  spec.nics.forEach((nic, i) => {
    if (!macPattern.test(nic.mac)) invalid(`nics[${i}].mac`, `"${nic.mac}" must be lower-case aa:bb:cc:dd:ee:ff`);
    if (nic.bridge.length === 0 || nic.bridge.length > 15) invalid(`nics[${i}].bridge`, 'must be 1-15 characters');
    if (nic.mtu !== undefined && (!Number.isInteger(nic.mtu) || nic.mtu < 576)) {
      invalid(`nics[${i}].mtu`, `${nic.mtu} must be an integer ≥ 576`);
    }
  });
  if (!isAbsolute(spec.serialLogPath)) invalid('serialLogPath', `"${spec.serialLogPath}" must be an absolute path`);
  if (spec.configDrive !== undefined && !isAbsolute(spec.configDrive)) invalid('configDrive', `"${spec.configDrive}" must be an absolute path`);
  if (spec.iso !== undefined && !isAbsolute(spec.iso)) invalid('iso', `"${spec.iso}" must be an absolute path`);
}

/** a, b, ... z, aa, ab...: the letters of a disk target name. */
function letters(index: number): string {
  const letter = String.fromCharCode(97 + (index % 26));
  return index < 26 ? letter : `${letters(Math.floor(index / 26) - 1)}${letter}`;
}

/** The guest device of a disk: vda for deviceId 0, sd<letters> on the SCSI controller for the others. */
export function diskTarget(deviceId: number): { dev: string; bus: 'virtio' | 'scsi' } {
  return deviceId === 0 ? { dev: 'vda', bus: 'virtio' } : { dev: `sd${letters(deviceId - 1)}`, bus: 'scsi' };
}

function diskLines(disk: DomainDisk, indent: string, bootable: boolean): string[] {
  const { dev, bus } = diskTarget(disk.deviceId);
  return [
    `<disk type='file' device='disk'>`,
    `  <driver name='qemu' type='${disk.format}' discard='unmap'/>`,
    `  <source file='${escape(disk.path)}'/>`,
    `  <target dev='${dev}' bus='${bus}'/>`,
    // virtio-blk serials are limited to 20 characters; SCSI disks get the same, so a guest finds both alike.
    `  <serial>${disk.volumeUid.replaceAll('-', '').slice(0, 20)}</serial>`,
    ...(bootable && disk.deviceId === 0 ? [`  <boot order='1'/>`] : []),
    ...(disk.readOnly ? ['  <readonly/>'] : []),
    `</disk>`,
  ].map((line) => `${indent}${line}`);
}

/** One disk as a device, for `virsh attach-device`: the same element the domain XML holds. */
export function renderDiskXml(disk: DomainDisk): string {
  return `${diskLines(disk, '', false).join('\n')}\n`;
}

function body(spec: DomainSpec, { type, cpuMode }: RenderOptions): string[] {
  const os = [`    <type arch='x86_64'>hvm</type>`];
  // Boot order per device (the root disk), not <os><boot dev='hd'>: with disks on two buses the firmware's "first hd" is not certain.
  const disks = [...spec.disks].sort((a, b) => a.deviceId - b.deviceId).flatMap((disk) => diskLines(disk, '    ', true));
  // hdd, as CloudStack's KVM agent attaches it: hdc stays free for an ISO.
  const configDrive =
    spec.configDrive === undefined
      ? []
      : [
          `    <disk type='file' device='cdrom'>`,
          `      <driver name='qemu' type='raw'/>`,
          `      <source file='${escape(spec.configDrive)}'/>`,
          `      <target dev='hdd' bus='ide'/>`,
          `      <readonly/>`,
          `    </disk>`,
        ];
  // hdc, CloudStack's ISO drive: always present (IDE cannot be hot-plugged), so media change live.
  // Second in boot order: a VM installing from its ISO boots it while the root disk is empty.
  const isoDrive = [
    `    <disk type='file' device='cdrom'>`,
    `      <driver name='qemu' type='raw'/>`,
    ...(spec.iso !== undefined ? [`      <source file='${escape(spec.iso)}'/>`] : []),
    `      <target dev='hdc' bus='ide'/>`,
    `      <readonly/>`,
    `      <boot order='2'/>`,
    `    </disk>`,
  ];
  const nics = spec.nics.flatMap((nic) => [
    `    <interface type='bridge'>`,
    `      <mac address='${nic.mac}'/>`,
    `      <source bridge='${escape(nic.bridge)}'/>`,
    `      <model type='virtio'/>`,
    // No option ROM (iPXE): guests boot from their disk or ISO, never from the network, and the
    // firmware would copy and run the ROM at every power-on all the same.
    `      <rom enabled='no'/>`,
    ...(nic.mtu !== undefined ? [`      <mtu size='${nic.mtu}'/>`] : []),
    `    </interface>`,
  ]);
  return [
    `  <name>${domainName(spec.uid)}</name>`,
    `  <uuid>${spec.uid}</uuid>`,
    ...(spec.title !== undefined ? [`  <title>${escape(spec.title)}</title>`] : []),
    `  <memory unit='MiB'>${spec.memoryMiB}</memory>`,
    `  <currentMemory unit='MiB'>${spec.memoryMiB}</currentMemory>`,
    `  <vcpu placement='static'>${spec.vcpus}</vcpu>`,
    `  <os>`,
    ...os,
    `  </os>`,
    `  <features><acpi/><apic/></features>`,
    ...(type === 'kvm' && cpuMode !== undefined ? [`  <cpu mode='${cpuMode}' check='none'/>`] : []),
    `  <clock offset='utc'/>`,
    `  <on_poweroff>destroy</on_poweroff>`,
    `  <on_reboot>restart</on_reboot>`,
    `  <on_crash>destroy</on_crash>`,
    `  <devices>`,
    ...disks,
    ...configDrive,
    ...isoDrive,
    `    <controller type='scsi' index='0' model='virtio-scsi'/>`,
    // No USB controller, which libvirt adds unless told: no device of ours is on USB (the VNC
    // console's keyboard and mouse are PS/2), and the firmware would probe its ports at every power-on.
    `    <controller type='usb' model='none'/>`,
    ...nics,
    `    <serial type='file'>`,
    `      <source path='${escape(spec.serialLogPath)}' append='on'/>`,
    `      <target port='0'/>`,
    `    </serial>`,
    `    <console type='file'>`,
    `      <source path='${escape(spec.serialLogPath)}' append='on'/>`,
    `      <target type='serial' port='0'/>`,
    `    </console>`,
    `    <graphics type='vnc' port='-1' autoport='yes' listen='${escape(spec.vncListen ?? '127.0.0.1')}'/>`,
    `    <memballoon model='virtio'/>`,
    `  </devices>`,
  ];
}

/**
 * The domain XML for a spec. The digest of everything Kumulus decides is stored in the
 * domain's metadata, so an agent that restarts can tell "already right" from "needs
 * redefining" without comparing libvirt's expanded XML, which adds defaults of its own.
 */
export function renderDomainXml(spec: DomainSpec, options: RenderOptions): { xml: string; digest: string } {
  validateDomainSpec(spec);
  const lines = body(spec, options);
  const digest = createHash('sha256').update(`${options.type}\n${lines.join('\n')}`).digest('hex');
  const xml = [
    `<domain type='${options.type}'>`,
    lines[0] ?? '',
    lines[1] ?? '',
    `  <metadata>`,
    `    <kumulus:domain xmlns:kumulus='${metadataNamespace}'><kumulus:digest>${digest}</kumulus:digest></kumulus:domain>`,
    `  </metadata>`,
    ...lines.slice(2),
    `</domain>`,
    '',
  ].join('\n');
  return { xml, digest };
}

/** The digest recorded in a domain's XML by renderDomainXml, if any. */
export function digestOfDomainXml(xml: string): string | undefined {
  return /<(?:\w+:)?digest>([0-9a-f]{64})<\/(?:\w+:)?digest>/.exec(xml)?.[1];
}
