import { expect } from 'chai';
import { broadcastUri, ipAddressName, nicMac, parseBroadcastUri, vlanAllocationName } from '../../lib/guest-identity.ts';

describe('guest identities derived from uids', () => {
  const vm = '6f1c2a3e-0b4d-4c5e-8f90-123456789abc';
  const net = '0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d';

  it('keeps the MAC every existing domain has: the same hash of both uids as before the move to lib/', () => {
    // Pinned from node-daemon/drivers/identity.ts before the move: a changed value would give running guests new MACs and lose their leases.
    expect(nicMac(vm, net)).to.equal('e6:00:1e:8e:5e:8c');
    expect(nicMac(vm, net)).to.match(/^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/);
    const first = parseInt(nicMac(vm, net).slice(0, 2), 16);
    expect(first & 0x01, 'unicast').to.equal(0);
    expect(first & 0x02, 'locally administered').to.equal(2);
    expect(nicMac(vm, '1a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d')).to.not.equal(nicMac(vm, net));
  });

  it('names the allocation locks after the network uid and the address, or the physical network and the id', () => {
    expect(ipAddressName(net, '10.1.1.10')).to.equal(`${net}-10-1-1-10`);
    expect(vlanAllocationName('physnet1', 'VXLAN', 5001)).to.equal('physnet1-vxlan-5001');
    expect(vlanAllocationName('physnet1', 'VLAN', 100)).to.equal('physnet1-vlan-100');
  });

  it('writes and reads CloudStack broadcast URIs', () => {
    expect(broadcastUri('VXLAN', 5001)).to.equal('vxlan://5001');
    expect(broadcastUri('VLAN', 1200)).to.equal('vlan://1200');
    expect(parseBroadcastUri('vxlan://5001')).to.deep.equal({ isolation: 'VXLAN', id: 5001 });
    expect(parseBroadcastUri('vlan://100')).to.deep.equal({ isolation: 'VLAN', id: 100 });
    expect(parseBroadcastUri('lswitch:x')).to.equal(undefined);
    expect(parseBroadcastUri(undefined)).to.equal(undefined);
  });
});
