import * as k8s from '@kubernetes/client-node';
import { expect } from 'chai';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { callerIdentity } from '../../lib/identity.ts';
import { createKubeClient } from '../../lib/kube-client.ts';

/**
 * What an impersonating client puts on the wire, seen by a plain HTTP listener: one
 * Impersonate-Group line per group (the apiserver reads each line as one group; fetch would
 * fold them into one), the kubeconfig's own credentials, and nothing of the kind on the
 * privileged client. The apiserver's verdicts on these identities are in
 * test/integration/tenancy-rbac.test.ts.
 */
describe('tenancy: impersonation headers', () => {
  let server: Server;
  let seen: IncomingMessage[] = [];
  let bodies: string[] = [];
  let kc: k8s.KubeConfig;

  before(async () => {
    server = createServer((req, res) => {
      seen.push(req);
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        bodies.push(Buffer.concat(chunks).toString('utf8'));
        res.setHeader('Content-Type', 'application/json');
        res.end(JSON.stringify({ kind: 'NamespaceList', items: [], metadata: {} }));
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as AddressInfo).port;
    kc = new k8s.KubeConfig();
    kc.loadFromOptions({
      clusters: [{ name: 'c', server: `http://127.0.0.1:${port}`, skipTLSVerify: true }],
      users: [{ name: 'u', token: 'api-service-token' }],
      contexts: [{ name: 'x', cluster: 'c', user: 'u' }],
      currentContext: 'x',
    });
  });

  after(() => new Promise<void>((resolve) => server.close(() => resolve())));
  beforeEach(() => {
    seen = [];
    bodies = [];
  });

  const NAMESPACES = { group: '', version: 'v1', plural: 'namespaces', kind: 'Namespace', namespaced: false };

  it('sends the user and each group on its own header line, with the kubeconfig credentials', async () => {
    const base = createKubeClient(kc);
    const identity = callerIdentity('alice', 'acme', 'root/customers');
    const alice = base.as(identity);
    expect(alice.impersonating).to.deep.equal(identity);
    await alice.resource(NAMESPACES).list();
    const req = seen[0];
    expect(req?.headers['impersonate-user']).to.equal('kumulus:user:alice');
    const groupLines: string[] = [];
    const raw = req?.rawHeaders ?? [];
    for (let i = 0; i < raw.length; i += 2) if (raw[i]?.toLowerCase() === 'impersonate-group') groupLines.push(raw[i + 1] ?? '');
    expect(groupLines).to.deep.equal(['kumulus:account:acme', 'kumulus:domain:root/customers']);
    expect(req?.headers.authorization).to.equal('Bearer api-service-token');
  });

  it('leaves the privileged client alone, and keeps identities apart', async () => {
    const base = createKubeClient(kc);
    const bob = base.as(callerIdentity('bob', 'other', 'root'));
    await base.resource(NAMESPACES).list();
    await bob.resource(NAMESPACES).list();
    expect(seen[0]?.headers['impersonate-user']).to.equal(undefined);
    expect(seen[0]?.headers['impersonate-group']).to.equal(undefined);
    expect(seen[1]?.headers['impersonate-user']).to.equal('kumulus:user:bob');
    expect(base.impersonating).to.equal(undefined);
  });

  it('sends a DELETE body with its length, so the kept-alive connection stays in step', async () => {
    const alice = createKubeClient(kc).as(callerIdentity('alice', 'acme', 'root'));
    await alice.resource(NAMESPACES).delete({ name: 'n1' }, { propagationPolicy: 'Foreground' });
    await alice.resource(NAMESPACES).list();
    expect(seen.map((r) => r.method)).to.deep.equal(['DELETE', 'GET']);
    expect(JSON.parse(bodies[0] ?? '{}')).to.deep.equal({ propagationPolicy: 'Foreground' });
    expect(seen[0]?.headers['content-length']).to.equal(String(bodies[0]?.length));
    expect(bodies[1]).to.equal('');
  });
});
