import { generateKeyPairSync } from 'node:crypto';
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { request } from 'node:https';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from '../log.ts';
import { createCertificateAuthority, issueCertificate } from '../pki.ts';
import { resolveBinaries, type ControlPlaneBinaries } from './binaries.ts';
import { renderKubeconfig } from './kubeconfig.ts';
import { startSupervisor, type ManagedProcess } from './supervisor.ts';

/**
 * A real, single-node Kubernetes control plane on loopback: etcd, kube-apiserver and
 * kube-controller-manager (garbage collector, namespace and service-account controllers).
 * Tests and `kumulus local` share this one implementation.
 */
export interface ControlPlane {
  /** The apiserver's URL, https://127.0.0.1:<port>. */
  server: string;
  /** A kubeconfig for a system:masters administrator, with embedded credentials. */
  kubeconfigPath: string;
  kubeconfig: string;
  caPem: string;
  dir: string;
  binaries: ControlPlaneBinaries;
  stop(): Promise<void>;
}

export interface ControlPlaneOptions {
  logger: Logger;
  /** Keep the state here instead of a fresh temporary folder (which is removed on stop). */
  dir?: string;
  readyTimeoutMs?: number;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

interface Probe {
  url: string;
  ca?: string;
  cert?: string;
  key?: string;
}

function httpsStatus(probe: Probe): Promise<number> {
  return new Promise((resolve) => {
    const req = request(probe.url, { ca: probe.ca, cert: probe.cert, key: probe.key, rejectUnauthorized: probe.ca !== undefined, timeout: 2000 }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', () => resolve(0));
    req.on('timeout', () => req.destroy());
    req.end();
  });
}

async function httpStatus(url: string): Promise<number> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
    await res.body?.cancel();
    return res.status;
  } catch {
    return 0;
  }
}

/** Waits until `check` reports 200, failing early with the process's log if it exits. */
async function waitHealthy(proc: ManagedProcess, check: () => Promise<number>, deadline: number): Promise<void> {
  let exitedWith: number | string | undefined;
  void proc.exited.then((code) => (exitedWith = code));
  for (;;) {
    if ((await check()) === 200) return;
    if (exitedWith !== undefined || Date.now() > deadline) {
      const why = exitedWith !== undefined ? `exited with ${exitedWith}` : 'did not become healthy in time';
      throw new Error(`${proc.name} ${why}; the end of ${proc.logPath}:\n${await proc.logTail()}`);
    }
    await sleep(100);
  }
}

