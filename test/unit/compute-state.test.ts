import { expect } from 'chai';
import type { VirtualMachineObject, VolumeObject } from '../../crds/index.ts';
import { attachedDeleteErrors, isReplacedRoot, restorePending, rootDetachErrors, rootVolumeName, scaleErrors, templateReadiness } from '../../lib/compute.ts';
import type { Condition } from '../../lib/conditions.ts';
import { generateSshKeyPair, sshFingerprint } from '../../lib/ssh-keys.ts';
import { refusingHost } from '../../controllers/virtual-machine.ts';
import { deriveVmStatus, rebootPending, sizingEvents, sizingOf, vmStateEvents, type VmView } from '../../controllers/vm-state.ts';
import { desiredVolumes, missingLabels } from '../../controllers/vm-volumes.ts';
import { deriveVolumeStatus, type VolumeView } from '../../controllers/volume.ts';

const placement = { zone: 'z1', pod: 'p1', cluster: 'c1', host: 'h1' };
const cond = (type: string, status: 'True' | 'False', reason: string, message = '', observedGeneration = 1): Condition => ({
  type,
  status,
  reason,
  message,
  observedGeneration,
  lastTransitionTime: '2026-01-01T00:00:00Z',
});
const base: VmView = {
  generation: 1,
  desired: 'Running',
  deleting: false,
  placement,
  powerState: undefined,
  running: undefined,
  rebootRequestedAt: undefined,
  lastRebootAt: undefined,
};
const readyOf = (v: ReturnType<typeof deriveVmStatus>) => v.conditions.find((c) => c.type === 'Ready');
const scheduledOf = (v: ReturnType<typeof deriveVmStatus>) => v.conditions.find((c) => c.type === 'Scheduled');

