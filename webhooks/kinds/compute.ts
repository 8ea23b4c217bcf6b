import {
  Account,
  AffinityGroup,
  DiskOffering,
  Domain,
  Host,
  IPAddress,
  Network,
  SSHKeyPair,
  ServiceOffering,
  Template,
  VirtualMachine,
  Volume,
  Zone,
  type DiskOfferingObject,
  type IPAddressObject,
  type NetworkObject,
  type ServiceOfferingObject,
  type TemplateObject,
  type VirtualMachineObject,
  type VolumeObject,
  type ZoneObject,
  type KindInfo,
} from '../../crds/index.ts';
import type { KubeObject } from '../../lib/kube-client.ts';
import type { FieldError, KindAdmission } from '../admission.ts';
import type { Lookup } from '../lookup.ts';
import { ipAddressName } from '../../lib/guest-identity.ts';
import { guestAddressing, guestAddressProblem } from '../../lib/ipv4.ts';
import {
  defaultDisplayName,
  defaultDisplayText,
  domainScopeErrors,
  inactiveOffering,
  kindAdmission,
  quantityValue,
  refChanged,
  resolveRef,
  tenantOf,
  zoneScopeErrors,
  type Admitted,
  type NameRef,
} from './rules.ts';

/**
 * Admission of compute.kumulus.io: a VM or volume names offerings, templates, networks and
 * keys that exist, are usable in its zone, and sizes that fit the offering (CloudStack's
 * deployVirtualMachine and createVolume checks).
 */

type VirtualMachineAdmitted = Admitted<VirtualMachineObject>;
type VolumeAdmitted = Admitted<VolumeObject>;
type TemplateAdmitted = Admitted<TemplateObject>;
type ServiceOfferingAdmitted = Admitted<ServiceOfferingObject>;
type DiskOfferingAdmitted = Admitted<DiskOfferingObject>;

const HOST_NAME = /^[a-zA-Z0-9]([-a-zA-Z0-9]*[a-zA-Z0-9])?$/;

/** A namespaced reference defaults to the referrer's namespace. */
const inNamespace = (ref: NameRef | undefined, namespace: string | undefined): NameRef | undefined => (ref ? { name: ref.name, namespace: ref.namespace ?? namespace } : undefined);

function availableInZone(template: TemplateAdmitted, zone: string): boolean {
  return Boolean(template.spec.crossZones) || (template.spec.zoneRefs ?? []).some((z) => z.name === zone);
}

async function templateErrors(lookup: Lookup, path: string, ref: NameRef | undefined, zone: string, wantIso: boolean, check: boolean): Promise<FieldError[]> {
  const { parent, errors } = await resolveRef<TemplateAdmitted>(lookup, Template, path, ref, check);
  if (!parent || !check) return errors;
  const name = `${ref?.namespace}/${ref?.name}`;
  if (wantIso !== (parent.spec.format === 'ISO')) {
    errors.push({
      field: path,
      message: wantIso ? `template ${name} is ${parent.spec.format}, not an ISO; name an ISO here, or use spec.templateRef` : `template ${name} is an ISO; boot it through spec.isoRef with spec.rootDiskOfferingRef, or name a QCOW2 or RAW template`,
    });
  }
  if (!availableInZone(parent, zone)) {
    errors.push({ field: path, message: `template ${name} is not registered in zone ${zone} (its zones: ${(parent.spec.zoneRefs ?? []).map((z) => z.name).join(', ') || 'none'}); add the zone to its spec.zoneRefs` });
  }
  return errors;
}

/** A size against a customizable disk offering's bounds, or its absence for a fixed one. */
function diskSizeErrors(path: string, size: string | number | undefined, offering: DiskOfferingAdmitted | undefined, required: boolean): FieldError[] {
  if (!offering) return [];
  const name = offering.metadata.name ?? '';
  const custom = offering.spec.customized;
  if (!custom) {
    return size === undefined ? [] : [{ field: path, message: `disk offering ${name} has the fixed size ${offering.spec.diskSize}; remove the size, or use a customized disk offering` }];
  }
  if (size === undefined) return required ? [{ field: path, message: `is required: disk offering ${name} is customized; give a size from ${custom.minSize ?? '1Gi'} to ${custom.maxSize ?? '1Ti'}` }] : [];
  const value = quantityValue(size);
  const [min, max] = [quantityValue(custom.minSize ?? '1Gi')!, quantityValue(custom.maxSize ?? '1Ti')!];
  if (value === undefined || value >= min && value <= max) return [];
  return [{ field: path, message: `${size} is outside disk offering ${name}'s range ${custom.minSize ?? '1Gi'}-${custom.maxSize ?? '1Ti'}; give a size within it` }];
}