export async function startControlPlane(options: ControlPlaneOptions): Promise<ControlPlane> {
  const logger = options.logger.child({ component: 'controlplane' });
  const binaries = await resolveBinaries(logger);
  const started = Date.now();
  const deadline = started + (options.readyTimeoutMs ?? 60_000);
  const dir = options.dir ?? (await mkdtemp(join(tmpdir(), 'kumulus-controlplane-')));
  const pki = join(dir, 'pki');
  await mkdir(pki, { recursive: true });
  const supervisor = startSupervisor(dir);
  if (!options.dir) supervisor.removeOnExit(dir);

  try {
    const [etcdClient, etcdPeer, apiPort, kcmPort] = [await freePort(), await freePort(), await freePort(), await freePort()];
    const etcdUrl = `http://127.0.0.1:${etcdClient}`;
    const etcd = supervisor.start('etcd', binaries.etcd, [
      '--name=default',
      `--data-dir=${join(dir, 'etcd')}`,
      `--listen-client-urls=${etcdUrl}`,
      `--advertise-client-urls=${etcdUrl}`,
      `--listen-peer-urls=http://127.0.0.1:${etcdPeer}`,
      `--initial-advertise-peer-urls=http://127.0.0.1:${etcdPeer}`,
      `--initial-cluster=default=http://127.0.0.1:${etcdPeer}`,
      // A throw-away data directory needs no durability; skipping fsync makes writes fast.
      '--unsafe-no-fsync',
      '--quota-backend-bytes=4294967296',
      '--log-level=warn',
    ]);

    const ca = await createCertificateAuthority('kumulus-controlplane-ca', 3650);
    const [serving, admin] = await Promise.all([
      issueCertificate(ca, {
        commonName: 'kube-apiserver',
        dnsNames: ['localhost', 'kubernetes', 'kubernetes.default', 'kubernetes.default.svc', 'kubernetes.default.svc.cluster.local'],
        ipAddresses: ['127.0.0.1', '10.96.0.1'],
        usage: 'server',
        validDays: 3650,
      }),
      issueCertificate(ca, { commonName: 'kumulus-admin', organizations: ['system:masters'], usage: 'client', validDays: 3650 }),
    ]);
    const serviceAccount = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const file = async (name: string, content: string) => {
      const path = join(pki, name);
      await writeFile(path, content, { mode: 0o600 });
      return path;
    };
    const paths = {
      ca: await file('ca.crt', ca.certPem),
      servingCert: await file('apiserver.crt', serving.certPem),
      servingKey: await file('apiserver.key', serving.keyPem),
      saKey: await file('sa.key', serviceAccount.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString()),
      saPub: await file('sa.pub', serviceAccount.publicKey.export({ type: 'spki', format: 'pem' }).toString()),
    };
    const server = `https://127.0.0.1:${apiPort}`;
    const kubeconfig = renderKubeconfig({ server, caPem: ca.certPem, clientCertPem: admin.certPem, clientKeyPem: admin.keyPem });
    const kubeconfigPath = join(dir, 'kubeconfig');
    await writeFile(kubeconfigPath, kubeconfig, { mode: 0o600 });

    await waitHealthy(etcd, () => httpStatus(`${etcdUrl}/health`), deadline);

    const apiserver = supervisor.start('kube-apiserver', binaries.kubeApiserver, [
      `--etcd-servers=${etcdUrl}`,
      '--bind-address=127.0.0.1',
      '--advertise-address=127.0.0.1',
      `--secure-port=${apiPort}`,
      `--cert-dir=${join(dir, 'apiserver')}`,
      `--tls-cert-file=${paths.servingCert}`,
      `--tls-private-key-file=${paths.servingKey}`,
      `--client-ca-file=${paths.ca}`,
      '--service-account-issuer=https://kubernetes.default.svc.cluster.local',
      `--service-account-key-file=${paths.saPub}`,
      `--service-account-signing-key-file=${paths.saKey}`,
      '--service-cluster-ip-range=10.96.0.0/16',
      '--authorization-mode=RBAC',
      '--enable-admission-plugins=NamespaceLifecycle,MutatingAdmissionWebhook,ValidatingAdmissionWebhook',
      '--allow-privileged=true',
      '--profiling=false',
      '--v=0',
    ]);
    const clientProbe = { ca: ca.certPem, cert: admin.certPem, key: admin.keyPem };
    await waitHealthy(apiserver, () => httpsStatus({ url: `${server}/readyz`, ...clientProbe }), deadline);

    const controllerManager = supervisor.start('kube-controller-manager', binaries.kubeControllerManager, [
      `--kubeconfig=${kubeconfigPath}`,
      `--authentication-kubeconfig=${kubeconfigPath}`,
      `--authorization-kubeconfig=${kubeconfigPath}`,
      '--controllers=garbage-collector-controller,namespace-controller,serviceaccount-controller,serviceaccount-token-controller',
      '--leader-elect=false',
      '--bind-address=127.0.0.1',
      `--secure-port=${kcmPort}`,
      `--cert-dir=${join(dir, 'controller-manager')}`,
      `--service-account-private-key-file=${paths.saKey}`,
      `--root-ca-file=${paths.ca}`,
      '--v=0',
    ]);
    await waitHealthy(controllerManager, () => httpsStatus({ url: `https://127.0.0.1:${kcmPort}/healthz` }), deadline);
    logger.info('control plane ready', { server, kubeconfig: kubeconfigPath, seconds: (Date.now() - started) / 1000 });

    return {
      server,
      kubeconfigPath,
      kubeconfig,
      caPem: ca.certPem,
      dir,
      binaries,
      stop: async () => {
        await supervisor.stopAll();
        logger.info('control plane stopped');
      },
    };
  } catch (err) {
    await supervisor.stopAll();
    throw err;
  }
}
