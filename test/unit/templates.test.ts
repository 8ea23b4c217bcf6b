import { expect } from 'chai';
import { templateOutcome, templatesOfVm, templatesOfVolume } from '../../controllers/template.ts';
import type { TemplateObject, VirtualMachineObject, VolumeObject } from '../../crds/index.ts';
import { templateInZone } from '../../lib/agent-contract.ts';
import { storeSpecFromUrl, templateInstallPath } from '../../node-daemon/drivers/storage/secondary.ts';
import { downloadStoreOf, isoFileFor, templateSourceFor } from '../../node-daemon/templates.ts';
import type { SecondaryStorageObject } from '../../crds/index.ts';

const uid = '5a1f0c2e-8d3b-4c7a-9e6f-1b2c3d4e5f60';
type ZoneEntry = NonNullable<NonNullable<TemplateObject['status']>['zones']>[number];

function template(zones: ZoneEntry[] = [], spec: Partial<TemplateObject['spec']> = {}, deleting = false): TemplateObject {
  return {
    apiVersion: 'compute.kumulus.io/v1alpha1',
    kind: 'Template',
    metadata: { name: 't', namespace: 'demo', uid, generation: 1, ...(deleting ? { deletionTimestamp: '2026-01-01T00:00:00Z' } : {}) },
    spec: { url: 'https://images.example.com/t.qcow2', format: 'QCOW2', zoneRefs: [{ name: 'z1' }, { name: 'z2' }], ...spec },
    status: { zones },
  };
}
const downloaded = (zone: string): ZoneEntry => ({ zone, downloadState: 'DOWNLOADED', downloadPercent: 100, storage: 'images', installPath: `template/tmpl/${uid}/${uid}.qcow2`, checksum: `{SHA-256}${'c'.repeat(64)}` });
const condition = (outcome: ReturnType<typeof templateOutcome>, type: string) => outcome.conditions.find((c) => c.type === type);

