import { expect } from 'chai';
import { guestAddressing, guestAddressProblem, guestPool, guestPoolSize, guestServiceAddress, intToIp, ipToInt, parseCidr, subnetOf } from '../../lib/ipv4.ts';

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

describe('a guest network\'s pool of addresses', () => {
  const web = guestAddressing({ spec: { cidr: '10.1.1.0/24', gateway: '10.1.1.1' } })!;

  it('reads the CIDR, gateway, netmask, service address and range, status over spec', () => {
    expect(web).to.deep.equal({ cidr: '10.1.1.0/24', gateway: '10.1.1.1', serviceAddress: '10.1.1.254', netmask: '255.255.255.0', startIp: '10.1.1.1', endIp: '10.1.1.254' });
    expect(guestAddressing({ spec: { cidr: '10.1.1.0/24', startIp: '10.1.1.100', endIp: '10.1.1.150' }, status: { cidr: '10.1.1.0/24', gateway: '10.1.1.1' } })).to.include({ startIp: '10.1.1.100', endIp: '10.1.1.150', gateway: '10.1.1.1' });
    expect(guestAddressing({ spec: {} }), 'L2: no addressing').to.equal(undefined);
  });

  it('counts the guests a network can address: its range less the gateway and the service address', () => {
    expect(guestPoolSize(web)).to.equal(252);
    expect(guestPoolSize(guestAddressing({ spec: { cidr: '10.1.1.0/29', gateway: '10.1.1.1' } })!)).to.equal(4);
    expect(guestPoolSize(guestAddressing({ spec: { cidr: '10.1.1.0/24', gateway: '10.1.1.1', startIp: '10.1.1.10', endIp: '10.1.1.19' } })!), 'reserved addresses outside the range cost nothing').to.equal(10);
    expect(guestPool(web)?.reserved).to.deep.equal(new Set([ipToInt('10.1.1.1'), ipToInt('10.1.1.254')]));
  });

  it('refuses an address outside the CIDR or the range, or a reserved one, saying what to use', () => {
    expect(guestAddressProblem(web, '10.1.1.10', 'web')).to.equal(undefined);
    expect(guestAddressProblem(web, '10.1.2.10', 'web')).to.deep.equal({ reason: 'AddressOutsideRange', message: '10.1.2.10 is not a guest address of network web (10.1.1.0/24); use one in 10.1.1.1-10.1.1.254' });
    expect(guestAddressProblem(web, '10.1.1.255', 'web')?.reason).to.equal('AddressOutsideRange');
    expect(guestAddressProblem(web, '10.1.1.1', 'web')).to.deep.equal({ reason: 'AddressReserved', message: "10.1.1.1 is network web's gateway; use another address in 10.1.1.1-10.1.1.254" });
    expect(guestAddressProblem(web, '10.1.1.254', 'web')?.message).to.match(/reserved for network web's DHCP and DNS service on every host/);
    const narrow = guestAddressing({ spec: { cidr: '10.1.1.0/24', gateway: '10.1.1.1', startIp: '10.1.1.100', endIp: '10.1.1.150' } })!;
    expect(guestAddressProblem(narrow, '10.1.1.99', 'shared')?.message).to.equal("10.1.1.99 is outside network shared's guest range 10.1.1.100-10.1.1.150; use one in it");
  });
});
