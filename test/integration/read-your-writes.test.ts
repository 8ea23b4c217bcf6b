import { expect } from 'chai';
import { createInformerFactory } from '../../lib/informer.ts';
import { createKubeClient, type KubeObject } from '../../lib/kube-client.ts';
import { log } from '../../lib/log.ts';
import { readingYourWrites } from '../../lib/read-your-writes.ts';
import { useTestNamespace } from '../support/cluster.ts';

interface ConfigMap extends KubeObject {
  data?: Record<string, string>;
}

const CONFIGMAPS = { group: '', version: 'v1', plural: 'configmaps', kind: 'ConfigMap', namespaced: true } as const;

describe('read-your-writes over an informer cache (real apiserver)', function () {
  this.timeout(60_000);
  const ns = useTestNamespace('ryw');

  it('returns from every write only once the cache holds it, so a read right after sees it', async () => {
    const client = createKubeClient(ns.kc);
    const factory = createInformerFactory(client, log);
    const informer = factory.informer<ConfigMap>(CONFIGMAPS, { namespace: ns.name });
    factory.start();
    await informer.waitForSync();
    try {
      const configMaps = readingYourWrites(client.resource<ConfigMap>(CONFIGMAPS), informer);
      const key = { namespace: ns.name, name: 'counter' };
      const created = await configMaps.create({ metadata: key, data: { n: '0' } });
      expect(informer.get(key)?.metadata.resourceVersion).to.equal(created.metadata.resourceVersion);
      for (let n = 1; n <= 20; n++) {
        const written = await configMaps.patch(key, { data: { n: String(n) } }, 'merge');
        expect(informer.get(key)?.data?.['n'], `read after write ${n}`).to.equal(String(n));
        expect(informer.get(key)?.metadata.resourceVersion).to.equal(written.metadata.resourceVersion);
      }
      await configMaps.delete(key);
      expect(informer.get(key)).to.equal(undefined);
    } finally {
      factory.stop();
    }
  });
});