describe('compute: VM state from spec and the agent\'s report', () => {
  it('is Starting until the host reports the domain running, then Running and Ready', () => {
    const starting = deriveVmStatus({ ...base, running: cond('Running', 'False', 'WaitingForVolumes', 'disk of web-root not provisioned') });
    expect(starting.state).to.equal('Starting');
    expect(readyOf(starting)).to.include({ status: 'False', reason: 'WaitingForVolumes' });
    expect(readyOf(starting)?.message).to.contain('disk of web-root not provisioned');
    const running = deriveVmStatus({ ...base, powerState: 'PowerOn', running: cond('Running', 'True', 'DomainRunning') });
    expect(running.state).to.equal('Running');
    expect(readyOf(running)).to.include({ status: 'True', reason: 'Running' });
    expect(scheduledOf(running)).to.include({ status: 'True', reason: 'Placed' });
  });

  it('lets the host\'s report win: a running domain of a VM asked to stop is Stopping, an off one Stopped', () => {
    expect(deriveVmStatus({ ...base, desired: 'Stopped', powerState: 'PowerOn', running: cond('Running', 'True', 'DomainRunning') }).state).to.equal('Stopping');
    const stopped = deriveVmStatus({ ...base, desired: 'Stopped', powerState: 'PowerOff', running: cond('Running', 'False', 'Stopped') });
    expect(stopped.state).to.equal('Stopped');
    expect(readyOf(stopped)?.status).to.equal('True');
    // A domain that powered itself off while it should run is not Running, whatever spec says.
    expect(deriveVmStatus({ ...base, powerState: 'PowerOff', running: cond('Running', 'False', 'Starting') }).state).to.equal('Starting');
    // The agent reports that power-off (its guest shut down) before it starts the domain again: Stopped meanwhile, as CloudStack's power-state sync.
    const poweredOff = deriveVmStatus({ ...base, powerState: 'PowerOff', running: cond('Running', 'False', 'PoweredOff', 'the domain powered off (its guest shut down)') });
    expect(poweredOff.state).to.equal('Stopped');
    expect(readyOf(poweredOff)).to.include({ status: 'False', reason: 'PoweredOff' });
    expect(readyOf(poweredOff)?.message).to.contain('its guest shut down');
  });

  it('is not Ready while the agent has not acted on the current generation', () => {
    const v = deriveVmStatus({ ...base, generation: 3, desired: 'Stopped', powerState: 'PowerOff', running: cond('Running', 'False', 'Stopped', '', 2) });
    expect(v.state).to.equal('Stopped');
    expect(readyOf(v)).to.include({ status: 'False', reason: 'Converging' });
  });

  it('is Destroyed once off when spec.state is Destroyed, and Ready (recoverable)', () => {
    expect(deriveVmStatus({ ...base, desired: 'Destroyed', powerState: 'PowerOn', running: cond('Running', 'True', 'DomainRunning') }).state).to.equal('Stopping');
    const destroyed = deriveVmStatus({ ...base, desired: 'Destroyed', powerState: 'PowerOff', running: cond('Running', 'False', 'Stopped') });
    expect(destroyed.state).to.equal('Destroyed');
    expect(readyOf(destroyed)).to.include({ status: 'True', reason: 'Destroyed' });
  });

  it('is Expunging while deleted, Error when the host cannot start the domain, Unknown when the host cannot tell', () => {
    expect(deriveVmStatus({ ...base, deleting: true }).state).to.equal('Expunging');
    const error = deriveVmStatus({ ...base, running: cond('Running', 'False', 'DomainError', 'qemu: could not open disk') });
    expect(error.state).to.equal('Error');
    expect(readyOf(error)?.message).to.contain('qemu: could not open disk');
    expect(deriveVmStatus({ ...base, powerState: 'PowerUnknown' }).state).to.equal('Unknown');
  });

  it('names the eliminating constraint in Scheduled when nothing fits, and says a stopped VM is placed when started', () => {
    const v = deriveVmStatus({ ...base, placement: undefined, unscheduled: { reason: 'Unschedulable', message: 'no host has 64 GiB of free memory in zone z1' } });
    expect(v.state).to.equal('Starting');
    expect(scheduledOf(v)).to.deep.include({ status: 'False', reason: 'Unschedulable', message: 'no host has 64 GiB of free memory in zone z1' });
    expect(readyOf(v)).to.include({ status: 'False', reason: 'Unschedulable' });
    const stopped = deriveVmStatus({ ...base, desired: 'Stopped', placement: undefined });
    expect(stopped.state).to.equal('Stopped');
    expect(readyOf(stopped)?.status).to.equal('True');
    expect(scheduledOf(stopped)).to.include({ status: 'False', reason: 'NotStarted' });
  });

  it('is not Ready while a requested reboot is not reported done', () => {
    const on = { ...base, powerState: 'PowerOn', running: cond('Running', 'True', 'DomainRunning') };
    expect(rebootPending({ rebootRequestedAt: '2026-01-01T00:00:05Z', lastRebootAt: '2026-01-01T00:00:01Z' })).to.equal(true);
    expect(rebootPending({ rebootRequestedAt: '2026-01-01T00:00:05Z', lastRebootAt: '2026-01-01T00:00:05Z' })).to.equal(false);
    expect(rebootPending({ rebootRequestedAt: undefined, lastRebootAt: undefined })).to.equal(false);
    expect(readyOf(deriveVmStatus({ ...on, rebootRequestedAt: '2026-01-01T00:00:05Z' }))).to.include({ status: 'False', reason: 'Rebooting' });
    expect(readyOf(deriveVmStatus({ ...on, rebootRequestedAt: '2026-01-01T00:00:05Z', lastRebootAt: '2026-01-01T00:00:05Z' }))?.status).to.equal('True');
  });

  it('is not Ready while a restore is under way, whatever the power state', () => {
    const on = { ...base, powerState: 'PowerOn', running: cond('Running', 'True', 'DomainRunning') };
    expect(readyOf(deriveVmStatus({ ...on, restoring: 'the new root Volume web-root-1 is being made' }))).to.include({ status: 'False', reason: 'Restoring', message: 'the new root Volume web-root-1 is being made' });
    expect(deriveVmStatus({ ...on, restoring: 'x' }).state, 'still Running until the agent powers it off').to.equal('Running');
    const off = { ...base, desired: 'Stopped' as const, powerState: 'PowerOff', running: cond('Running', 'False', 'Stopped') };
    expect(readyOf(deriveVmStatus({ ...off, restoring: 'x' }))).to.include({ status: 'False', reason: 'Restoring' });
    expect(readyOf(deriveVmStatus(off))?.status).to.equal('True');
  });

  it('records the CloudStack event types of a change of state that the operator owns, and not the agent\'s', () => {
    const reasons = (from: string | undefined, to: Parameters<typeof vmStateEvents>[1]) => vmStateEvents(from, to).map((e) => e.reason);
    expect(reasons(undefined, 'Starting')).to.deep.equal(['VM.CREATE']);
    expect(reasons(undefined, 'Stopped')).to.deep.equal(['VM.CREATE']);
    // Started and stopped are the domain's facts: the agent reports VM.START and VM.STOP (lib/agent-contract.ts).
    expect(reasons('Starting', 'Running')).to.deep.equal([]);
    expect(reasons('Stopping', 'Stopped')).to.deep.equal([]);
    expect(reasons('Starting', 'Error')).to.deep.equal([]);
    expect(reasons('Stopping', 'Destroyed')).to.deep.equal(['VM.DESTROY']);
    expect(reasons('Destroyed', 'Stopped')).to.deep.equal(['VM.RECOVER']);
    expect(reasons('Destroyed', 'Expunging')).to.deep.equal(['VM.EXPUNGE']);
    expect(reasons('Running', 'Running')).to.deep.equal([]);
  });

  it('reports a change of the accepted size (a scale) as VM.UPGRADE, and none for the first size recorded', () => {
    const small = sizingOf({ serviceOfferingRef: { name: 'small' } });
    const large = sizingOf({ serviceOfferingRef: { name: 'large' } });
    expect(small).to.deep.equal({ name: 'small' });
    expect(sizingEvents(undefined, small), 'the VM created (VM.CREATE), or accepted before sizes were recorded').to.deep.equal([]);
    expect(sizingEvents(small, small)).to.deep.equal([]);
    expect(sizingEvents(small, large)).to.deep.equal([{ reason: 'VM.UPGRADE', note: 'service offering small -> large' }]);
    // A customized offering scales by its sizes in spec, under the same offering.
    const custom = (cpuNumber: number, memory: string) => sizingOf({ serviceOfferingRef: { name: 'custom' }, cpuNumber, memory });
    expect(sizingEvents(custom(1, '1Gi'), custom(1, '1Gi'))).to.deep.equal([]);
    expect(sizingEvents(custom(1, '1Gi'), custom(2, '2Gi'))).to.deep.equal([{ reason: 'VM.UPGRADE', note: 'service offering custom (1 cores, 1Gi) -> custom (2 cores, 2Gi)' }]);
  });

  it('takes an InsufficientCapacity refusal only from the agent of the current host', () => {
    const vm = (host: string, message: string) =>
      ({ metadata: { name: 'v' }, spec: {}, status: { placement: { ...placement, host }, conditions: [cond('Running', 'False', 'InsufficientCapacity', message)] } }) as unknown as VirtualMachineObject;
    expect(refusingHost(vm('h1', 'host h1 is full for VM v: memory: it needs 1024 MiB'))).to.equal('h1');
    // Left behind by h1 after the VM moved to h2 (or h10): not their refusal.
    expect(refusingHost(vm('h2', 'host h1 is full for VM v: memory: it needs 1024 MiB'))).to.equal(undefined);
    expect(refusingHost(vm('h1', 'host h10 is full for VM v: memory: it needs 1024 MiB'))).to.equal(undefined);
  });
});