function computeSizeErrors(spec: VirtualMachineAdmitted['spec'], offering: ServiceOfferingAdmitted): FieldError[] {
  const name = offering.metadata.name ?? '';
  const custom = offering.spec.customized;
  const errors: FieldError[] = [];
  if (!custom) {
    for (const field of ['cpuNumber', 'cpuSpeed', 'memory'] as const) {
      if (spec[field] !== undefined) errors.push({ field: `spec.${field}`, message: `service offering ${name} is a fixed size; remove spec.${field}, or use a customized offering` });
    }
    return errors;
  }
  const minCpu = custom.minCpuNumber ?? 1;
  if (spec.cpuNumber === undefined) errors.push({ field: 'spec.cpuNumber', message: `is required: service offering ${name} is customized; give ${minCpu} to ${custom.maxCpuNumber} cores` });
  else if (spec.cpuNumber < minCpu || spec.cpuNumber > custom.maxCpuNumber) {
    errors.push({ field: 'spec.cpuNumber', message: `${spec.cpuNumber} is outside service offering ${name}'s range ${minCpu}-${custom.maxCpuNumber}; give a core count within it` });
  }
  const [minMemory, maxMemory] = [custom.minMemory ?? '512Mi', custom.maxMemory];
  const memory = quantityValue(spec.memory);
  if (spec.memory === undefined) errors.push({ field: 'spec.memory', message: `is required: service offering ${name} is customized; give ${minMemory} to ${maxMemory}` });
  else if (memory !== undefined && (memory < quantityValue(minMemory)! || memory > quantityValue(maxMemory)!)) {
    errors.push({ field: 'spec.memory', message: `${spec.memory} is outside service offering ${name}'s range ${minMemory}-${maxMemory}; give an amount within it` });
  }
  return errors;
}

async function nicErrors(lookup: Lookup, vm: VirtualMachineAdmitted, old: VirtualMachineAdmitted | undefined): Promise<FieldError[]> {
  const errors: FieldError[] = [];
  const namespace = vm.metadata.namespace;
  for (const [i, nic] of (vm.spec.networks ?? []).entries()) {
    const before = old?.spec.networks?.find((n) => n.name === nic.name);
    if (before && before.ipAddress === nic.ipAddress) continue;
    const path = `spec.networks[${i}].name`;
    const { parent: network, errors: refErrors } = await resolveRef<Admitted<NetworkObject>>(lookup, Network, path, { name: nic.name, namespace }, !before);
    errors.push(...refErrors);
    if (!network) continue;
    if (network.spec.zoneRef.name !== vm.spec.zoneRef.name) {
      errors.push({ field: path, message: `network ${nic.name} is in zone ${network.spec.zoneRef.name}, not the VM's zone ${vm.spec.zoneRef.name}; attach a network of zone ${vm.spec.zoneRef.name}` });
    }
    const addressing = guestAddressing(network);
    if (!addressing || nic.ipAddress === undefined) continue;
    const ipPath = `spec.networks[${i}].ipAddress`;
    const problem = guestAddressProblem(addressing, nic.ipAddress, nic.name);
    if (problem) {
      errors.push({ field: ipPath, message: problem.message });
      continue;
    }
    // Taken by another NIC: the IPAddress named after the network and the address holds another consumer.
    const holder = await lookup.get<Admitted<IPAddressObject>>(IPAddress, ipAddressName(network.metadata.uid ?? '', nic.ipAddress));
    const consumer = holder?.spec.consumerRef;
    if (holder && !holder.metadata.deletionTimestamp && consumer?.uid !== vm.metadata.uid) {
      const who = consumer && consumer.namespace === namespace ? ` by VM ${consumer.name}` : '';
      errors.push({ field: ipPath, message: `${nic.ipAddress} is already allocated on network ${nic.name}${who}; choose another address, or leave ${ipPath} out to get the next free one` });
    }
  }
  return errors;
}

