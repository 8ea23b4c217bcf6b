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
import { attachedDeleteErrors, computeSizeErrors, diskSizeErrors, isReplacedRoot, rootDetachErrors, scaleErrors, shrinkErrors, templateReadiness } from '../../lib/compute.ts';
import { ipAddressName } from '../../lib/guest-identity.ts';
import { guestAddressing, guestAddressProblem } from '../../lib/ipv4.ts';
import {
  defaultDisplayName,
  defaultDisplayText,
  domainScopeErrors,
  inactiveOffering,
  kindAdmission,
  refChanged,
  resolveRef,
  tenantOf,
  zoneScopeErrors,
  type Admitted,
  type NameRef,
} from './rules.ts';
import { limitsRule } from './limits.ts';

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

/** `restore`: the template makes a restored VM's new root disk at once, so it must be downloaded to the zone already. */
async function templateErrors(lookup: Lookup, path: string, ref: NameRef | undefined, zone: string, wantIso: boolean, check: boolean, restore = false): Promise<FieldError[]> {
  const { parent, errors } = await resolveRef<TemplateAdmitted>(lookup, Template, path, ref, check);
  if (!parent || !check) return errors;
  const name = `${ref?.namespace}/${ref?.name}`;
  if (wantIso !== (parent.spec.format === 'ISO')) {
    errors.push({
      field: path,
      message: wantIso
        ? `template ${name} is ${parent.spec.format}, not an ISO; name an ISO here${path === 'spec.isoRef.name' ? ', or use spec.templateRef' : ''}`
        : `template ${name} is an ISO; boot it through spec.isoRef with spec.rootDiskOfferingRef, or name a QCOW2 or RAW template`,
    });
  }
  // Still downloading is admitted (a VM declared with its template waits for it); failed, deleted or elsewhere is not.
  const readiness = templateReadiness(parent, zone);
  if (readiness.state === 'failed' || readiness.state === 'absent') errors.push({ field: path, message: readiness.message });
  else if (restore && readiness.state === 'pending') errors.push({ field: path, message: `${readiness.message}; a restore needs a template that is Ready in the zone: wait for the download, or restore from another template` });
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
  const admission = kindAdmission<VirtualMachineAdmitted>(VirtualMachine, lookup, {
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

        // A restore (a new spec.restoreRequestedAt) remakes the root disk now: the VM must be live and its template Ready.
        const restoring = ctx.oldObject !== undefined && spec.restoreRequestedAt !== undefined && spec.restoreRequestedAt !== ctx.oldObject.spec.restoreRequestedAt;
        if (restoring && spec.state === 'Destroyed') errors.push({ field: 'spec.restoreRequestedAt', message: 'the VM is Destroyed: recover it (spec.state Stopped or Running) before restoring it' });
        errors.push(...(await templateErrors(lookup, 'spec.templateRef.name', inNamespace(spec.templateRef, namespace), zone, false, restoring || changed((s) => s.templateRef), restoring)));
        errors.push(...(await templateErrors(lookup, 'spec.isoRef.name', inNamespace(spec.isoRef, namespace), zone, true, changed((s) => s.isoRef))));
        errors.push(...(await templateErrors(lookup, 'spec.attachedIsoRef.name', inNamespace(spec.attachedIsoRef, namespace), zone, true, changed((s) => s.attachedIsoRef))));
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
        errors.push(...scaleErrors(object, ctx.oldObject));
        return errors;
      },
    ],
    limits: limitsRule(VirtualMachine),
  });
  const applyDefaults = admission.applyDefaults;
  return {
    ...admission,
    applyDefaults: async (vm, request) => {
      await applyDefaults?.(vm, request);
      // A VM deployed from an ISO has it in its drive, as CloudStack's deploy attaches it. On
      // CREATE only: the derived defaults kept on UPDATE would put back an ISO just detached.
      if (request.operation === 'CREATE' && vm.spec.isoRef && !vm.spec.attachedIsoRef) vm.spec.attachedIsoRef = { ...vm.spec.isoRef };
    },
  };
}

export function volumeAdmission(lookup: Lookup): KindAdmission<VolumeAdmitted> {
  const vmOf = (volume: VolumeAdmitted | null | undefined) =>
    volume?.spec.vmRef ? lookup.get<VirtualMachineAdmitted>(VirtualMachine, volume.spec.vmRef.name, volume.metadata.namespace) : Promise.resolve(undefined);
  const admission = kindAdmission<VolumeAdmitted>(Volume, lookup, {
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
        if (changed((s) => s.size)) errors.push(...shrinkErrors(object, ctx.oldObject, offering.parent ?? (spec.diskOfferingRef ? await lookup.get(DiskOffering, spec.diskOfferingRef.name) : undefined)));
        errors.push(...(await templateErrors(lookup, 'spec.templateRef.name', inNamespace(spec.templateRef, namespace), spec.zoneRef.name, false, changed((s) => s.templateRef))));
        const vm = await resolveRef<VirtualMachineAdmitted>(lookup, VirtualMachine, 'spec.vmRef.name', inNamespace(spec.vmRef, namespace), changed((s) => s.vmRef));
        errors.push(...vm.errors);
        if (vm.parent && changed((s) => [s.vmRef, s.deviceId])) {
          if (vm.parent.spec.zoneRef.name !== spec.zoneRef.name) {
            errors.push({ field: 'spec.vmRef.name', message: `VM ${spec.vmRef?.name} is in zone ${vm.parent.spec.zoneRef.name}, not the volume's zone ${spec.zoneRef.name}; attach it to a VM of zone ${spec.zoneRef.name}` });
          }
          const taken = lookup
            .referencing<VolumeAdmitted>(Volume, 'vmRef', spec.vmRef!.name)
            // A root a restore replaced gives device 0 up to the new one (it goes once the domain lets its disk go).
            .find((v) => v.metadata.namespace === namespace && v.metadata.name !== object.metadata.name && spec.deviceId !== undefined && v.spec.deviceId === spec.deviceId && !isReplacedRoot(v, vm.parent!));
          if (taken) {
            errors.push({ field: 'spec.deviceId', message: `${spec.deviceId} is already volume ${taken.metadata.name}'s device on VM ${spec.vmRef?.name}; pick a free device id or leave it out` });
          }
        }
        if (ctx.oldObject && changed((s) => s.vmRef)) errors.push(...rootDetachErrors(object, ctx.oldObject, await vmOf(ctx.oldObject)));
        return errors;
      },
    ],
    limits: limitsRule(Volume),
  });
  const validateChange = admission.validate;
  return {
    ...admission,
    validateOperations: ['CREATE', 'UPDATE', 'DELETE'],
    validate: async (request) => {
      if (request.operation !== 'DELETE') return (await validateChange?.(request)) ?? [];
      const volume = request.oldObject;
      return volume ? attachedDeleteErrors(volume, await vmOf(volume)) : [];
    },
  };
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
    limits: limitsRule(Template),
  });
}

export const computeAdmissions = (lookup: Lookup): KindAdmission[] =>
  [virtualMachineAdmission(lookup), volumeAdmission(lookup), templateAdmission(lookup)] as unknown as KindAdmission[];