describe('compute: the volumes a VM declares', () => {
  const vm = {
    apiVersion: 'compute.kumulus.io/v1alpha1',
    kind: 'VirtualMachine',
    metadata: { name: 'web-1', namespace: 'demo', uid: 'u-1' },
    spec: {
      displayName: 'Web 1',
      zoneRef: { name: 'z1' },
      serviceOfferingRef: { name: 'small' },
      templateRef: { name: 'debian' },
      rootDiskSize: '10Gi',
      dataDisks: [{ name: 'data', diskOfferingRef: { name: 'small-disk' } }, { name: 'logs', diskOfferingRef: { name: 'custom' }, size: '5Gi' }],
    },
  } as unknown as VirtualMachineObject;

  it('are a ROOT volume from the template and one DATADISK per data disk, owned by the VM, named after it', () => {
    const [root, data, logs] = desiredVolumes(vm, undefined);
    expect(root?.metadata).to.deep.include({ name: 'web-1-root', namespace: 'demo' });
    expect(root?.metadata.ownerReferences?.[0]).to.include({ kind: 'VirtualMachine', name: 'web-1', uid: 'u-1', controller: true });
    expect(root?.spec).to.deep.include({ type: 'ROOT', templateRef: { name: 'debian', namespace: 'demo' }, size: '10Gi', deviceId: 0, vmRef: { name: 'web-1' } });
    expect(data?.spec).to.deep.include({ type: 'DATADISK', diskOfferingRef: { name: 'small-disk' }, deviceId: 1 });
    expect(logs?.spec).to.deep.include({ size: '5Gi', deviceId: 2 });
    expect(root?.metadata.labels).to.equal(undefined);
  });

  it('carry the placement\'s labels once the VM is placed', () => {
    const [root] = desiredVolumes(vm, placement);
    expect(root?.metadata.labels).to.deep.equal({ 'kumulus.io/zone': 'z1', 'kumulus.io/pod': 'p1', 'kumulus.io/cluster': 'c1', 'kumulus.io/host': 'h1' });
    // Labelled for a host, a VM's volume carries that host's agent's finalizer from its creation.
    expect(desiredVolumes(vm, placement)[0]?.metadata.finalizers).to.deep.equal(['kumulus.io/agent']);
    expect(desiredVolumes(vm, undefined)[0]?.metadata.finalizers).to.equal(undefined);
    expect(missingLabels({ metadata: { labels: { 'kumulus.io/zone': 'z1' } } }, placement)).to.deep.equal({ 'kumulus.io/pod': 'p1', 'kumulus.io/cluster': 'c1', 'kumulus.io/host': 'h1' });
  });
});

