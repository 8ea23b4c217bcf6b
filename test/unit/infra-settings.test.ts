import { expect } from 'chai';
import { DEFAULT_SETTINGS, SETTINGS, checkSetting, clusterOvercommit, poolOverprovision, resolveSettings } from '../../lib/settings.ts';

describe('infra: global settings catalogue', () => {
  it('has CloudStack\'s defaults for the settings the operator reads', () => {
    const expected: Record<string, string> = {
      'cpu.overprovisioning.factor': '1.0',
      'mem.overprovisioning.factor': '1.0',
      'storage.overprovisioning.factor': '2',
      'vm.allocation.algorithm': 'random',
      'host.capacityType.to.order.clusters': 'CPU',
      'cluster.cpu.allocated.capacity.disablethreshold': '0.85',
      'cluster.memory.allocated.capacity.disablethreshold': '0.85',
      'cluster.cpu.allocated.capacity.notificationthreshold': '0.75',
      'cluster.memory.allocated.capacity.notificationthreshold': '0.75',
      'ping.interval': '60',
      'ping.timeout': '2.5',
      'expunge.delay': '86400',
      'expunge.interval': '86400',
      'default.page.size': '500',
      'guest.domain.suffix': 'cloud.internal',
      'max.account.vpcs': '20',
      'max.account.user.vms': '20',
    };
    for (const [name, value] of Object.entries(expected)) expect(DEFAULT_SETTINGS.value(name as keyof typeof SETTINGS), name).to.equal(value);
    expect(DEFAULT_SETTINGS.number('ping.timeout')).to.equal(2.5);
    expect(Object.keys(SETTINGS).filter((k) => k.startsWith('max.account.')).length).to.be.at.least(10);
  });

  it('takes valid values, keeps the default for invalid ones and names the setting and the fix', () => {
    const resolved = resolveSettings({ 'ping.interval': '5', 'vm.allocation.algorithm': 'bestfit', 'cluster.cpu.allocated.capacity.disablethreshold': '1.5', 'no.such.setting': 'x' });
    expect(resolved.settings.number('ping.interval')).to.equal(5);
    expect(resolved.settings.value('vm.allocation.algorithm')).to.equal('random');
    expect(resolved.settings.number('cluster.cpu.allocated.capacity.disablethreshold')).to.equal(0.85);
    expect(resolved.unknown).to.deep.equal(['no.such.setting']);
    expect(resolved.problems).to.deep.equal([
      'spec.settings["cluster.cpu.allocated.capacity.disablethreshold"] is 1.5: use a number of at most 1; using the default 0.85',
      'spec.settings["vm.allocation.algorithm"] is "bestfit": use one of random, firstfit, userdispersing, userconcentratedpod_random, userconcentratedpod_firstfit, firstfitleastconsumed; using the default random',
    ]);
    const entry = resolved.entries.find((e) => e.name === 'ping.interval');
    expect(entry).to.deep.equal({ name: 'ping.interval', value: '5', defaultValue: '60', category: 'Advanced' });
    expect(resolved.entries.map((e) => e.name)).to.deep.equal([...resolved.entries.map((e) => e.name)].sort());
  });

  it('checks numbers, whole numbers and bounds', () => {
    expect(checkSetting('ping.interval', '2.5')).to.equal('spec.settings["ping.interval"] is "2.5": use a whole number, such as 60');
    expect(checkSetting('ping.interval', '0')).to.equal('spec.settings["ping.interval"] is 0: use a whole number of at least 1');
    expect(checkSetting('ping.timeout', 'abc')).to.equal('spec.settings["ping.timeout"] is "abc": use a number, such as 2.5');
    expect(checkSetting('max.account.cpus', '-1')).to.equal(undefined);
    expect(checkSetting('guest.domain.suffix', 'example.org')).to.equal(undefined);
  });

  it('lets a cluster\'s or a pool\'s own ratio win, and the global factor apply when it sets none', () => {
    const global = resolveSettings({ 'cpu.overprovisioning.factor': '3', 'mem.overprovisioning.factor': '1.5', 'storage.overprovisioning.factor': '4' }).settings;
    expect(clusterOvercommit({ spec: {} }, global)).to.deep.equal({ cpu: 3, memory: 1.5 });
    expect(clusterOvercommit({ spec: { cpuOvercommitRatio: 2 } }, global)).to.deep.equal({ cpu: 2, memory: 1.5 });
    expect(clusterOvercommit(undefined, DEFAULT_SETTINGS)).to.deep.equal({ cpu: 1, memory: 1 });
    expect(poolOverprovision({ spec: {} }, global)).to.equal(4);
    expect(poolOverprovision({ spec: { overprovisionFactor: 1 } }, global)).to.equal(1);
    expect(poolOverprovision({ spec: {} }, DEFAULT_SETTINGS)).to.equal(2);
  });
});
