import { expect } from 'chai';
import diagnostics from 'node:diagnostics_channel';
import { once } from 'node:events';
import type { ClientRequest } from 'node:http';
import type { Socket } from 'node:net';
import { createKubeClient, type KubeObject } from '../../lib/kube-client.ts';
import { IDLE_CONNECTION_TIMEOUT_MS } from '../../lib/kube-transport.ts';
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

  it('an impersonating client closes an idle connection itself, long before the apiserver would (90 s)', async () => {
    const sockets: Socket[] = [];
    const onStart = (message: unknown) => {
      const { socket } = (message as { request: ClientRequest }).request;
      if (socket && !sockets.includes(socket)) sockets.push(socket);
    };
    diagnostics.subscribe('http.client.request.start', onStart);
    try {
      const client = createKubeClient(ns.kc).as({ user: 'transport-test', groups: ['system:masters'] });
      const namespace = await client.resource<KubeObject>({ group: '', version: 'v1', plural: 'namespaces', kind: 'Namespace', namespaced: false }).get({ name: ns.name });
      expect(namespace.metadata.name).to.equal(ns.name);
    } finally {
      diagnostics.unsubscribe('http.client.request.start', onStart);
    }
    expect(sockets).to.have.length(1);
    const idle = Date.now();
    // Without a client-side timeout the socket stays open until the apiserver closes it at 90 s.
    await Promise.race([once(sockets[0]!, 'close'), new Promise((resolve) => setTimeout(resolve, IDLE_CONNECTION_TIMEOUT_MS + 10_000).unref())]);
    expect(sockets[0]!.destroyed, `the idle connection is closed after ${Date.now() - idle} ms`).to.equal(true);
  });
});
