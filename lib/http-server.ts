import express from 'express';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';
import { errorMessage } from './error-message.ts';

/**
 * The one HTTP server of a component: /healthz (the process runs), /readyz (caches synced and
 * every readiness check passing; the leader state is reported but does not make a standby
 * unready, so it can take over) and /metrics (Prometheus text).
 */
export interface ReadinessReport {
  ready: boolean;
  [detail: string]: unknown;
}

export interface HealthServer {
  /** e.g. http://127.0.0.1:8080 (with the real port when bound to port 0). */
  readonly url: string;
  readonly metricsUrl: string;
  close(): Promise<void>;
}

export async function startHealthServer(bindAddress: string, registry: Registry, readiness: () => ReadinessReport): Promise<HealthServer> {
  const match = /^(.*):(\d+)$/.exec(bindAddress);
  if (!match) throw new Error(`bind address "${bindAddress}" must be host:port`);
  const host = match[1] || '0.0.0.0';
  const app = express();
  app.disable('x-powered-by');
  app.get('/healthz', (_req, res) => {
    res.type('text/plain').send('ok');
  });
  app.get('/readyz', (_req, res) => {
    const report = readiness();
    res.status(report.ready ? 200 : 503).json(report);
  });
  app.get('/metrics', async (_req, res) => {
    try {
      res.type(registry.contentType).send(await registry.metrics());
    } catch (err) {
      res.status(500).type('text/plain').send(errorMessage(err));
    }
  });
  const server: Server = await new Promise((resolve, reject) => {
    const s = app.listen(Number(match[2]), host, (err?: Error) => (err ? reject(err) : resolve(s)));
  });
  const { port } = server.address() as AddressInfo;
  const shownHost = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host.includes(':') ? `[${host}]` : host;
  const url = `http://${shownHost}:${port}`;
  return {
    url,
    metricsUrl: `${url}/metrics`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
