import { expect } from 'chai';
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { renderChartFiles } from '../../packaging/chart.ts';

const chartDir = join(import.meta.dirname, '..', '..', 'charts', 'kumulus');

describe('Helm chart: generated files', () => {
  it('charts/kumulus/crds and the webhook configurations are exactly what `npm run gen` writes', async () => {
    const rendered = renderChartFiles();
    const crdFiles = (await readdir(join(chartDir, 'crds'))).map((f) => `crds/${f}`).sort();
    expect(crdFiles).to.deep.equal([...rendered.keys()].filter((p) => p.startsWith('crds/')).sort());
    for (const [path, content] of rendered) {
      const current = await readFile(join(chartDir, path), 'utf8');
      expect(current === content, `charts/kumulus/${path} is stale: run npm run gen`).to.equal(true);
    }
  });

  it('leaves caBundle to the running webhook server, so that helm upgrade never resets it', () => {
    const template = renderChartFiles().get('templates/webhook-configurations.yaml') ?? '';
    expect(template).to.include('path: /mutate');
    expect(template).to.include('path: /validate');
    expect(template).not.to.include('caBundle');
  });
});
