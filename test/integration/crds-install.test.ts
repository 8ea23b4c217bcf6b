import * as k8s from '@kubernetes/client-node';
import { expect } from 'chai';
import { request, type RequestOptions } from 'node:https';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { kinds, type KindInfo } from '../../crds/index.ts';
import { installCrds, readCrdManifests } from '../../lib/install-crds.ts';
import { log } from '../../lib/log.ts';
import { sharedKubeConfig } from '../support/cluster.ts';

const CRD_DIR = join(import.meta.dirname, '../../crds');

/** GET a raw apiserver path as the admin of the shared control plane. */
async function getJson(kc: k8s.KubeConfig, path: string): Promise<{ status: number; body: unknown }> {
  const opts: RequestOptions = {};
  await kc.applyToHTTPSOptions(opts);
  const url = new URL(path, kc.getCurrentCluster()?.server);
  return new Promise((resolve, reject) => {
    const req = request(url, { ...opts, method: 'GET', headers: { ...opts.headers, accept: 'application/json' } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        resolve({ status: res.statusCode ?? 0, body: res.statusCode === 200 ? (JSON.parse(text) as unknown) : text });
      });
    });
    req.on('error', reject);
    req.end();
  });
}

interface SchemaNode {
  description?: string;
  properties?: Record<string, SchemaNode>;
  items?: SchemaNode;
  additionalProperties?: SchemaNode | boolean;
}

/** Every (path, description) of the kind's spec and status, as written in the TypeBox schema. */
function descriptions(node: SchemaNode, path: string, out: [string, string][] = []): [string, string][] {
  for (const [name, child] of Object.entries(node.properties ?? {})) {
    const childPath = `${path}.${name}`;
    if (child.description) out.push([childPath, child.description]);
    descriptions(child, childPath, out);
  }
  if (node.items) descriptions(node.items, `${path}[]`, out);
  return out;
}

/** The published node at the same path, following `allOf` wrappers the apiserver adds around refs. */
function publishedAt(root: SchemaNode, path: string): SchemaNode | undefined {
  let node: SchemaNode | undefined = root;
  for (const segment of path.split('.').slice(1)) {
    const arrayDepth = segment.endsWith('[]');
    const name = arrayDepth ? segment.slice(0, -2) : segment;
    node = node?.properties?.[name];
    if (arrayDepth) node = node?.items;
  }
  return node;
}

describe('crds: installation in a real apiserver', function () {
  this.timeout(180_000);
  let kc: k8s.KubeConfig;

  before(async () => {
    kc = await sharedKubeConfig();
    await installCrds(kc, await readCrdManifests(CRD_DIR), log);
  });

  it('generates at least 20 kinds, and every CRD is Established and NamesAccepted', async () => {
    expect(kinds.length).to.be.at.least(20);
    const extensions = kc.makeApiClient(k8s.ApiextensionsV1Api);
    for (const kind of kinds) {
      const crd = await extensions.readCustomResourceDefinition({ name: `${kind.plural}.${kind.group}` });
      const conditions = Object.fromEntries((crd.status?.conditions ?? []).map((c) => [c.type, c.status]));
      expect(conditions, kind.kind).to.include({ Established: 'True', NamesAccepted: 'True' });
      expect(crd.status?.acceptedNames?.shortNames, kind.kind).to.deep.equal(kind.shortNames);
      expect(crd.status?.acceptedNames?.categories, kind.kind).to.deep.equal(['kumulus']);
    }
  });

  it('serves every kind in discovery, with its short names and the kumulus category', async () => {
    for (const group of new Set(kinds.map((k) => k.group))) {
      const { status, body } = await getJson(kc, `/apis/${group}/v1alpha1`);
      expect(status, group).to.equal(200);
      const resources = (body as { resources: { name: string; kind: string; shortNames?: string[]; categories?: string[] }[] }).resources;
      for (const kind of kinds.filter((k) => k.group === group)) {
        const resource = resources.find((r) => r.name === kind.plural);
        expect(resource, kind.kind).to.include({ kind: kind.kind });
        expect(resource?.categories, kind.kind).to.deep.equal(['kumulus']);
        expect(resources.some((r) => r.name === `${kind.plural}/status`), `${kind.kind} status subresource`).to.equal(true);
      }
    }
  });

  it('publishes every field description in the OpenAPI v3 document (what kubectl explain shows)', async () => {
    const checked = new Map<KindInfo, number>();
    for (const group of new Set(kinds.map((k) => k.group))) {
      // The OpenAPI aggregator picks new CRDs up asynchronously.
      let schemas: Record<string, SchemaNode> = {};
      for (let attempt = 0; attempt < 100; attempt++) {
        const { status, body } = await getJson(kc, `/openapi/v3/apis/${group}/v1alpha1`);
        if (status === 200) {
          schemas = (body as { components: { schemas: Record<string, SchemaNode> } }).components.schemas;
          if (kinds.filter((k) => k.group === group).every((k) => Object.keys(schemas).some((s) => s.endsWith(`.v1alpha1.${k.kind}`)))) break;
        }
        await sleep(200);
      }
      for (const kind of kinds.filter((k) => k.group === group)) {
        const key = Object.keys(schemas).find((s) => s.endsWith(`.v1alpha1.${kind.kind}`));
        expect(key, `${kind.kind} in /openapi/v3/apis/${group}/v1alpha1`).to.be.a('string');
        const published = schemas[key ?? ''] as SchemaNode;
        expect(published.description).to.equal(kind.description);
        const expected = descriptions(kind.schema as SchemaNode, '').filter(([path]) => path.startsWith('.spec') || path.startsWith('.status'));
        for (const [path, description] of expected) {
          expect(publishedAt(published, path)?.description, `${kind.kind}${path}`).to.equal(description);
        }
        checked.set(kind, expected.length);
      }
    }
    expect(checked.size).to.equal(kinds.length);
    const total = [...checked.values()].reduce((a, b) => a + b, 0);
    expect(total).to.be.greaterThan(500);
  });
});
