import { VirtualMachine, type VirtualMachineObject } from '../../crds/index.ts';
import { isAlreadyExists, resourceTypeOf } from '../../lib/kube-client.ts';
import { byCreation, findOptional, inIds, keywordMatches, mustFind } from '../lists/filters.ts';
import { INDEX } from '../lists/indexes.ts';
import { inScope, SCOPE_PARAMS, scopedNamespaces } from '../lists/scope.ts';
import { isRootAdmin } from '../protocol/auth.ts';
import { entityNotFound, invalidParameterValue, permissionDenied } from '../protocol/errors.ts';
import { accountOfNamespace, DETAILS_ANNOTATION, detailsOf, hasTags, nicFields, USERDATA_ANNOTATION, userDataLinkOf, VM_DETAILS, vmDetailSubset, vmFields, vmRow, vmTotals } from './compute-views.ts';
import { ensureInstanceGroup } from './instance-groups.ts';
import { resolveUserData, userDataAnnotation } from './vm-guest.ts';
import { ownerNamespace } from './compute-support.ts';
import type { Infra } from './context.ts';
import { type Command, type CommandContext, defineCommand } from './define.ts';
import { failure } from './errors.ts';
import type { JobResultMapper } from './job-support.ts';
import { displayName } from './names.ts';
import { allowedToCaller, HOST_NAME, INVALID_NAME, mergedDetails, stateOf, VMS, vmResult, vmSupport } from './vm-support.ts';
import { untilCached } from '../../lib/read-your-writes.ts';
import { metav1Time } from '../../lib/time.ts';

/**
 * Virtual machines (compute.md §1): each command is a change of the VirtualMachine object,
 * made as the caller, whose controllers do the work. deployVirtualMachine creates the object
 * inside the request (its uid is the returned id) and tracks the start in an AsyncJob; start
 * and stop set spec.state, destroy sets Destroyed (expunge deletes the object), recover sets
 * Stopped, reboot sets spec.rebootRequestedAt, and a service offering changes while Stopped.
 * A job completes when the VM's Ready condition reports the generation the command wrote
 * (the operator's Ready is True once Running, Stopped or Destroyed as asked).
 */

export function vmJobResults(infra: Infra): [string, JobResultMapper][] {
  const current = vmResult(infra);
  // destroy with expunge=true: CloudStack answers an empty virtualmachine once the VM is gone (compute.md §1.2).
  const destroyed: JobResultMapper = (job, ctx) => current(job, ctx) ?? {};
  return [
    ['deployVirtualMachine', current],
    ['startVirtualMachine', current],
    ['stopVirtualMachine', current],
    ['rebootVirtualMachine', current],
    ['destroyVirtualMachine', destroyed],
    ['scaleVirtualMachine', current],
  ];
}

