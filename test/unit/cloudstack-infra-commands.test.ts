import * as k8s from '@kubernetes/client-node';
import { expect } from 'chai';
import { createCommandTable } from '../../cloudstack-api/commands/define.ts';
import { infrastructureCommands } from '../../cloudstack-api/commands/infrastructure.ts';
import { parameterOf, refusalProblems } from '../../cloudstack-api/commands/errors.ts';
import { objectName } from '../../cloudstack-api/commands/names.ts';
import { derivedUuid } from '../../cloudstack-api/lists/cache.ts';
import { createInformerFactory } from '../../lib/informer.ts';
import { createKubeClient } from '../../lib/kube-client.ts';
import { log } from '../../lib/log.ts';

/**
 * The infrastructure commands' declarations and their pure parts: the table is built (which
 * checks every command against catalogue.json), CloudStack names become object names, and
 * apiserver refusals become parameter-named texts. The informers are created, never started.
 */

function idleInformers() {
  const kc = new k8s.KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'idle', server: 'https://127.0.0.1:1', skipTLSVerify: true }],
    users: [{ name: 'idle' }],
    contexts: [{ name: 'idle', cluster: 'idle', user: 'idle' }],
    currentContext: 'idle',
  });
  return createInformerFactory(createKubeClient(kc), log);
}

describe('cloudstack-api infrastructure commands', () => {
  const commands = infrastructureCommands({
    clientFor: () => {
      throw new Error('no writes in unit tests');
    },
    mayList: () => Promise.resolve(true),
    informers: idleInformers(),
  });

  it('declares the whole zone bring-up and its lists, each matching the catalogue', () => {
    const table = createCommandTable(commands);
    const bringUp = [
      'updateConfiguration',
      'createZone',
      'createPhysicalNetwork',
      'addTrafficType',
      'listNetworkServiceProviders',
      'updateNetworkServiceProvider',
      'updatePhysicalNetwork',
      'createPod',
      'createVlanIpRange',
      'addCluster',
      'addHost',
      'listHosts',
      'createStoragePool',
      'addImageStore',
      'updateZone',
      // What Marvin's deployDataCenter calls beside them, and its teardown.
      'listVirtualRouterElements',
      'configureVirtualRouterElement',
      'addNetworkServiceProvider',
      'deleteNetworkServiceProvider',
      'prepareHostForMaintenance',
      'enableStorageMaintenance',
      'deleteTrafficType',
      // The web UI's infrastructure pages.
      'listInfrastructure',
      'listZonesMetrics',
      'listClustersMetrics',
      'listHostsMetrics',
      'listStoragePoolsMetrics',
    ];
    for (const name of bringUp) expect(table.has(name), name).to.equal(true);
    expect(table.size).to.equal(81);
    expect(table.get('enableStorageMaintenance')?.envelope).to.equal('prepareprimarystorageformaintenanceresponse');
    expect(table.get('prepareHostForMaintenance')?.isAsync).to.equal(true);
    expect(table.get('deleteZone')?.isAsync).to.equal(false);
  });

  it('can be built twice over the same informers (indexes are added once)', () => {
    const informers = idleInformers();
    const deps = { clientFor: () => { throw new Error('unused'); }, mayList: () => Promise.resolve(true), informers };
    expect(infrastructureCommands(deps).length).to.equal(infrastructureCommands(deps).length);
  });

  describe('objectName', () => {
    it('keeps a name that already is a DNS label', () => {
      expect(objectName('zone1')).to.equal('zone1');
      expect(objectName('pod-a-2')).to.equal('pod-a-2');
    });

    it('gives other names a readable slug and a hash of the exact text', () => {
      expect(objectName('Zone 1')).to.match(/^zone-1-[0-9a-f]{8}$/);
      expect(objectName('Zone 1')).to.equal(objectName('Zone 1'));
      expect(objectName('Zone 1')).to.not.equal(objectName('zone 1'));
      expect(objectName('zone-1')).to.equal('zone-1');
      expect(objectName('Zone 1')).to.not.equal('zone-1');
    });

    it('stays within 63 characters and a DNS label for any text', () => {
      for (const text of ['x'.repeat(300), '東京ゾーン', '--', 'Web (prod) *#1/é', 'a.b.c']) {
        const name = objectName(text);
        expect(name.length, text).to.be.at.most(63);
        expect(name, text).to.match(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/);
      }
    });
  });

  it('derives stable lower-case UUIDs for items inside an object', () => {
    const id = derivedUuid('7b6a3a1e-0000-4000-8000-000000000001', 'traffictype/Guest');
    expect(id).to.match(/^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(derivedUuid('7b6a3a1e-0000-4000-8000-000000000001', 'traffictype/Guest')).to.equal(id);
    expect(derivedUuid('7b6a3a1e-0000-4000-8000-000000000001', 'traffictype/Public')).to.not.equal(id);
  });

  describe('apiserver refusals', () => {
    it('names CloudStack parameters for object fields', () => {
      expect(parameterOf('spec.zoneRef.name')).to.equal('zoneid');
      expect(parameterOf('spec.startIp')).to.equal('startip');
      expect(parameterOf('.guestCidr'.replace(/^\./, 'spec.'))).to.equal('guestcidr');
      expect(parameterOf('spec.guestCidr', { 'spec.guestCidr': 'guestcidraddress' })).to.equal('guestcidraddress');
      expect(parameterOf('spec.trafficTypes[0].kvmLabel')).to.equal('spec.trafficTypes[0].kvmLabel');
    });

    it('keeps the words of a CEL rule, without the value prefix', () => {
      const status = {
        message: 'Zone.infra.kumulus.io "z" is invalid: spec.guestCidr: Invalid value: "string": spec.guestCidr must be a network address',
        details: { causes: [{ field: 'spec.guestCidr', message: 'Invalid value: "string": spec.guestCidr must be a network address with no host bits set, such as 10.1.0.0/16' }] },
      };
      expect(refusalProblems(status, { 'spec.guestCidr': 'guestcidraddress' })).to.deep.equal([
        'guestcidraddress: spec.guestCidr must be a network address with no host bits set, such as 10.1.0.0/16',
      ]);
    });

    it('keeps the words of a webhook denial without its prefix', () => {
      const status = { message: 'admission webhook "validate.kumulus.io" denied the request: spec.startIp: the range overlaps pod p1' };
      expect(refusalProblems(status)).to.deep.equal(['spec.startIp: the range overlaps pod p1']);
    });
  });
});
