import * as k8s from '@kubernetes/client-node';
import { createServer, connect, type Server, type Socket } from 'node:net';

/** A TCP relay in front of the apiserver that a test can cut (existing and new connections). */
export interface Relay {
  kubeConfig: k8s.KubeConfig;
  cut(): void;
  restore(): void;
  /** Connections refused while cut: each is a reconnect attempt that failed. */
  refused(): number;
  close(): Promise<void>;
}

export async function startRelay(kc: k8s.KubeConfig): Promise<Relay> {
  const target = new URL(kc.getCurrentCluster()!.server);
  const sockets = new Set<Socket>();
  let cut = false;
  let refused = 0;
  const server: Server = createServer((downstream) => {
    if (cut) {
      refused++;
      return void downstream.destroy();
    }
    const upstream = connect(Number(target.port), target.hostname);
    for (const s of [downstream, upstream]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => {
        downstream.destroy();
        upstream.destroy();
      });
    }
    downstream.pipe(upstream).pipe(downstream);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  const relayed = new k8s.KubeConfig();
  relayed.loadFromOptions({
    clusters: kc.clusters.map((c) => ({ ...c, server: `https://127.0.0.1:${port}` })),
    users: kc.users,
    contexts: kc.contexts,
    currentContext: kc.currentContext,
  });
  return {
    kubeConfig: relayed,
    cut() {
      cut = true;
      for (const s of sockets) s.destroy();
    },
    restore() {
      cut = false;
    },
    refused: () => refused,
    close: () =>
      new Promise((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