export function virtualMachineAdmission(lookup: Lookup): KindAdmission<VirtualMachineAdmitted> {
  return kindAdmission<VirtualMachineAdmitted>(VirtualMachine, lookup, {
    defaults(vm) {
      defaultDisplayName(vm);
      const name = vm.metadata.name;
      if (name && name.length <= 63 && HOST_NAME.test(name)) vm.spec.hostName ??= name;
      // The first network carries the default route when none says so; `default: false` comes from the schema default.
      const first = vm.spec.networks?.[0];
      if (first && !vm.spec.networks!.some((n) => n.default)) first.default = true;
    },
    rules: [
      async (ctx) => {
        const { object, lookup } = ctx;
        const spec = object.spec;
        const namespace = object.metadata.namespace;
        const zone = spec.zoneRef.name;
        const changed = (read: (s: VirtualMachineAdmitted['spec']) => unknown) => refChanged(ctx, (o) => read(o.spec));
        const zoneRef = await resolveRef<Admitted<ZoneObject>>(lookup, Zone, 'spec.zoneRef.name', spec.zoneRef, changed((s) => s.zoneRef));
        const errors = zoneRef.errors;
        const tenant = await tenantOf(lookup, Account, Domain, namespace);
        const dedicatedTo = zoneRef.parent?.spec.dedication?.domainRef.name;
        if (changed((s) => s.zoneRef)) errors.push(...domainScopeErrors('spec.zoneRef.name', `zone ${zone}`, dedicatedTo ? [dedicatedTo] : undefined, tenant));
        /** What every offering the VM names must allow: its zone, the account's domain, and being Active. */
        const offeringErrors = (kind: KindInfo, path: string, offering: (KubeObject & { spec: { zoneRefs?: NameRef[]; domainRefs?: NameRef[] } }) | undefined): FieldError[] =>
          offering
            ? [
                ...inactiveOffering(kind, path, offering),
                ...zoneScopeErrors(path, `${kind.kind} ${offering.metadata.name}`, offering.spec.zoneRefs, zone),
                ...domainScopeErrors(path, `${kind.kind} ${offering.metadata.name}`, offering.spec.domainRefs?.map((d) => d.name), tenant),
              ]
            : [];

        const sizing = changed((s) => [s.serviceOfferingRef, s.cpuNumber, s.cpuSpeed, s.memory]);
        const so = await resolveRef<ServiceOfferingAdmitted>(lookup, ServiceOffering, 'spec.serviceOfferingRef.name', spec.serviceOfferingRef, changed((s) => s.serviceOfferingRef));
        errors.push(...so.errors);
        if (so.parent && sizing) {
          if (changed((s) => s.serviceOfferingRef)) errors.push(...offeringErrors(ServiceOffering, 'spec.serviceOfferingRef.name', so.parent));
          errors.push(...computeSizeErrors(spec, so.parent));
        }

        errors.push(...(await templateErrors(lookup, 'spec.templateRef.name', inNamespace(spec.templateRef, namespace), zone, false, changed((s) => s.templateRef))));
        errors.push(...(await templateErrors(lookup, 'spec.isoRef.name', inNamespace(spec.isoRef, namespace), zone, true, changed((s) => s.isoRef))));
        const rootOffering = await resolveRef<DiskOfferingAdmitted>(lookup, DiskOffering, 'spec.rootDiskOfferingRef.name', spec.rootDiskOfferingRef, changed((s) => s.rootDiskOfferingRef));
        errors.push(...rootOffering.errors);
        if (changed((s) => s.rootDiskOfferingRef)) errors.push(...offeringErrors(DiskOffering, 'spec.rootDiskOfferingRef.name', rootOffering.parent));

        for (const [i, disk] of (spec.dataDisks ?? []).entries()) {
          const before = ctx.oldObject?.spec.dataDisks?.find((d) => d.name === disk.name);
          if (before && before.diskOfferingRef.name === disk.diskOfferingRef.name && before.size === disk.size) continue;
          const path = `spec.dataDisks[${i}].diskOfferingRef.name`;
          const offering = await resolveRef<DiskOfferingAdmitted>(lookup, DiskOffering, path, disk.diskOfferingRef);
          errors.push(...offering.errors, ...offeringErrors(DiskOffering, path, offering.parent), ...diskSizeErrors(`spec.dataDisks[${i}].size`, disk.size, offering.parent, true));
        }
        errors.push(...(await resolveRef(lookup, SSHKeyPair, 'spec.sshKeyPairRef.name', inNamespace(spec.sshKeyPairRef, namespace), changed((s) => s.sshKeyPairRef))).errors);
        for (const [i, group] of (spec.affinityGroupRefs ?? []).entries()) {
          const isNew = !ctx.oldObject?.spec.affinityGroupRefs?.some((g) => g.name === group.name);
          errors.push(...(await resolveRef(lookup, AffinityGroup, `spec.affinityGroupRefs[${i}].name`, inNamespace(group, namespace), isNew)).errors);
        }
        errors.push(...(await resolveRef(lookup, Host, 'spec.hostRef.name', spec.hostRef, changed((s) => s.hostRef))).errors);
        errors.push(...(await nicErrors(lookup, object, ctx.oldObject)));
        return errors;
      },
    ],
  });
}

