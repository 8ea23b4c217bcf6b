import { expect } from 'chai';
import { addressIn, parseRouteGet, routeMismatch } from '../../lib/controlplane/node-network.ts';

describe('test node network: route checks', () => {
  it('parses `ip route get` for a local, a link and a gatewayed address', () => {
    expect(parseRouteGet('local 10.250.3.1 dev lo table local src 10.250.3.1 uid 0 \n    cache <local> \n')).to.deep.equal({ type: 'local', address: '10.250.3.1', dev: 'lo' });
    expect(parseRouteGet('10.250.3.2 dev kn1a2b3ch src 10.250.3.1 uid 0 \n    cache \n')).to.deep.equal({ type: 'unicast', address: '10.250.3.2', dev: 'kn1a2b3ch' });
    expect(parseRouteGet('10.244.0.5 via 10.250.3.2 dev kn1a2b3ch src 10.250.3.1 uid 0')).to.deep.equal({ type: 'unicast', address: '10.244.0.5', dev: 'kn1a2b3ch', via: '10.250.3.2' });
    expect(parseRouteGet('unreachable 10.9.9.9 uid 0').type).to.equal('other');
  });

  it('refuses an address that would leave through a gateway or another device', () => {
    const viaDefault = parseRouteGet('10.250.3.2 via 192.0.2.1 dev eth0 src 192.0.2.2 uid 0');
    expect(routeMismatch(viaDefault, { type: 'unicast', dev: 'kn1a2b3ch' })).to.equal('device eth0, not kn1a2b3ch');
    const sameDevice = parseRouteGet('10.250.3.2 via 192.0.2.1 dev kn1a2b3ch uid 0');
    expect(routeMismatch(sameDevice, { type: 'unicast', dev: 'kn1a2b3ch' })).to.equal('a gateway (192.0.2.1)');
    expect(routeMismatch(viaDefault, { type: 'local' })).to.equal('a unicast route, not local');
    expect(routeMismatch(parseRouteGet('local 10.250.3.1 dev lo'), { type: 'local', dev: 'lo' })).to.equal(undefined);
  });

  it('computes addresses inside a CIDR', () => {
    expect(addressIn('10.96.0.0/16', 1)).to.equal('10.96.0.1');
    expect(addressIn('10.250.7.252/30', 2)).to.equal('10.250.7.254');
    expect(addressIn('10.244.0.0/24', 258)).to.equal('10.244.1.2');
  });
});
