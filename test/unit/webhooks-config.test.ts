import { expect } from 'chai';
import { parseConfig } from '../../lib/config.ts';
import { admissions } from '../../webhooks/kinds/index.ts';
import { memoryLookup } from '../../webhooks/lookup.ts';
import { renderCertManagerObjects, validateWebhookConfig, webhookEndpoint, webhookOptions } from '../../webhooks/main.ts';
import { renderWebhookConfigurations } from '../../webhooks/registration.ts';

const parse = (args: string[], env: NodeJS.ProcessEnv = {}) => parseConfig(webhookOptions, args, env, validateWebhookConfig);

describe('webhooks configuration', () => {
  it('defaults to an in-cluster-ready setup and reads flags and the environment', () => {
    const config = parse([], { KUMULUS_WEBHOOK_NAMESPACE: 'kube-cloud' });
    expect(config).to.include({ bindAddress: '0.0.0.0:9443', name: 'kumulus', namespace: 'kube-cloud', secretName: 'kumulus-webhook-tls', certManager: 'auto' });
    expect(parse(['--webhook-url', 'https://10.0.0.5:9443', '--cert-manager=false']).certManager).to.equal('false');
  });

  it('refuses contradictions, naming the flags', () => {
    expect(() => parse(['--webhook-service-name', 'kumulus-webhooks', '--webhook-url', 'https://127.0.0.1:9443'])).to.throw(/--webhook-service-name and --webhook-url exclude each other/);
    expect(() => parse(['--webhook-bind-address', '0.0.0.0:0'])).to.throw(/give a fixed port, a host address, or --webhook-url/);
    expect(() => parse(['--webhook-url', 'http://127.0.0.1:9443/x'])).to.throw(/must be https:\/\/host:port/);
    expect(() => parse(['--cert-manager', 'maybe'])).to.throw(/--cert-manager \(KUMULUS_CERT_MANAGER\).*auto, true or false/);
  });

  it('derives the endpoint and the certificate names', () => {
    const inCluster = webhookEndpoint(parse(['--webhook-service-name', 'kumulus-webhooks', '--webhook-namespace', 'kumulus-system']));
    expect(inCluster.endpoint).to.deep.equal({ service: { namespace: 'kumulus-system', name: 'kumulus-webhooks', port: 443 } });
    expect(inCluster.dnsNames).to.deep.equal(['kumulus-webhooks.kumulus-system.svc', 'kumulus-webhooks.kumulus-system.svc.cluster.local']);
    const local = webhookEndpoint(parse(['--webhook-bind-address', '0.0.0.0:9443']));
    expect(local.endpoint).to.deep.equal({ url: 'https://127.0.0.1:9443' });
    expect(local.ipAddresses).to.include('127.0.0.1');
    const loopback = webhookEndpoint(parse(['--webhook-bind-address', '127.0.0.1:0']));
    expect(loopback.endpoint).to.equal(undefined);
    const named = webhookEndpoint(parse(['--webhook-url', 'https://webhooks.example.net:8443']));
    expect(named.dnsNames).to.include('webhooks.example.net');
  });

  it('renders cert-manager objects and the CA injection annotation', () => {
    const config = parse(['--webhook-service-name', 'kumulus-webhooks']);
    const { dnsNames, ipAddresses } = webhookEndpoint(config);
    const objects = renderCertManagerObjects(config, dnsNames, ipAddresses);
    expect(objects.issuer).to.deep.include({ apiVersion: 'cert-manager.io/v1', kind: 'Issuer', spec: { selfSigned: {} } });
    expect(objects.issuer.metadata).to.include({ namespace: 'kumulus-system' });
    const certificate = objects.certificate as { metadata: { name: string; namespace: string }; spec: Record<string, unknown> };
    expect(certificate.metadata).to.include({ name: 'kumulus-webhook-serving', namespace: 'kumulus-system' });
    expect(certificate.spec).to.include({ secretName: 'kumulus-webhook-tls', commonName: 'kumulus-webhooks.kumulus-system.svc' });
    expect(certificate.spec.dnsNames).to.deep.equal(dnsNames);
    expect(certificate.spec.usages).to.include('server auth');
    expect(certificate.spec).to.not.have.property('ipAddresses');
    expect(certificate.spec.issuerRef).to.deep.equal({ kind: 'Issuer', name: objects.issuer.metadata.name, group: 'cert-manager.io' });
    expect(objects.annotations).to.deep.equal({ 'cert-manager.io/inject-ca-from': 'kumulus-system/kumulus-webhook-serving' });

    const rendered = renderWebhookConfigurations('kumulus', admissions(memoryLookup([])), { service: { namespace: 'kumulus-system', name: 'kumulus-webhooks', port: 443 } }, '', objects.annotations);
    expect(rendered.validating.metadata.annotations).to.deep.equal(objects.annotations);
    expect(rendered.mutating.metadata.annotations).to.deep.equal(objects.annotations);
  });

  it('routes every admitted kind to the webhooks, with failure policy Fail', () => {
    const kinds = admissions(memoryLookup([]));
    const rendered = renderWebhookConfigurations('kumulus', kinds, { url: 'https://127.0.0.1:9443' }, 'CA');
    const validating = rendered.validating.webhooks[0] as { failurePolicy: string; rules: { resources: string[] }[] };
    expect(validating.failurePolicy).to.equal('Fail');
    expect(validating.rules.flatMap((r) => r.resources)).to.include.members(['zones', 'pods', 'clusters', 'hosts', 'primarystorages', 'ipranges', 'virtualmachines', 'networks', 'configurations']);
    expect(rendered.validating.metadata).to.not.have.property('annotations');
  });
});
