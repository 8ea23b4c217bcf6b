import { expect } from 'chai';
import { capacityStatus, countRollup, hostRollup, ipInRange, percentOf, poolRollup, rangeSize, sumRollups, thresholdBreaches } from '../../controllers/capacity.ts';
import { parseBytes, parseQuantity } from '../../crds/index.ts';

const GiB = 2 ** 30;

describe('infra: capacity arithmetic (listCapacity semantics)', () => {
  const small = { cores: 1, cpuMhz: 1000, memoryBytes: GiB, running: true };
  const medium = { cores: 2, cpuMhz: 4000, memoryBytes: 4 * GiB, running: false };

  it('multiplies a host\'s reported capacity by the overcommit ratios and splits allocated from used', () => {
    const rollup = hostRollup({ cpuNumber: 8, cpuSpeed: 2000, memoryBytes: 16 * GiB }, { cpu: 2, memory: 1.5 }, [small, medium]);
    expect(rollup.get('CPU')).to.deep.equal({ total: 32000, allocated: 5000, used: 1000 });
    expect(rollup.get('CPU_CORE')).to.deep.equal({ total: 8, allocated: 3, used: 1 });
    expect(rollup.get('MEMORY')).to.deep.equal({ total: 24 * GiB, allocated: 5 * GiB, used: GiB });
  });

  it('counts the VMs of a host whose capacity does not count (Down, maintenance) against zero total', () => {
    const rollup = hostRollup(undefined, { cpu: 1, memory: 1 }, [small]);
    expect(rollup.get('CPU')).to.deep.equal({ total: 0, allocated: 1000, used: 1000 });
  });

  it('reports shared pools as STORAGE and STORAGE_ALLOCATED (with overprovisioning), local ones as LOCAL_STORAGE', () => {
    const shared = poolRollup({ local: false, capacityBytes: 1000, usedBytes: 100, allocatedBytes: 1500, overprovisionFactor: 2 });
    expect(shared.get('STORAGE')).to.deep.equal({ total: 1000, allocated: 100, used: 100 });
    expect(shared.get('STORAGE_ALLOCATED')).to.deep.equal({ total: 2000, allocated: 1500, used: 1500 });
    expect(shared.has('LOCAL_STORAGE')).to.equal(false);
    const local = poolRollup({ local: true, capacityBytes: 500, usedBytes: 50, allocatedBytes: 80, overprovisionFactor: 2 });
    expect([...local.keys()]).to.deep.equal(['LOCAL_STORAGE']);
    expect(local.get('LOCAL_STORAGE')).to.deep.equal({ total: 500, allocated: 80, used: 50 });
  });

  it('sums rollups type by type and lists them in CloudStack order with percentages', () => {
    const sum = sumRollups([countRollup('VLAN', 100, 3), countRollup('VLAN', 1100, 0), countRollup('PRIVATE_IP', 91, 2)]);
    expect(sum.get('VLAN')).to.deep.equal({ total: 1200, allocated: 3, used: 3 });
    const status = capacityStatus(sum, ['PRIVATE_IP', 'VLAN', 'MEMORY']);
    expect(status.map((s) => s.type)).to.deep.equal(['MEMORY', 'PRIVATE_IP', 'VLAN']);
    expect(status[0]).to.deep.equal({ type: 'MEMORY', total: 0, allocated: 0, used: 0, percentUsed: 0 });
    expect(status[1]?.percentUsed).to.equal(2.2);
    expect(status[2]?.percentUsed).to.equal(0.25);
  });

  it('rounds percentages to two decimals and gives 0 for no capacity', () => {
    expect(percentOf(1000, 64000)).to.equal(1.56);
    expect(percentOf(1, 3)).to.equal(33.33);
    expect(percentOf(5, 0)).to.equal(0);
  });

  it('reports a threshold as reached at exactly the threshold, not below it, and never on zero capacity', () => {
    const rollup = sumRollups([countRollup('PRIVATE_IP', 100, 85)]);
    const rule = (threshold: number) => [{ type: 'PRIVATE_IP' as const, measure: 'used' as const, threshold, setting: 'pod.privateip.capacity.notificationthreshold' }];
    expect(thresholdBreaches(rollup, rule(0.85))).to.deep.equal(['PRIVATE_IP used 85% reached pod.privateip.capacity.notificationthreshold 85%']);
    expect(thresholdBreaches(rollup, rule(0.86))).to.deep.equal([]);
    expect(thresholdBreaches(sumRollups([countRollup('PRIVATE_IP', 0, 0)]), rule(0))).to.deep.equal([]);
  });

  it('counts addresses in inclusive ranges', () => {
    expect(rangeSize('192.168.100.10', '192.168.100.100')).to.equal(91);
    expect(rangeSize('10.0.0.255', '10.0.1.0')).to.equal(2);
    expect(rangeSize('10.0.0.5', '10.0.0.4')).to.equal(0);
    expect(ipInRange('203.0.113.200', '203.0.113.10', '203.0.113.200')).to.equal(true);
    expect(ipInRange('203.0.113.201', '203.0.113.10', '203.0.113.200')).to.equal(false);
    expect(() => rangeSize('10.0.0.256', '10.0.1.0')).to.throw('"10.0.0.256" is not a dotted IPv4 address');
  });

  it('parses Kubernetes quantities', () => {
    expect(parseBytes('1Gi')).to.equal(GiB);
    expect(parseBytes('512Mi')).to.equal(512 * 2 ** 20);
    expect(parseBytes('1.5G')).to.equal(1.5e9);
    expect(parseBytes('1e3')).to.equal(1000);
    expect(parseBytes(4096)).to.equal(4096);
    expect(parseQuantity('500m')).to.equal(0.5);
    expect(() => parseQuantity('12 GB')).to.throw('"12 GB" is not a quantity');
  });
});
