import { expect } from 'chai';
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { kinds } from '../../crds/index.ts';
import { renderCrdFiles } from '../../crds/render.ts';

const CRD_DIR = join(import.meta.dirname, '../../crds');

describe('crds: generated manifests', () => {
  it('crds/*.yaml are exactly what `npm run gen` writes (run it after changing crds/*.ts)', async () => {
    const rendered = renderCrdFiles();
    const onDisk = (await readdir(CRD_DIR)).filter((f) => f.endsWith('.yaml')).sort();
    expect(onDisk, 'YAML files in crds/').to.deep.equal([...rendered.keys()].sort());
    for (const [name, content] of rendered) {
      const current = await readFile(join(CRD_DIR, name), 'utf8');
      expect(current === content, `crds/${name} is stale: run npm run gen`).to.equal(true);
    }
  });

  it('renders the same bytes every time', () => {
    const first = renderCrdFiles();
    const second = renderCrdFiles();
    expect([...second.entries()]).to.deep.equal([...first.entries()]);
  });

  it('writes one file per API group holding one CRD per kind, sorted by kind', () => {
    const rendered = renderCrdFiles();
    expect([...rendered.keys()]).to.deep.equal(['compute.yaml', 'iam.yaml', 'infra.yaml', 'network.yaml', 'ops.yaml']);
    const seen: string[] = [];
    for (const [name, content] of rendered) {
      const docs = parseAllDocuments(content).map((d) => d.toJS() as { metadata: { name: string }; spec: { group: string; names: { kind: string } } });
      const kindsInFile = docs.map((d) => d.spec.names.kind);
      expect(kindsInFile, name).to.deep.equal([...kindsInFile].sort((a, b) => a.localeCompare(b)));
      for (const doc of docs) {
        expect(doc.spec.group.split('.')[0], `${doc.metadata.name} in ${name}`).to.equal(name.replace('.yaml', ''));
        seen.push(doc.spec.names.kind);
      }
    }
    expect(seen.sort()).to.deep.equal(kinds.map((k) => k.kind).sort());
  });

  it('emits no YAML anchors or aliases (every CRD reads on its own)', () => {
    for (const [name, content] of renderCrdFiles()) {
      expect(/(^|\s)[&*][a-z]+\d+(\s|$)/m.test(content), name).to.equal(false);
    }
  });
});