describe('compute: volume state from the agent\'s report', () => {
  const v: VolumeView = { name: 'demo/d', deleting: false, destroyed: false, pool: 'p', provisioned: cond('Provisioned', 'True', 'DiskReady'), attached: undefined, wantBytes: 2 ** 30, haveBytes: 2 ** 30, vm: undefined, vmRef: undefined };
  it('is Allocated without a pool, Creating until provisioned, Resizing while smaller than spec.size, Ready', () => {
    expect(deriveVolumeStatus({ ...v, pool: undefined }).state).to.equal('Allocated');
    expect(deriveVolumeStatus({ ...v, pool: undefined, vm: { name: 'x', host: 'h1' } }).ready).to.include({ status: 'False', reason: 'Allocating' });
    expect(deriveVolumeStatus({ ...v, provisioned: undefined }).state).to.equal('Creating');
    expect(deriveVolumeStatus({ ...v, wantBytes: 2 ** 31 }).state).to.equal('Resizing');
    expect(deriveVolumeStatus(v)).to.deep.include({ state: 'Ready' });
    expect(deriveVolumeStatus(v).ready.status).to.equal('True');
  });
  it('is Attaching until the disk is in a placed VM\'s domain, and not Ready while detaching', () => {
    expect(deriveVolumeStatus({ ...v, vm: { name: 'x', host: 'h1' } }).state).to.equal('Attaching');
    // The agent's plain not-yet changes as it learns of the VM: the operator's message stays, so it writes once.
    const notYet = (message: string) => deriveVolumeStatus({ ...v, vm: { name: 'x', host: 'h1' }, attached: cond('Attached', 'False', 'Detached', message) }).ready.message;
    expect(notYet('no domain on this host uses it')).to.equal(notYet('not in the domain of VirtualMachine x yet'));
    expect(deriveVolumeStatus({ ...v, vm: { name: 'x', host: 'h1' }, attached: cond('Attached', 'False', 'AttachFailed', 'no free PCI slot') }).ready.message).to.contain('no free PCI slot');
    expect(deriveVolumeStatus({ ...v, vm: { name: 'x', host: 'h1' }, attached: cond('Attached', 'True', 'InDomain') }).state).to.equal('Ready');
    expect(deriveVolumeStatus({ ...v, attached: cond('Attached', 'True', 'InDomain') }).ready).to.include({ status: 'False', reason: 'Detaching' });
    expect(deriveVolumeStatus({ ...v, deleting: true }).state).to.equal('Expunging');
  });
  it('is Destroy, and Ready, while destroyed and recoverable; Expunging once deleted', () => {
    expect(deriveVolumeStatus({ ...v, destroyed: true })).to.deep.include({ state: 'Destroy' });
    expect(deriveVolumeStatus({ ...v, destroyed: true }).ready).to.include({ status: 'True', reason: 'Destroyed' });
    expect(deriveVolumeStatus({ ...v, pool: undefined, destroyed: true }).state).to.equal('Destroy');
    expect(deriveVolumeStatus({ ...v, destroyed: true, deleting: true }).state).to.equal('Expunging');
  });
});

