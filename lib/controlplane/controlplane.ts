import { generateKeyPairSync } from 'node:crypto';
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { request } from 'node:https';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from '../log.ts';
import { createCertificateAuthority, issueCertificate, type CertificateAuthority } from '../pki.ts';
import { resolveBinaries, resolveNodeBinaries, type ControlPlaneBinaries } from './binaries.ts';
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
  /** The cluster CA: nodes get their client certificates from it. */
  ca: CertificateAuthority;
  stop(): Promise<void>;
}

/**
 * A control plane that can host nodes: the apiserver also authorizes kubelets (Node,RBAC), has
 * a client certificate to reach them, and routes to webhook Services through their endpoints;
 * a kube-scheduler runs, and the controller manager runs all its default controllers and
 * allocates each node a pod CIDR.
 */
export interface NodeHosting {
  /** The apiserver listens on this host address instead of 127.0.0.1 (the nodes must reach it). */
  address: string;
  clusterCidr: string;
  serviceCidr: string;
}

export interface ControlPlaneOptions {
  logger: Logger;
  /** Keep the state here instead of a fresh temporary folder (which is removed on stop). */
  dir?: string;
  readyTimeoutMs?: number;
  nodes?: NodeHosting;
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
  const nodes = options.nodes;
  const nodeBinaries = nodes ? await resolveNodeBinaries(logger) : undefined;
  const address = nodes?.address ?? '127.0.0.1';
  const serviceCidr = nodes?.serviceCidr ?? '10.96.0.0/16';
  const started = Date.now();
  const deadline = started + (options.readyTimeoutMs ?? 60_000);
  const dir = options.dir ?? (await mkdtemp(join(tmpdir(), 'kumulus-controlplane-')));
  const pki = join(dir, 'pki');
  await mkdir(pki, { recursive: true });
  const supervisor = startSupervisor(dir);
  if (!options.dir) supervisor.removeOnExit(dir);

  try {
    const [etcdClient, etcdPeer, apiPort, kcmPort, schedulerPort] = [await freePort(), await freePort(), await freePort(), await freePort(), await freePort()];
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
    const kubernetesServiceIp = serviceCidr.replace(/\.0\/\d+$/, '.1');
    const [serving, admin, kubeletClient] = await Promise.all([
      issueCertificate(ca, {
        commonName: 'kube-apiserver',
        dnsNames: ['localhost', 'kubernetes', 'kubernetes.default', 'kubernetes.default.svc', 'kubernetes.default.svc.cluster.local'],
        ipAddresses: [...new Set(['127.0.0.1', address, kubernetesServiceIp])],
        usage: 'server',
        validDays: 3650,
      }),
      issueCertificate(ca, { commonName: 'kumulus-admin', organizations: ['system:masters'], usage: 'client', validDays: 3650 }),
      // What the apiserver presents to kubelets (logs, exec, port-forward); they trust the same CA.
      issueCertificate(ca, { commonName: 'kube-apiserver-kubelet-client', organizations: ['system:masters'], usage: 'client', validDays: 3650 }),
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
      caKey: await file('ca.key', ca.keyPem),
      kubeletClientCert: await file('apiserver-kubelet-client.crt', kubeletClient.certPem),
      kubeletClientKey: await file('apiserver-kubelet-client.key', kubeletClient.keyPem),
    };
    const server = `https://${address}:${apiPort}`;
    const kubeconfig = renderKubeconfig({ server, caPem: ca.certPem, clientCertPem: admin.certPem, clientKeyPem: admin.keyPem });
    const kubeconfigPath = join(dir, 'kubeconfig');
    await writeFile(kubeconfigPath, kubeconfig, { mode: 0o600 });

    await waitHealthy(etcd, () => httpStatus(`${etcdUrl}/health`), deadline);

    const apiserver = supervisor.start('kube-apiserver', binaries.kubeApiserver, [
      `--etcd-servers=${etcdUrl}`,
      `--bind-address=${address}`,
      `--advertise-address=${address}`,
      `--secure-port=${apiPort}`,
      `--cert-dir=${join(dir, 'apiserver')}`,
      `--tls-cert-file=${paths.servingCert}`,
      `--tls-private-key-file=${paths.servingKey}`,
      `--client-ca-file=${paths.ca}`,
      '--service-account-issuer=https://kubernetes.default.svc.cluster.local',
      `--service-account-key-file=${paths.saPub}`,
      `--service-account-signing-key-file=${paths.saKey}`,
      `--service-cluster-ip-range=${serviceCidr}`,
      '--authorization-mode=Node,RBAC',
      '--enable-admission-plugins=NamespaceLifecycle,NodeRestriction,MutatingAdmissionWebhook,ValidatingAdmissionWebhook',
      `--kubelet-client-certificate=${paths.kubeletClientCert}`,
      `--kubelet-client-key=${paths.kubeletClientKey}`,
      // A node's address, never its name: a name would be looked up in DNS, outside this machine.
      '--kubelet-preferred-address-types=InternalIP',
      // Webhook and aggregated-API Services are reached at their endpoints: this host has no kube-proxy.
      ...(nodes ? ['--enable-aggregator-routing=true'] : []),
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
      ...(nodes
        ? [
            '--controllers=*',
            '--allocate-node-cidrs=true',
            `--cluster-cidr=${nodes.clusterCidr}`,
            '--node-cidr-mask-size=24',
            `--service-cluster-ip-range=${serviceCidr}`,
            `--cluster-signing-cert-file=${paths.ca}`,
            `--cluster-signing-key-file=${paths.caKey}`,
          ]
        : ['--controllers=garbage-collector-controller,namespace-controller,serviceaccount-controller,serviceaccount-token-controller']),
      '--leader-elect=false',
      '--bind-address=127.0.0.1',
      `--secure-port=${kcmPort}`,
      `--cert-dir=${join(dir, 'controller-manager')}`,
      `--service-account-private-key-file=${paths.saKey}`,
      `--root-ca-file=${paths.ca}`,
      '--v=0',
    ]);
    await waitHealthy(controllerManager, () => httpsStatus({ url: `https://127.0.0.1:${kcmPort}/healthz` }), deadline);
    if (nodeBinaries) {
      const scheduler = supervisor.start('kube-scheduler', nodeBinaries.kubeScheduler, [
        `--kubeconfig=${kubeconfigPath}`,
        `--authentication-kubeconfig=${kubeconfigPath}`,
        `--authorization-kubeconfig=${kubeconfigPath}`,
        '--leader-elect=false',
        '--bind-address=127.0.0.1',
        `--secure-port=${schedulerPort}`,
        '--v=0',
      ]);
      await waitHealthy(scheduler, () => httpsStatus({ url: `https://127.0.0.1:${schedulerPort}/healthz` }), deadline);
    }
    logger.info('control plane ready', { server, kubeconfig: kubeconfigPath, seconds: (Date.now() - started) / 1000 });

    return {
      server,
      kubeconfigPath,
      kubeconfig,
      caPem: ca.certPem,
      dir,
      binaries,
      ca,
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
