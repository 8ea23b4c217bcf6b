import { expect } from 'chai';
import { guestServiceAddress, intToIp, ipToInt, parseCidr, subnetOf } from '../../lib/ipv4.ts';

describe('IPv4 arithmetic and the guest address plan', () => {
  it('converts addresses and subnets', () => {
    expect(ipToInt('10.0.0.1')).to.equal(167772161);
    expect(intToIp(167772161)).to.equal('10.0.0.1');
    expect(ipToInt('10.0.0.256')).to.equal(undefined);
    expect(ipToInt('10.0.0')).to.equal(undefined);
    expect(subnetOf('192.168.1.77', '255.255.255.192')?.cidr).to.equal('192.168.1.64/26');
    expect(subnetOf('192.168.1.77', '255.0.255.0')).to.equal(undefined);
    expect(parseCidr('10.1.0.0/16')).to.include({ prefix: 16, network: ipToInt('10.1.0.0'), broadcast: ipToInt('10.1.255.255') });
    expect(parseCidr('10.1.0.0/33')).to.equal(undefined);
  });

  it('serves DHCP and DNS from the last host address, or the one before when the gateway holds it', () => {
    expect(guestServiceAddress('10.1.1.0/24', '10.1.1.1')).to.equal('10.1.1.254');
    expect(guestServiceAddress('10.1.1.0/24', undefined)).to.equal('10.1.1.254');
    expect(guestServiceAddress('10.1.1.0/24', '10.1.1.254')).to.equal('10.1.1.253');
    expect(guestServiceAddress('172.16.0.0/12', '172.16.0.1')).to.equal('172.31.255.254');
    expect(guestServiceAddress('10.1.1.0/30', '10.1.1.1')).to.equal('10.1.1.2');
    expect(guestServiceAddress('10.1.1.0/31', undefined), 'a /31 has no address to spare').to.equal(undefined);
    expect(guestServiceAddress('10.1.1.0', undefined), 'not a CIDR').to.equal(undefined);
  });
});