export function volumeAdmission(lookup: Lookup): KindAdmission<VolumeAdmitted> {
  return kindAdmission<VolumeAdmitted>(Volume, lookup, {
    defaults(volume) {
      defaultDisplayName(volume);
      // type DATADISK arrives from the schema default; a volume made from a template is a root disk.
      if (volume.spec.type === 'DATADISK' && volume.spec.templateRef && !volume.spec.diskOfferingRef) volume.spec.type = 'ROOT';
    },
    rules: [
      async (ctx) => {
        const { object, lookup } = ctx;
        const spec = object.spec;
        const namespace = object.metadata.namespace;
        const changed = (read: (s: VolumeAdmitted['spec']) => unknown) => refChanged(ctx, (o) => read(o.spec));
        const errors = (await resolveRef(lookup, Zone, 'spec.zoneRef.name', spec.zoneRef, changed((s) => s.zoneRef))).errors;
        const offering = await resolveRef<DiskOfferingAdmitted>(lookup, DiskOffering, 'spec.diskOfferingRef.name', spec.diskOfferingRef, changed((s) => s.diskOfferingRef));
        errors.push(...offering.errors);
        if (changed((s) => s.diskOfferingRef) && offering.parent) {
          const tenant = await tenantOf(lookup, Account, Domain, namespace);
          const what = `DiskOffering ${offering.parent.metadata.name}`;
          errors.push(
            ...inactiveOffering(DiskOffering, 'spec.diskOfferingRef.name', offering.parent),
            ...zoneScopeErrors('spec.diskOfferingRef.name', what, offering.parent.spec.zoneRefs, spec.zoneRef.name),
            ...domainScopeErrors('spec.diskOfferingRef.name', what, offering.parent.spec.domainRefs?.map((d) => d.name), tenant),
          );
        }
        if (spec.type !== 'ROOT' && changed((s) => [s.diskOfferingRef, s.size])) {
          // Growing a volume past a fixed offering's size is a resize, which CloudStack allows; only creation is held to the offering.
          if (ctx.operation === 'CREATE') errors.push(...diskSizeErrors('spec.size', spec.size, offering.parent, true));
        }
        errors.push(...(await templateErrors(lookup, 'spec.templateRef.name', inNamespace(spec.templateRef, namespace), spec.zoneRef.name, false, changed((s) => s.templateRef))));
        const vm = await resolveRef<VirtualMachineAdmitted>(lookup, VirtualMachine, 'spec.vmRef.name', inNamespace(spec.vmRef, namespace), changed((s) => s.vmRef));
        errors.push(...vm.errors);
        if (vm.parent && changed((s) => [s.vmRef, s.deviceId])) {
          if (vm.parent.spec.zoneRef.name !== spec.zoneRef.name) {
            errors.push({ field: 'spec.vmRef.name', message: `VM ${spec.vmRef?.name} is in zone ${vm.parent.spec.zoneRef.name}, not the volume's zone ${spec.zoneRef.name}; attach it to a VM of zone ${spec.zoneRef.name}` });
          }
          const taken = lookup
            .referencing<VolumeAdmitted>(Volume, 'vmRef', spec.vmRef!.name)
            .find((v) => v.metadata.namespace === namespace && v.metadata.name !== object.metadata.name && spec.deviceId !== undefined && v.spec.deviceId === spec.deviceId);
          if (taken) {
            errors.push({ field: 'spec.deviceId', message: `${spec.deviceId} is already volume ${taken.metadata.name}'s device on VM ${spec.vmRef?.name}; pick a free device id or leave it out` });
          }
        }
        return errors;
      },
    ],
  });
}

export function templateAdmission(lookup: Lookup): KindAdmission<TemplateAdmitted> {
  return kindAdmission<TemplateAdmitted>(Template, lookup, {
    defaults: defaultDisplayText,
    rules: [
      async ({ object, oldObject, lookup }) => {
        const errors: FieldError[] = [];
        for (const [i, zone] of (object.spec.zoneRefs ?? []).entries()) {
          const isNew = !oldObject?.spec.zoneRefs?.some((z) => z.name === zone.name);
          errors.push(...(await resolveRef(lookup, Zone, `spec.zoneRefs[${i}].name`, zone, isNew)).errors);
        }
        return errors;
      },
    ],
  });
}

export const computeAdmissions = (lookup: Lookup): KindAdmission[] =>
  [virtualMachineAdmission(lookup), volumeAdmission(lookup), templateAdmission(lookup)] as unknown as KindAdmission[];
