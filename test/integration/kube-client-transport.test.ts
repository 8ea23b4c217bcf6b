import { expect } from 'chai';
import diagnostics from 'node:diagnostics_channel';
import type { Socket } from 'node:net';
import { createKubeClient, type KubeObject } from '../../lib/kube-client.ts';
import { until } from '../support/until.ts';
import { useTestNamespace } from '../support/cluster.ts';

/**
 * The kube client talks HTTP/1.1 to the apiserver. undici 8 negotiates HTTP/2 by default, and
 * reaps an HTTP/2 session idle for 4 s by destroying its socket with "socket idle timeout":
 * under load a request raced with that reaping ("fetch failed") and the error escaped
 * uncaught (see http1Dispatcher in lib/kube-transport.ts). This fails if a request or a watch
 * of the client connects with HTTP/2 again, e.g. after an upgrade of client-node or undici.
 */
describe('kube client: the transport to the apiserver', function () {
  this.timeout(60_000);
  const ns = useTestNamespace('transport');

  it('requests and watches travel on HTTP/1.1 connections, never HTTP/2', async () => {
    const port = new URL(ns.kc.getCurrentCluster()?.server ?? '').port;
    const protocols: string[] = [];
    const onConnected = (message: unknown) => {
      const { socket } = message as { socket: Socket & { alpnProtocol?: string | false } };
      if (String(socket.remotePort) === port) protocols.push(String(socket.alpnProtocol));
    };
    diagnostics.subscribe('undici:client:connected', onConnected);
    try {
      const client = createKubeClient(ns.kc);
      const configMaps = client.resource<KubeObject>({ group: '', version: 'v1', plural: 'configmaps', kind: 'ConfigMap', namespaced: true });
      const seen: string[] = [];
      const watch = await client.watch(`/api/v1/namespaces/${ns.name}/configmaps`, {}, (type, obj) => seen.push(`${type} ${(obj as KubeObject).metadata.name}`), () => undefined);
      try {
        // Concurrent requests: each takes a connection of its own on HTTP/1.1, one stream each on HTTP/2.
        await Promise.all(['a', 'b', 'c'].map((name) => configMaps.create({ metadata: { name, namespace: ns.name } })));
        await until('the watch to see the three ConfigMaps', 20_000, () => Promise.resolve(seen.length === 3 ? true : undefined));
      } finally {
        watch.abort();
      }
    } finally {
      diagnostics.unsubscribe('undici:client:connected', onConnected);
    }
    expect(protocols.length, 'connections the client opened').to.be.greaterThan(0);
    expect(protocols).to.deep.equal(protocols.map(() => 'http/1.1'));
  });
});