describe('compute: rules both doors share', () => {
  const template = (status?: object, extra: object = {}) =>
    ({ metadata: { name: 't', namespace: 'demo' }, spec: { url: 'file:///x', format: 'QCOW2', zoneRefs: [{ name: 'z1' }], ...extra }, status }) as never;

  it('template readiness: downloaded is ready, downloading pending, failed and unregistered zones refused with the fix', () => {
    expect(templateReadiness(template({ zones: [{ zone: 'z1', downloadState: 'DOWNLOADED', downloadPercent: 100 }] }), 'z1').state).to.equal('ready');
    expect(templateReadiness(template({ zones: [{ zone: 'z1', downloadState: 'DOWNLOAD_IN_PROGRESS', downloadPercent: 40 }] }), 'z1')).to.deep.include({ state: 'pending' });
    expect(templateReadiness(template(), 'z1').state).to.equal('pending');
    const failed = templateReadiness(template({ zones: [{ zone: 'z1', downloadState: 'DOWNLOAD_ERROR', downloadPercent: 0, message: 'checksum mismatch' }] }), 'z1');
    expect(failed).to.deep.include({ state: 'failed' });
    expect((failed as { message: string }).message).to.match(/checksum mismatch; fix its spec.url or spec.checksum/);
    expect(templateReadiness(template(), 'z2')).to.deep.include({ state: 'absent' });
    expect(templateReadiness(template(undefined, { zoneRefs: undefined, crossZones: true }), 'z2').state).to.equal('pending');
  });

  const vm = { metadata: { name: 'web-1' }, spec: { serviceOfferingRef: { name: 'small' }, state: 'Running' }, status: { state: 'Running' } } as never as VirtualMachineObject;
  const root = { metadata: { name: 'web-1-root' }, spec: { type: 'ROOT', vmRef: { name: 'web-1' } } } as never as VolumeObject;
  const data = { metadata: { name: 'extra' }, spec: { type: 'DATADISK', vmRef: { name: 'web-1' } } } as never as VolumeObject;

  it('refuses detaching a root volume and deleting an attached one, naming spec.vmRef', () => {
    const detached = { ...root, spec: { ...root.spec, vmRef: undefined } } as VolumeObject;
    expect(rootDetachErrors(detached, root, vm)[0]).to.deep.include({ field: 'spec.vmRef' });
    expect(rootDetachErrors({ ...data, spec: { ...data.spec, vmRef: undefined } }, data, vm)).to.deep.equal([]);
    expect(attachedDeleteErrors(data, vm)[0]?.message).to.match(/attached to VM web-1; detach it first/);
    expect(attachedDeleteErrors(data, undefined)).to.deep.equal([]);
    expect(attachedDeleteErrors(data, { ...vm, metadata: { name: 'web-1', deletionTimestamp: '2026-01-01T00:00:00Z' } })).to.deep.equal([]);
  });

  it('names the root volume from the VM, its uid and its restore request: stable for one request, new for the next', () => {
    const web = (restoreRequestedAt?: string, uid = 'u-1') => ({ metadata: { name: 'web-1', uid }, spec: { ...(restoreRequestedAt ? { restoreRequestedAt } : {}) } });
    expect(rootVolumeName(web())).to.equal('web-1-root');
    const first = rootVolumeName(web('2026-12-07T10:00:00Z'));
    expect(first).to.match(/^web-1-root-[0-9a-f]{8}$/);
    expect(rootVolumeName(web('2026-12-07T10:00:00Z')), 'the same request, after a crash: the same name').to.equal(first);
    expect(rootVolumeName(web('2026-12-07T10:00:01Z'))).to.not.equal(first);
    expect(rootVolumeName(web('2026-12-07T10:00:00Z', 'u-2')), 'another VM of the same name').to.not.equal(first);
    const restoredVm = { ...vm, metadata: { name: 'web-1', uid: 'u-1' }, spec: { ...vm.spec, restoreRequestedAt: '2026-12-07T10:00:00Z' } } as VirtualMachineObject;
    const owned = <T extends VolumeObject>(v: T) => ({ ...v, metadata: { ...v.metadata, ownerReferences: [{ apiVersion: 'compute.kumulus.io/v1alpha1', kind: 'VirtualMachine', name: 'web-1', uid: 'u-1' }] } }) as T;
    expect(isReplacedRoot(owned(root), restoredVm)).to.equal(true);
    expect(isReplacedRoot(owned(root), { ...vm, metadata: { name: 'web-1', uid: 'u-1' } }), 'before any restore web-1-root is the current root').to.equal(false);
    expect(isReplacedRoot(root, restoredVm), 'a ROOT volume the VM did not make is never taken for a replaced one').to.equal(false);
    expect(isReplacedRoot(owned(data), restoredVm), 'a data disk is never a replaced root').to.equal(false);
    expect(attachedDeleteErrors(owned(root), vm)[0]?.message, 'the current root stays').to.match(/ROOT disk of VM web-1; delete the VM instead/);
    expect(attachedDeleteErrors(owned(root), restoredVm), 'a replaced root may go').to.deep.equal([]);
    expect(attachedDeleteErrors(root, restoredVm)[0]?.message, 'a foreign ROOT stays guarded').to.match(/ROOT disk of VM web-1/);
    expect(restorePending(restoredVm)).to.equal(true);
    expect(restorePending({ ...restoredVm, status: { state: 'Running', lastRestoreAt: '2026-12-07T10:00:00Z' } })).to.equal(false);
    expect(restorePending(vm)).to.equal(false);
  });

  it('refuses a new offering for a running VM unless it is stopped in the same change', () => {
    const scaled = { ...vm, spec: { ...vm.spec, serviceOfferingRef: { name: 'large' } } } as VirtualMachineObject;
    expect(scaleErrors(scaled, vm)[0]).to.deep.include({ field: 'spec.serviceOfferingRef.name' });
    expect(scaleErrors({ ...scaled, spec: { ...scaled.spec, state: 'Stopped' } }, vm)).to.deep.equal([]);
    expect(scaleErrors(scaled, { ...vm, status: { state: 'Stopped' } })).to.deep.equal([]);
  });
});