export function vmCommands(infra: Infra): Command[] {
  const { cache } = infra;
  const { visibleVm, patchSpec, submit, keyPairNamed, affinityGroups, usableTemplate } = vmSupport(infra);
  const vms = (ctx: CommandContext) => infra.resource<VirtualMachineObject>(ctx, VirtualMachine);

  const deployVirtualMachine = defineCommand({
    name: 'deployVirtualMachine',
    kind: 'async',
    description: 'Creates and automatically starts a virtual machine based on a service offering, disk offering, and template.',
    params: {
      zoneid: { type: 'uuid', description: 'availability zone for the virtual machine', required: true, entity: 'zone' },
      serviceofferingid: { type: 'uuid', description: 'the ID of the service offering for the virtual machine', required: true, entity: 'serviceoffering' },
      templateid: { type: 'uuid', description: 'the ID of the template (or ISO) for the virtual machine', required: true, entity: 'template' },
      name: { type: 'string', description: 'host name for the virtual machine; the name of the VM object when it is a DNS label', length: 63 },
      displayname: { type: 'string', description: 'an optional user generated name for the virtual machine' },
      account: { type: 'string', description: 'an optional account for the virtual machine. Must be used with domainId.' },
      domainid: { type: 'uuid', description: 'an optional domainId for the virtual machine. If the account parameter is used, domainId must also be used.', entity: 'domain' },
      networkids: { type: 'list', items: 'uuid', description: 'list of network ids used by virtual machine; the first is the default NIC. Can\'t be specified with ipToNetworkList parameter' },
      iptonetworklist: { type: 'map', description: 'ip to network mapping: iptonetworklist[0].networkid=uuid&iptonetworklist[0].ip=10.1.1.100&iptonetworklist[0].mac=02:00:00:00:00:01' },
      ipaddress: { type: 'string', description: 'the ip address for default vm\'s network' },
      macaddress: { type: 'string', description: 'the mac address for default vm\'s network' },
      keypair: { type: 'string', description: 'name of the ssh key pair used to login to the virtual machine' },
      keypairs: { type: 'list', description: 'names of the ssh key pairs used to login to the virtual machine (one is supported)' },
      userdata: { type: 'string', description: 'an optional binary data that can be sent to the virtual machine upon a successful deployment. This binary data must be base64 encoded before adding it to the request.', length: 1048576 },
      userdataid: { type: 'uuid', description: 'the ID of the Userdata (registerUserData), copied to the virtual machine', entity: 'userdata' },
      userdatadetails: { type: 'map', description: 'used to specify the parameters values for the variables in userdata.' },
      affinitygroupids: { type: 'list', items: 'uuid', description: 'comma separated list of affinity groups id that are going to be applied to the virtual machine. Mutually exclusive with affinitygroupnames parameter' },
      affinitygroupnames: { type: 'list', description: 'comma separated list of affinity groups names that are going to be applied to the virtual machine. Mutually exclusive with affinitygroupids parameter' },
      diskofferingid: { type: 'uuid', description: 'the ID of the disk offering: a data disk for a template, the root disk for an ISO', entity: 'diskoffering' },
      size: { type: 'long', description: 'the arbitrary size in GB for the disk offering, for customized disk offerings' },
      rootdisksize: { type: 'long', description: 'Optional field to resize root disk on deploy, in GB' },
      details: { type: 'map', description: 'used to specify the custom parameters (cpuNumber, cpuSpeed, memory, rootdisksize...)' },
      hostid: { type: 'uuid', description: 'destination Host ID to deploy the VM to - parameter available for root admin only', entity: 'host' },
      startvm: { type: 'boolean', description: 'true if start vm after creating; defaulted to true if not specified' },
      group: { type: 'string', description: 'an optional group for the virtual machine' },
      boottype: { type: 'string', description: 'Guest VM Boot option either custom[UEFI] or default boot [BIOS]', oneOf: ['BIOS', 'UEFI'] },
      bootmode: { type: 'string', description: 'Boot Mode [Legacy] or [Secure] Applicable when Boot Type Selected is UEFI', oneOf: ['LEGACY', 'SECURE', 'Legacy', 'Secure'] },
      hypervisor: { type: 'string', description: 'the hypervisor on which to deploy the virtual machine (KVM)' },
      customid: { type: 'string', description: 'an optional field, in case you want to set a custom id to the resource. Allowed to Root Admins only (ignored: the id is the object uid)' },
    },
    async handle(p, ctx) {
      const label = 'deployvirtualmachine';
      await cache.synced();
      const zone = mustFind(cache.zones, p.zoneid, label, 'zoneid');
      if ((zone.spec.allocationState ?? 'Disabled') !== 'Enabled' && !isRootAdmin(ctx.caller)) throw permissionDenied(`Cannot perform this operation, Zone is currently disabled: ${p.zoneid}`);
      const offering = mustFind(cache.serviceOfferings, p.serviceofferingid, label, 'serviceofferingid');
      const template = await usableTemplate(ctx, label, p.templateid, 'templateid');
      const zoneName = zone.metadata.name ?? '';
      const zoneState = template.status?.zones?.find((z) => z.zone === zoneName)?.downloadState;
      if (!(template.spec.crossZones ?? false) && !(template.spec.zoneRefs ?? []).some((z) => z.name === zoneName)) {
        throw invalidParameterValue(`The template ${p.templateid} is not available for use in zone ${p.zoneid}`);
      }
      if (zoneState === 'DOWNLOAD_ERROR' || zoneState === 'ABANDONED') throw invalidParameterValue(`The template ${p.templateid} failed to download to zone ${p.zoneid} (${zoneState}); register it again`);
      if (p.name !== undefined && !HOST_NAME.test(p.name)) throw invalidParameterValue(INVALID_NAME);
      if (p.hostid !== undefined && !isRootAdmin(ctx.caller)) throw permissionDenied('hostid may be given by root administrators only');
      const host = findOptional(cache.hosts, p.hostid, label, 'hostid');
      const namespace = ownerNamespace(infra, ctx, label, p);
      const iso = template.spec.format === 'ISO';
      const disk = findOptional(cache.diskOfferings, p.diskofferingid, label, 'diskofferingid');
      if (iso && !disk) throw invalidParameterValue('A disk offering (diskofferingid) is required to deploy from an ISO: it gives the empty root disk');

      if (p.networkids !== undefined && p.iptonetworklist !== undefined) throw invalidParameterValue('networkids and iptonetworklist are mutually exclusive: give the networks in one of them');
      const asked = p.iptonetworklist !== undefined
        ? p.iptonetworklist.map((entry) => ({ id: entry['networkid'] ?? '', ip: entry['ip'], mac: entry['mac'] }))
        : (p.networkids ?? []).map((id, i) => ({ id, ip: i === 0 ? p.ipaddress : undefined, mac: i === 0 ? p.macaddress : undefined }));
      const networks = asked.map((entry, i) => {
        const network = cache.networks.byUid(entry.id);
        if (!network || network.metadata.namespace !== namespace) throw entityNotFound(label, p.iptonetworklist ? 'iptonetworklist' : 'networkids', entry.id);
        return { name: network.metadata.name ?? '', ...(entry.ip ? { ipAddress: entry.ip } : {}), ...(entry.mac ? { macAddress: entry.mac } : {}), ...(i === 0 ? { default: true } : {}) };
      });

      const keyNames = [...(p.keypair !== undefined ? [p.keypair] : []), ...(p.keypairs ?? [])];
      if (new Set(keyNames).size > 1) throw invalidParameterValue('One SSH key pair per VM is supported: give one name in keypair or keypairs');
      const keyPair = keyNames[0] === undefined ? undefined : keyPairNamed(namespace, keyNames[0]);
      if (keyNames[0] !== undefined && !keyPair) throw invalidParameterValue(`A key pair with name '${keyNames[0]}' was not found.`);
      const groups = affinityGroups(label, namespace, p.affinitygroupids, p.affinitygroupnames);
      const userData = resolveUserData(infra, label, namespace, p);

      const details = mergedDetails(p.details);
      const rootDiskGb = details['rootdisksize'] ?? (p.rootdisksize !== undefined ? String(p.rootdisksize) : undefined);
      const customCpu = details['cpuNumber'];
      const customSpeed = details['cpuSpeed'];
      const customMemory = details['memory'];
      for (const [key, value] of [['cpuNumber', customCpu], ['cpuSpeed', customSpeed], ['memory', customMemory], ['rootdisksize', rootDiskGb]] as const) {
        if (value !== undefined && !/^\d+$/.test(value)) throw invalidParameterValue(`details[${key}] must be a whole number, not ${value}`);
      }
      const spec: VirtualMachineObject['spec'] = {
        zoneRef: { name: zoneName },
        serviceOfferingRef: { name: offering.metadata.name ?? '' },
        // A VM deployed from an ISO boots with it in its drive (attachedIsoRef), until detachIso.
        ...(iso
          ? { isoRef: { namespace: template.metadata.namespace, name: template.metadata.name ?? '' }, attachedIsoRef: { namespace: template.metadata.namespace, name: template.metadata.name ?? '' }, rootDiskOfferingRef: { name: disk?.metadata.name ?? '' } }
          : { templateRef: { namespace: template.metadata.namespace, name: template.metadata.name ?? '' } }),
        ...(p.name !== undefined ? { hostName: p.name } : {}),
        ...(p.displayname !== undefined ? { displayName: p.displayname } : {}),
        ...(networks.length > 0 ? { networks } : {}),
        ...(!iso && disk ? { dataDisks: [{ name: 'data', diskOfferingRef: { name: disk.metadata.name ?? '' }, ...(p.size !== undefined ? { size: `${p.size}Gi` } : {}) }] } : {}),
        ...(rootDiskGb !== undefined ? { rootDiskSize: `${rootDiskGb}Gi` } : {}),
        ...(customCpu !== undefined ? { cpuNumber: Number(customCpu) } : {}),
        ...(customSpeed !== undefined ? { cpuSpeed: Number(customSpeed) } : {}),
        ...(customMemory !== undefined ? { memory: `${customMemory}Mi` } : {}),
        ...(keyPair ? { sshKeyPairRef: { name: keyPair.metadata.name ?? '' } } : {}),
        ...(userData !== undefined && userData.userData !== '' ? { userData: userData.userData } : {}),
        ...(groups.length > 0 ? { affinityGroupRefs: groups.map((g) => ({ name: g.metadata.name ?? '' })) } : {}),
        ...(host ? { hostRef: { name: host.metadata.name ?? '' } } : {}),
        ...(p.group !== undefined && p.group !== '' ? { group: p.group } : {}),
        ...(p.boottype !== undefined ? { bootType: p.boottype as 'BIOS' | 'UEFI' } : {}),
        // LEGACY is the only mode BIOS has: CloudStack (and its web UI, which sends BIOS with LEGACY) accepts the pair.
        ...(p.bootmode !== undefined && !(p.boottype === 'BIOS' && p.bootmode.toUpperCase() === 'LEGACY') ? { bootMode: p.bootmode.toUpperCase() as 'LEGACY' | 'SECURE' } : {}),
        state: p.startvm === false ? 'Stopped' : 'Running',
      };
      const annotations = {
        ...(Object.keys(details).length > 0 ? { [DETAILS_ANNOTATION]: JSON.stringify(details) } : {}),
        ...(userData?.link ? { [USERDATA_ANNOTATION]: JSON.stringify(userData.link) } : {}),
      };
      // CloudStack creates the instance group on first use.
      if (p.group !== undefined && p.group !== '') await ensureInstanceGroup(infra, ctx, label, namespace, p.group);
      // Written without waiting for this replica's cache: the wait runs beside the job's create below.
      const vm = await infra.deps
        .clientFor(ctx.caller)
        .resource<VirtualMachineObject>(resourceTypeOf(VirtualMachine))
        .create({
          apiVersion: VirtualMachine.apiVersion,
          kind: VirtualMachine.kind,
          // A name that is a DNS label names the object too, so kubectl shows what the API was given.
          metadata: { namespace, ...(p.name !== undefined ? { name: p.name.toLowerCase() } : { generateName: 'vm-' }), ...(Object.keys(annotations).length > 0 ? { annotations } : {}) },
          spec,
        })
        .catch((err: unknown) => {
          if (isAlreadyExists(err)) throw invalidParameterValue(`The vm with hostName ${p.name} already exists in account ${accountOfNamespace(infra, namespace)?.spec.displayName ?? namespace}: choose another name`);
          return failure(err, ctx, { label, params: { 'spec.hostName': 'name', 'spec.templateRef': 'templateid', 'spec.isoRef': 'templateid', 'spec.serviceOfferingRef.name': 'serviceofferingid', 'spec.networks[0].ipAddress': 'ipaddress', 'spec.networks': 'networkids', 'spec.sshKeyPairRef.name': 'keypair', 'spec.affinityGroupRefs': 'affinitygroupids', 'spec.dataDisks': 'diskofferingid', 'spec.rootDiskOfferingRef.name': 'diskofferingid', 'spec.rootDiskSize': 'rootdisksize', 'spec.hostRef.name': 'hostid', 'spec.userData': 'userdata', 'spec.displayName': 'displayname' } });
        });
      // The client may list the VM and query the job as soon as it has the reply: both are cached by then.
      const [jobid] = await Promise.all([submit(ctx, vm), untilCached(cache.virtualMachines.informer, vm)]);
      return { id: vm.metadata.uid ?? '', jobid };
    },
  });

  /** Plain lists' rows by scope, kept until the VMs change (a handful of keys: the callers listing at once). */
  const PLAIN_KEPT = 1000;
  const plainRows = new Map<string, { changes: number; candidates: readonly VirtualMachineObject[]; rows: { vm: VirtualMachineObject; details: readonly string[] | undefined }[] }>();

  /** listVirtualMachines, and its Metrics twin (the same rows with the totals the UI shows). */
  const vmList = (name: 'listVirtualMachines' | 'listVirtualMachinesMetrics', description: string, metrics: boolean) => defineCommand({
    name,
    kind: 'list',
    description,
    params: {
      id: { type: 'uuid', description: 'the ID of the virtual machine', entity: 'virtualmachine' },
      ids: { type: 'list', items: 'uuid', description: 'the IDs of the virtual machines, mutually exclusive with id' },
      name: { type: 'string', description: 'name of the virtual machine (a substring match)' },
      keyword: { type: 'string', description: 'List by keyword' },
      state: { type: 'string', description: 'state of the virtual machine. Possible values are: Running, Stopped, Present, Destroyed, Expunged. Present is used for the state equal not destroyed.' },
      zoneid: { type: 'uuid', description: 'the availability zone ID', entity: 'zone' },
      hostid: { type: 'uuid', description: 'the host ID', entity: 'host' },
      podid: { type: 'uuid', description: 'the pod ID', entity: 'pod' },
      clusterid: { type: 'uuid', description: 'the cluster ID', entity: 'cluster' },
      networkid: { type: 'uuid', description: 'list by network id', entity: 'network' },
      templateid: { type: 'uuid', description: 'list vms by template', entity: 'template' },
      isoid: { type: 'uuid', description: 'list vms by iso', entity: 'iso' },
      serviceofferingid: { type: 'uuid', description: 'list by the service offering', entity: 'serviceoffering' },
      affinitygroupid: { type: 'uuid', description: 'list vms by affinity group', entity: 'affinitygroup' },
      keypair: { type: 'string', description: 'list vms by ssh keypair name' },
      haenable: { type: 'boolean', description: 'list by the High Availability offering; true if filtering VMs with HA enabled; false for VMs with HA disabled' },
      hypervisor: { type: 'string', description: 'the target hypervisor for the template' },
      details: { type: 'list', description: 'comma separated list of vm details requested, value can be a list of [all, group, nics, stats, secgrp, tmpl, servoff, diskoff, backoff, iso, volume, min, affgrp]. When no parameters are passed, all the details are returned.' },
      tags: { type: 'map', description: 'List resources by tags (key/value pairs)' },
      groupid: { type: 'uuid', description: 'the group ID', entity: 'instancegroup' },
      userdataid: { type: 'string', description: 'the ID of the userdata the VMs were deployed with' },
      ...SCOPE_PARAMS,
      displayvm: { type: 'boolean', description: 'list resources by display flag; only ROOT admin is eligible to pass this parameter' },
    },
    async handle(p, ctx) {
      const label = 'listvirtualmachines';
      await cache.synced();
      const one = findOptional(cache.virtualMachines, p.id, label, 'id');
      const zone = findOptional(cache.zones, p.zoneid, label, 'zoneid');
      const host = findOptional(cache.hosts, p.hostid, label, 'hostid');
      const pod = findOptional(cache.pods, p.podid, label, 'podid');
      const cluster = findOptional(cache.clusters, p.clusterid, label, 'clusterid');
      const network = findOptional(cache.networks, p.networkid, label, 'networkid');
      const template = findOptional(cache.templates, p.templateid ?? p.isoid, label, p.templateid !== undefined ? 'templateid' : 'isoid');
      const offering = findOptional(cache.serviceOfferings, p.serviceofferingid, label, 'serviceofferingid');
      const group = findOptional(cache.affinityGroups, p.affinitygroupid, label, 'affinitygroupid');
      const instanceGroup = findOptional(cache.instanceGroups, p.groupid, label, 'groupid');
      const unknownDetail = (p.details ?? []).find((d) => !(VM_DETAILS as readonly string[]).includes(d));
      if (unknownDetail !== undefined) throw invalidParameterValue(`The details parameter contains a non permitted value. The allowed values are [${VM_DETAILS.join(', ')}]`);
      const namespaces = await scopedNamespaces(cache, ctx.caller, p, VMS, label, infra.deps.mayList);
      // Users do not see their destroyed VMs unless allow.user.view.destroyed.vm (QueryService).
      const hideDestroyed = !allowedToCaller(infra, ctx, 'allow.user.view.destroyed.vm');
      const state = p.state?.toLowerCase();
      // The whole cache comes sorted (and stays sorted until a change); an index's subset is sorted here.
      const candidates = one ? [one] : zone ? cache.virtualMachines.byIndex(INDEX.zone, zone.metadata.name ?? '').sort(byCreation) : cache.virtualMachines.sorted();
      // Only the filters asked for run on each of the (many) candidates.
      const tests: ((vm: VirtualMachineObject) => boolean)[] = [];
      if (namespaces !== undefined) tests.push((vm) => inScope(namespaces, vm.metadata.namespace));
      if (hideDestroyed || state !== undefined) {
        tests.push((vm) => {
          const current = stateOf(vm);
          const destroyed = current === 'Destroyed' || current === 'Expunging';
          if (hideDestroyed && destroyed) return false;
          return state === 'present' ? !destroyed : state === undefined || current.toLowerCase() === state;
        });
      }
      // Every test pushed after this point makes the list no plain one (its rows are not kept).
      const scopeAndState = tests.length;
      if (p.ids !== undefined) tests.push((vm) => inIds(p.ids, vm.metadata.uid));
      const shownName = (vm: VirtualMachineObject) => vm.spec.hostName ?? vm.metadata.name ?? '';
      const name = p.name?.toLowerCase();
      if (name !== undefined) tests.push((vm) => shownName(vm).toLowerCase().includes(name));
      if (p.keyword !== undefined) tests.push((vm) => keywordMatches(p.keyword, shownName(vm), vm.spec.displayName));
      if (zone) tests.push((vm) => vm.spec.zoneRef.name === zone.metadata.name);
      if (host) tests.push((vm) => vm.status?.placement?.host === host.metadata.name);
      if (pod) tests.push((vm) => vm.status?.placement?.pod === pod.metadata.name);
      if (cluster) tests.push((vm) => vm.status?.placement?.cluster === cluster.metadata.name);
      if (network) tests.push((vm) => network.metadata.namespace === vm.metadata.namespace && (vm.spec.networks ?? []).some((n) => n.name === network.metadata.name));
      if (template) {
        // templateid: the image the VM was deployed from; isoid: the ISO in its drive (UserVmJoinVO's iso_id).
        tests.push((vm) => {
          const ref = p.templateid !== undefined ? (vm.spec.templateRef ?? vm.spec.isoRef) : vm.spec.attachedIsoRef;
          return ref?.name === template.metadata.name && (ref?.namespace ?? vm.metadata.namespace) === template.metadata.namespace;
        });
      }
      if (offering) tests.push((vm) => vm.spec.serviceOfferingRef.name === offering.metadata.name);
      if (group) tests.push((vm) => group.metadata.namespace === vm.metadata.namespace && (vm.spec.affinityGroupRefs ?? []).some((g) => g.name === group.metadata.name));
      if (p.keypair !== undefined) {
        tests.push((vm) => {
          const key = vm.spec.sshKeyPairRef ? cache.sshKeyPairs.byName(vm.spec.sshKeyPairRef.name, vm.metadata.namespace) : undefined;
          return key !== undefined && (displayName(key) === p.keypair || key.metadata.name === p.keypair);
        });
      }
      if (instanceGroup) tests.push((vm) => instanceGroup.metadata.namespace === vm.metadata.namespace && vm.spec.group === displayName(instanceGroup));
      if (p.userdataid !== undefined) tests.push((vm) => userDataLinkOf(vm)?.id === p.userdataid);
      if (p.haenable !== undefined) tests.push((vm) => (cache.serviceOfferings.byName(vm.spec.serviceOfferingRef.name)?.spec.offerHa ?? false) === p.haenable);
      if (p.hypervisor !== undefined && p.hypervisor.toLowerCase() !== 'kvm') return [];
      // Tags are annotations (TAG_PREFIX + key), so kubectl shows them; a VM matches when it carries every one asked.
      if (p.tags !== undefined && p.tags.length > 0) tests.push((vm) => hasTags(vm, p.tags));
      // The plain list (scope and state alone, every VM of the caller's accounts) is filtered once per change of the VMs, not per request.
      const plainKey = tests.length === scopeAndState && one === undefined && zone === undefined && p.details === undefined ? `${namespaces === undefined ? '*' : [...namespaces].join(',')}|${hideDestroyed}|${state ?? ''}` : undefined;
      const changes = cache.virtualMachines.changes();
      const kept = plainKey === undefined ? undefined : plainRows.get(plainKey);
      if (kept?.changes === changes && kept.candidates === candidates) return kept.rows;
      const shown = tests.length === 0 ? candidates : candidates.filter((vm) => tests.every((test) => test(vm)));
      const rows = shown.map((vm) => ({ vm, details: p.details }));
      if (plainKey !== undefined) {
        if (plainRows.size >= PLAIN_KEPT) plainRows.clear();
        plainRows.set(plainKey, { changes, candidates, rows });
      }
      return rows;
    },
    mapItem: ({ vm, details }) => {
      const fields = vmDetailSubset(vmRow(infra, vm), details);
      return metrics ? { ...fields, ...vmTotals(infra, vm) } : fields;
    },
  });
  const listVirtualMachines = vmList('listVirtualMachines', 'List the virtual machines owned by the account.', false);
  const listVirtualMachinesMetrics = vmList('listVirtualMachinesMetrics', 'Lists VM metrics', true);

  /** Start, stop, destroy: set spec.state and track it in a job. */
  function stateCommand(name: 'startVirtualMachine' | 'stopVirtualMachine', description: string, desired: 'Running' | 'Stopped', extra: Record<string, { type: 'boolean' | 'uuid' | 'string'; description: string; entity?: string }>): Command {
    return defineCommand({
      name,
      kind: 'async',
      description,
      params: { id: { type: 'uuid', description: 'The ID of the virtual machine', required: true, entity: 'virtualmachine' }, ...extra },
      async handle(p, ctx) {
        const label = name.toLowerCase();
        const vm = await visibleVm(ctx, label, p.id);
        if (stateOf(vm) === 'Destroyed' || vm.spec.state === 'Destroyed') throw invalidParameterValue(`Unable to ${desired === 'Running' ? 'start' : 'stop'} VM ${vm.metadata.uid}: it is Destroyed; recover it first`);
        const updated = await patchSpec(ctx, label, vm, { state: desired });
        return { jobid: await submit(ctx, updated) };
      },
    });
  }

  const startVirtualMachine = stateCommand('startVirtualMachine', 'Starts a virtual machine.', 'Running', {
    hostid: { type: 'uuid', description: 'destination Host ID to deploy the VM to - parameter available for root admin only (ignored: the planner places)', entity: 'host' },
  });
  const stopVirtualMachine = stateCommand('stopVirtualMachine', 'Stops a virtual machine.', 'Stopped', {
    forced: { type: 'boolean', description: 'Force stop the VM (vm is marked as Stopped even when command fails to be send to the backend, otherwise a force poweroff is attempted). The caller knows the VM is stopped.' },
  });

  const rebootVirtualMachine = defineCommand({
    name: 'rebootVirtualMachine',
    kind: 'async',
    description: 'Reboots a virtual machine.',
    params: {
      id: { type: 'uuid', description: 'The ID of the virtual machine', required: true, entity: 'virtualmachine' },
      forced: { type: 'boolean', description: 'Force reboot the VM (VM is Stopped and then Started)' },
    },
    async handle(p, ctx) {
      const label = 'rebootvirtualmachine';
      const vm = await visibleVm(ctx, label, p.id);
      if (stateOf(vm) !== 'Running') throw invalidParameterValue(`Unable to reboot VM ${vm.metadata.uid}: it is ${stateOf(vm)}, and only a Running VM can be rebooted`);
      const updated = await patchSpec(ctx, label, vm, { rebootRequestedAt: metav1Time() });
      return { jobid: await submit(ctx, updated) };
    },
  });

  const destroyVirtualMachine = defineCommand({
    name: 'destroyVirtualMachine',
    kind: 'async',
    description: 'Destroys a virtual machine. Once destroyed, only the administrator can recover it.',
    params: {
      id: { type: 'uuid', description: 'The ID of the virtual machine', required: true, entity: 'virtualmachine' },
      expunge: { type: 'boolean', description: 'If true is passed, the vm is expunged immediately. False by default.' },
      volumeids: { type: 'list', items: 'uuid', description: 'Comma separated list of UUIDs for volumes that will be deleted (ignored: data volumes stay detached)' },
    },
    async handle(p, ctx) {
      const label = 'destroyvirtualmachine';
      const vm = await visibleVm(ctx, label, p.id);
      if (p.expunge === true) {
        if (!allowedToCaller(infra, ctx, 'allow.user.expunge.recover.vm')) throw permissionDenied(`Parameter expunge can be passed by Admin only. Or when the allow.user.expunge.recover.vm key is set.`);
        await vms(ctx)
          .delete({ namespace: vm.metadata.namespace, name: vm.metadata.name ?? '' }, { preconditions: { uid: vm.metadata.uid } })
          .catch((err: unknown) => failure(err, ctx, { label, id: p.id }));
        return { jobid: await infra.submitJob(ctx, { target: vm, kind: VirtualMachine, deleted: true }) };
      }
      if (stateOf(vm) === 'Destroyed') throw invalidParameterValue(`VM ${p.id} is already Destroyed`);
      const updated = await patchSpec(ctx, label, vm, { state: 'Destroyed' });
      return { jobid: await submit(ctx, updated) };
    },
  });

  const recoverVirtualMachine = defineCommand({
    name: 'recoverVirtualMachine',
    kind: 'object',
    description: 'Recovers a virtual machine.',
    params: { id: { type: 'uuid', description: 'The ID of the virtual machine', required: true, entity: 'virtualmachine' } },
    async handle(p, ctx) {
      const label = 'recovervirtualmachine';
      const vm = await visibleVm(ctx, label, p.id);
      if (!allowedToCaller(infra, ctx, 'allow.user.expunge.recover.vm')) throw permissionDenied(`Account ${ctx.caller.accountName} may not recover VMs: only administrators can, unless allow.user.expunge.recover.vm is true`);
      if (vm.spec.state !== 'Destroyed') throw invalidParameterValue(`VM ${p.id} is ${stateOf(vm)}, not Destroyed: there is nothing to recover`);
      return patchSpec(ctx, label, vm, { state: 'Stopped' });
    },
    // CloudStack moves the VM to Stopped inside the request and answers it so; the status here
    // still says Destroyed until the operator settles the recovered spec.
    map: (vm) => ({ ...vmFields(infra, vm), state: 'Stopped' }),
  });

  const expungeVirtualMachine = defineCommand({
    name: 'expungeVirtualMachine',
    kind: 'async',
    description: 'Expunge a virtual machine. Once expunged, it cannot be recoverd.',
    params: { id: { type: 'uuid', description: 'The ID of the virtual machine', required: true, entity: 'virtualmachine' } },
    async handle(p, ctx) {
      const label = 'expungevirtualmachine';
      const vm = await visibleVm(ctx, label, p.id);
      if (!allowedToCaller(infra, ctx, 'allow.user.expunge.recover.vm')) throw permissionDenied(`Account ${ctx.caller.accountName} may not expunge VMs: only administrators can, unless allow.user.expunge.recover.vm is true`);
      if (vm.spec.state !== 'Destroyed') throw invalidParameterValue(`Please destroy vm with id ${p.id} before expunging it`);
      await vms(ctx)
        .delete({ namespace: vm.metadata.namespace, name: vm.metadata.name ?? '' }, { preconditions: { uid: vm.metadata.uid } })
        .catch((err: unknown) => failure(err, ctx, { label, id: p.id }));
      return { jobid: await infra.submitJob(ctx, { target: vm, kind: VirtualMachine, deleted: true }) };
    },
  });

  /** The new offering of a Stopped VM (changeService, and scale of a stopped VM). */
  async function changeOffering(ctx: CommandContext, label: string, p: { id: string; serviceofferingid: string; details?: Record<string, string>[] }): Promise<VirtualMachineObject> {
    const vm = await visibleVm(ctx, label, p.id);
    const offering = mustFind(cache.serviceOfferings, p.serviceofferingid, label, 'serviceofferingid');
    if (stateOf(vm) !== 'Stopped') {
      throw invalidParameterValue(`Unable to upgrade virtual machine ${vm.metadata.uid}: it is ${stateOf(vm)}, and the offering changes only while it is Stopped (dynamic scaling is off); stop it first`);
    }
    if (offering.metadata.name === vm.spec.serviceOfferingRef.name) throw invalidParameterValue(`Not upgrading vm ${vm.metadata.uid} since it already has the requested service offering (${displayName(offering)})`);
    const details = mergedDetails(p.details);
    const custom = {
      cpuNumber: details['cpuNumber'] !== undefined ? Number(details['cpuNumber']) : null,
      cpuSpeed: details['cpuSpeed'] !== undefined ? Number(details['cpuSpeed']) : null,
      memory: details['memory'] !== undefined ? `${details['memory']}Mi` : null,
    };
    return patchSpec(ctx, label, vm, { serviceOfferingRef: { name: offering.metadata.name ?? '' }, ...custom });
  }

  const changeServiceForVirtualMachine = defineCommand({
    name: 'changeServiceForVirtualMachine',
    kind: 'object',
    description: 'Changes the service offering for a virtual machine. The virtual machine must be in a "Stopped" state for this command to take effect.',
    params: {
      id: { type: 'uuid', description: 'The ID of the virtual machine', required: true, entity: 'virtualmachine' },
      serviceofferingid: { type: 'uuid', description: 'the service offering ID to apply to the virtual machine', required: true, entity: 'serviceoffering' },
      details: { type: 'map', description: 'name value pairs of custom parameters for cpuNumber, cpuSpeed and memory' },
    },
    handle: (p, ctx) => changeOffering(ctx, 'changeserviceforvirtualmachine', p),
    map: (vm) => vmFields(infra, vm),
  });

  const scaleVirtualMachine = defineCommand({
    name: 'scaleVirtualMachine',
    kind: 'async',
    description: 'Scales the virtual machine to a new service offering. A Stopped VM just changes offering; a running one needs dynamic scaling, which is off.',
    params: {
      id: { type: 'uuid', description: 'The ID of the virtual machine', required: true, entity: 'virtualmachine' },
      serviceofferingid: { type: 'uuid', description: 'the ID of the service offering for the virtual machine', required: true, entity: 'serviceoffering' },
      details: { type: 'map', description: 'name value pairs of custom parameters for cpuNumber, cpuSpeed and memory' },
    },
    async handle(p, ctx) {
      const updated = await changeOffering(ctx, 'scalevirtualmachine', p);
      return { jobid: await submit(ctx, updated) };
    },
  });

  const updateVirtualMachine = defineCommand({
    name: 'updateVirtualMachine',
    kind: 'object',
    description: 'Updates properties of a virtual machine. The VM has to be stopped and restarted for the new properties to take effect.',
    params: {
      id: { type: 'uuid', description: 'The ID of the virtual machine', required: true, entity: 'virtualmachine' },
      displayname: { type: 'string', description: 'user generated name' },
      name: { type: 'string', description: 'new host name of the vm. The VM has to be stopped/started for this update to take affect', length: 63 },
      group: { type: 'string', description: 'group of the virtual machine' },
      userdata: { type: 'string', description: 'an optional binary data that can be sent to the virtual machine upon a successful deployment. This binary data must be base64 encoded before adding it to the request.', length: 1048576 },
      userdataid: { type: 'uuid', description: 'the ID of the userdata', entity: 'userdata' },
      userdatadetails: { type: 'map', description: 'used to specify the parameters values for the variables in userdata.' },
      details: { type: 'map', description: 'Details in key/value pairs.' },
      cleanupdetails: { type: 'boolean', description: 'optional boolean field, which indicates if details should be cleaned up or not (if set to true, details removed for this resource, details field ignored; if false or not set, no action)' },
      haenable: { type: 'boolean', description: 'true if high-availability is enabled for the virtual machine, false otherwise (it follows the service offering here)' },
      displayvm: { type: 'boolean', description: 'an optional field, whether to the display the vm to the end user or not.' },
    },
    async handle(p, ctx) {
      const label = 'updatevirtualmachine';
      const vm = await visibleVm(ctx, label, p.id);
      if (p.name !== undefined && !HOST_NAME.test(p.name)) throw invalidParameterValue(INVALID_NAME);
      const userData = resolveUserData(infra, label, vm.metadata.namespace ?? '', p);
      const details = p.cleanupdetails === true ? {} : p.details !== undefined ? { ...detailsOf(vm), ...mergedDetails(p.details) } : undefined;
      // An empty group takes the VM out of its group; a new name creates the group, as CloudStack does.
      if (p.group !== undefined && p.group !== '') await ensureInstanceGroup(infra, ctx, label, vm.metadata.namespace ?? '', p.group);
      const spec = { displayName: p.displayname, hostName: p.name, group: p.group === '' ? null : p.group, userData: userData === undefined ? undefined : userData.userData === '' ? null : userData.userData };
      const annotations = {
        ...(details === undefined ? {} : { [DETAILS_ANNOTATION]: Object.keys(details).length > 0 ? JSON.stringify(details) : null }),
        ...(userData === undefined ? {} : userDataAnnotation(userData)),
      };
      return patchSpec(ctx, label, vm, spec, Object.keys(annotations).length > 0 ? { annotations } : undefined);
    },
    map: (vm) => vmFields(infra, vm),
  });

  const listNics = defineCommand({
    name: 'listNics',
    kind: 'list',
    description: 'list the vm nics  IP to NIC',
    params: {
      virtualmachineid: { type: 'uuid', description: 'the ID of the vm', required: true, entity: 'virtualmachine' },
      nicid: { type: 'uuid', description: 'the ID of the nic to to list IPs' },
      networkid: { type: 'uuid', description: 'list nic of the specific vm\'s network', entity: 'network' },
      keyword: { type: 'string', description: 'List by keyword' },
    },
    async handle(p, ctx) {
      const label = 'listnics';
      const vm = await visibleVm(ctx, label, p.virtualmachineid, 'virtualmachineid');
      const network = findOptional(cache.networks, p.networkid, label, 'networkid');
      const nics = nicFields(infra, vm);
      if (p.nicid !== undefined && !nics.some((n) => n['id'] === p.nicid)) throw entityNotFound(label, 'nicid', p.nicid);
      return nics.filter((n) => (p.nicid === undefined || n['id'] === p.nicid) && (network === undefined || n['networkid'] === network.metadata.uid));
    },
    // listNics' NicResponse has no secondaryip (the VM's nic entries do).
    mapItem: ({ secondaryip: _secondary, ...nic }) => nic,
  });

  return [
    deployVirtualMachine,
    listVirtualMachines,
    listVirtualMachinesMetrics,
    startVirtualMachine,
    stopVirtualMachine,
    rebootVirtualMachine,
    destroyVirtualMachine,
    recoverVirtualMachine,
    expungeVirtualMachine,
    changeServiceForVirtualMachine,
    scaleVirtualMachine,
    updateVirtualMachine,
    listNics,
  ];
}
