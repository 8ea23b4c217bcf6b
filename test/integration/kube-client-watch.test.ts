import * as k8s from '@kubernetes/client-node';
import { expect } from 'chai';
import { sharedDispatcherAuth, WATCH_IDLE_TIMEOUT_MS, watchWithIdleTimeout } from '../../lib/kube-transport.ts';
import { useTestNamespace } from '../support/cluster.ts';

/**
 * kube-client.ts gives client-node's Watch a 150 s idle timeout through a private field
 * (client-node has no option for it; the package is pinned). These fail if an upgrade drops
 * or stops reading the field, instead of letting every idle watch be cut after 30 s.
 */
describe('kube client: the watch idle timeout (pinned @kubernetes/client-node)', function () {
  this.timeout(60_000);
  const ns = useTestNamespace('watch-idle');

  it('client-node\'s Watch still has requestTimeoutMs, and it is 30 s unless set', () => {
    const watch = new k8s.Watch(ns.kc) as unknown as { requestTimeoutMs?: unknown };
    expect(watch.requestTimeoutMs).to.equal(30_000);
    expect(WATCH_IDLE_TIMEOUT_MS).to.be.greaterThan(60_000, 'longer than the apiserver\'s bookmark period');
  });

  it('ends a silent watch after the idle timeout it was given, so the field is still read', async () => {
    const watch = watchWithIdleTimeout(ns.kc, sharedDispatcherAuth(ns.kc), 1000);
    const started = Date.now();
    const ended = await new Promise<unknown>((resolve) => {
      // An empty namespace, no bookmarks asked for: nothing is sent after the headers.
      void watch.watch(`/api/v1/namespaces/${ns.name}/configmaps`, { timeoutSeconds: 600 }, () => undefined, resolve);
    });
    const elapsed = Date.now() - started;
    expect((ended as Error | null)?.name).to.equal('TimeoutError');
    expect(elapsed).to.be.within(900, 20_000);
  });
});