describe('compute: SSH key pairs', () => {
  it('fingerprints an OpenSSH key as CloudStack does (MD5 of the blob, colon-separated) and rejects a malformed one', () => {
    // What `ssh-keygen -l -E md5` prints for this key.
    const line = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGxU4aR5f3p1d0Y4pX3Wl6m3b8Kc2mJQ0rT7yH9vN2sB demo@example';
    expect(sshFingerprint(line)).to.equal('4f:d0:76:07:4b:88:88:50:92:00:0a:0b:93:43:21:ca');
    expect(sshFingerprint('ssh-rsa AAAAC3NzaC1lZDI1NTE5AAAAIGxU4aR5f3p1d0Y4pX3Wl6m3b8Kc2mJQ0rT7yH9vN2sB x')).to.equal(undefined);
    expect(sshFingerprint('ssh-ed25519 !!!')).to.equal(undefined);
  });

  it('generates an RSA pair whose public line decodes to an ssh-rsa key', async () => {
    const pair = await generateSshKeyPair('k@kumulus');
    expect(pair.privateKey).to.match(/^-----BEGIN RSA PRIVATE KEY-----/);
    expect(pair.publicKey).to.match(/^ssh-rsa AAAAB3NzaC1yc2E[A-Za-z0-9+/]+=* k@kumulus$/);
    expect(sshFingerprint(pair.publicKey)).to.match(/^([0-9a-f]{2}:){15}[0-9a-f]{2}$/);
  });
});