describe('templates: the operator’s summary of the agents’ copies', function () {
  it('is Ready only when downloaded in every zone it belongs to, and isReady once in any', function () {
    const partial = templateOutcome(template([downloaded('z1'), { zone: 'z2', downloadState: 'DOWNLOAD_IN_PROGRESS', downloadPercent: 40 }]), ['z1', 'z2'], []);
    expect(partial.state).to.equal('Active');
    expect(partial.fields).to.deep.equal({ isReady: true });
    expect(condition(partial, 'Ready')).to.deep.include({ status: 'False', reason: 'Downloading', message: 'zone z2: downloading, 40%' });
    expect(condition(partial, 'Synced'), 'nothing failed').to.equal(undefined);
    const all = templateOutcome(template([downloaded('z1'), downloaded('z2')]), ['z1', 'z2'], []);
    expect(condition(all, 'Ready')).to.deep.include({ status: 'True', reason: 'Downloaded' });
    const none = templateOutcome(template([]), ['z1'], []);
    expect(none.fields).to.deep.equal({ isReady: false });
    expect(condition(none, 'Ready')?.message).to.match(/^zone z1: not downloaded yet \(no agent of the zone has started/);
  });

  it('reports a failed download as Synced False naming the zone and the cause', function () {
    const failed = templateOutcome(template([downloaded('z1'), { zone: 'z2', downloadState: 'DOWNLOAD_ERROR', downloadPercent: 0, message: 'bad checksum: expected ...' }]), ['z1', 'z2'], []);
    expect(condition(failed, 'Ready')).to.deep.include({ status: 'False', reason: 'DownloadError', message: 'zone z2: download failed: bad checksum: expected ...' });
    expect(condition(failed, 'Synced')).to.deep.include({ status: 'False', reason: 'DownloadError', message: 'zone z2: download failed: bad checksum: expected ...' });
  });

  it('says who uses it, and turns Inactive once deleted', function () {
    const used = templateOutcome(template([downloaded('z1')], {}, true), ['z1'], ['VirtualMachine demo/web-1', 'Volume demo/web-1-root']);
    expect(used.state).to.equal('Inactive');
    expect(condition(used, 'InUse')).to.deep.include({ status: 'True', message: 'used by VirtualMachine demo/web-1, Volume demo/web-1-root' });
    expect(condition(templateOutcome(template(), ['z1'], []), 'InUse')).to.deep.include({ status: 'False' });
    expect(condition(templateOutcome(template(), [], []), 'Ready')).to.deep.include({ reason: 'NoZone' });
  });

  it('finds the templates a VM and a Volume use, in the referrer’s namespace by default', function () {
    const vm = { metadata: { name: 'web', namespace: 'demo' }, spec: { templateRef: { name: 't' }, isoRef: { name: 'iso', namespace: 'kumulus-public' } } } as unknown as VirtualMachineObject;
    expect(templatesOfVm(vm)).to.deep.equal(['demo/t', 'kumulus-public/iso']);
    // The ISO in the drive is used too (once, when it is the ISO the VM booted from).
    expect(templatesOfVm({ ...vm, spec: { ...vm.spec, attachedIsoRef: { name: 'tools' } } })).to.deep.equal(['demo/t', 'kumulus-public/iso', 'demo/tools']);
    expect(templatesOfVm({ ...vm, spec: { ...vm.spec, attachedIsoRef: { name: 'iso', namespace: 'kumulus-public' } } })).to.deep.equal(['demo/t', 'kumulus-public/iso']);
    const volume = { metadata: { name: 'root', namespace: 'demo' }, spec: { templateRef: { name: 'kumulus-guest', namespace: 'kumulus-public' } } } as unknown as VolumeObject;
    expect(templatesOfVolume(volume)).to.deep.equal(['kumulus-public/kumulus-guest']);
  });
});

describe('templates: where the agents keep and find the copies', function () {
  it('belongs to the zones it names, or to every zone when cross-zone', function () {
    expect(templateInZone(template(), 'z2')).to.equal(true);
    expect(templateInZone(template(), 'z3')).to.equal(false);
    expect(templateInZone(template([], { zoneRefs: undefined, crossZones: true }), 'z3')).to.equal(true);
  });

  it('maps store URLs to a directory or an NFS export, and refuses others naming the field', function () {
    expect(storeSpecFromUrl(uid, 'file:///var/lib/kumulus/secondary')).to.deep.equal({ type: 'Local', uid, path: '/var/lib/kumulus/secondary' });
    expect(storeSpecFromUrl(uid, 'nfs://nfs1.example.com/export/secondary')).to.deep.equal({ type: 'NFS', uid, server: 'nfs1.example.com', exportPath: '/export/secondary' });
    expect(() => storeSpecFromUrl(uid, 'smb://x/y')).to.throw(/SecondaryStorage spec.url: "smb:\/\/x\/y" must be file:\/\/\/path/);
    expect(templateInstallPath(uid, 'qcow2')).to.equal(`template/tmpl/${uid}/${uid}.qcow2`);
    expect(() => templateInstallPath('../x', 'raw')).to.throw(/uid/);
  });

  it('downloads to the zone’s first store by name that takes new templates', function () {
    const store = (name: string, zone: string, readOnly = false) => ({ metadata: { name }, spec: { zoneRef: { name: zone }, url: 'file:///s', readOnly } }) as unknown as SecondaryStorageObject;
    expect(downloadStoreOf([store('b', 'z1'), store('a', 'z1', true), store('c', 'z1'), store('0', 'z2')], 'z1')?.metadata.name).to.equal('b');
    expect(downloadStoreOf([store('a', 'z1', true)], 'z1')).to.equal(undefined);
  });

  it('fills pool caches from the zone’s secondary copy only, verified against the recorded checksum when the template has none', function () {
    const source = templateSourceFor(template([downloaded('z1')], { checksum: undefined }), 'z1', () => '/mnt/images');
    expect(source).to.deep.equal({ uid, format: 'qcow2', checksum: `{SHA-256}${'c'.repeat(64)}`, secondaryPath: `/mnt/images/template/tmpl/${uid}/${uid}.qcow2` });
    expect(source).to.not.have.property('url');
    expect(templateSourceFor(template([downloaded('z1')], { checksum: `{MD5}${'d'.repeat(32)}` }), 'z1', () => '/m').checksum).to.equal(`{MD5}${'d'.repeat(32)}`);
    expect(() => templateSourceFor(template([{ zone: 'z1', downloadState: 'DOWNLOAD_IN_PROGRESS', downloadPercent: 30 }]), 'z1', () => '/m')).to.throw(
      /Template demo\/t is not downloaded to zone z1's secondary storage yet \(DOWNLOAD_IN_PROGRESS 30%\)/,
    );
    expect(() => templateSourceFor(template([downloaded('z1')]), 'z1', () => undefined)).to.throw(/on SecondaryStorage images, which this host has not mounted/);
    expect(() => templateSourceFor(template([], { format: 'ISO' }), 'z1', () => '/m')).to.throw(/is an ISO/);
  });

  it('gives a CD-ROM drive the zone\'s downloaded copy of an ISO on this host\'s mount, and says what is awaited until then', function () {
    const iso = (zones: ZoneEntry[]) => template(zones, { format: 'ISO', url: 'https://images.example.com/t.iso' });
    const inZone = { ...downloaded('z1'), installPath: `template/tmpl/${uid}/${uid}.iso` };
    expect(isoFileFor(iso([inZone]), 'z1', (store) => (store === 'images' ? '/mnt/images' : undefined))).to.equal(`/mnt/images/template/tmpl/${uid}/${uid}.iso`);
    expect(() => isoFileFor(iso([inZone]), 'z2', () => '/m')).to.throw(/Template demo\/t is not downloaded to zone z2's secondary storage yet \(not started\)/);
    expect(() => isoFileFor(iso([{ zone: 'z1', downloadState: 'DOWNLOAD_IN_PROGRESS', downloadPercent: 30 }]), 'z1', () => '/m')).to.throw(/DOWNLOAD_IN_PROGRESS 30%/);
    expect(() => isoFileFor(iso([inZone]), 'z1', () => undefined)).to.throw(/on SecondaryStorage images, which this host has not mounted/);
    expect(() => isoFileFor(template([downloaded('z1')]), 'z1', () => '/m')).to.throw(/Template demo\/t is QCOW2, not an ISO: a CD-ROM drive takes an ISO/);
  });
});
