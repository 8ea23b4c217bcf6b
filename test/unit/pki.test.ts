import { expect } from 'chai';
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { createCertificateAuthority, issueCertificate, loadCertificateAuthority } from '../../lib/pki.ts';

describe('pki', () => {
  it('issues a serving certificate that chains to its CA and names its addresses', async () => {
    const ca = await createCertificateAuthority('test-ca', 30);
    const leaf = await issueCertificate(ca, { commonName: 'svc', dnsNames: ['svc.ns.svc'], ipAddresses: ['127.0.0.1'], usage: 'server', validDays: 10 });
    const caCert = new X509Certificate(ca.certPem);
    const cert = new X509Certificate(leaf.certPem);
    expect(cert.checkIssued(caCert)).to.equal(true);
    expect(cert.verify(caCert.publicKey)).to.equal(true);
    expect(cert.checkHost('svc.ns.svc')).to.equal('svc.ns.svc');
    expect(cert.checkIP('127.0.0.1')).to.equal('127.0.0.1');
    expect(cert.ca).to.equal(false);
    expect(caCert.ca).to.equal(true);
    expect(cert.checkPrivateKey(createPrivateKey(leaf.keyPem))).to.equal(true);
  });

  it('puts organizations in the subject, which Kubernetes reads as groups', async () => {
    const ca = await createCertificateAuthority('test-ca', 30);
    const leaf = await issueCertificate(ca, { commonName: 'admin', organizations: ['system:masters'], usage: 'client', validDays: 1 });
    expect(new X509Certificate(leaf.certPem).subject).to.equal('CN=admin\nO=system:masters');
  });

  it('never issues past the CA expiry, and a reloaded CA keeps signing', async () => {
    const ca = await createCertificateAuthority('short-ca', 2);
    const reloaded = await loadCertificateAuthority(ca.certPem, ca.keyPem);
    const leaf = await issueCertificate(reloaded, { commonName: 'x', usage: 'server', validDays: 365 });
    expect(leaf.notAfter.getTime()).to.be.at.most(ca.cert.notAfter.getTime());
    expect(new X509Certificate(leaf.certPem).verify(new X509Certificate(ca.certPem).publicKey)).to.equal(true);
  });
});
