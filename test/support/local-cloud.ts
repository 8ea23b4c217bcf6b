import * as k8s from '@kubernetes/client-node';
import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { createKubeClient, type KubeClient } from '../../lib/kube-client.ts';
import { until } from './until.ts';

/**
 * `kumulus local` (what `npm start` runs) as a process of its own, for the tests that use the
 * local cloud as its README user does: the files it writes, kubectl with its kubeconfig, the
 * libvirtd its agent uses and the guests' serial logs.
 */

const repoRoot = resolve(import.meta.dirname, '..', '..');
const run = promisify(execFile);

/** Whether `command args...` runs here (for a skip that names what is missing). */
export function installed(command: string, ...args: string[]): boolean {
  try {
    execFileSync(command, args, { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

export interface LocalCloud {
  stateDir: string;
  kubeconfig: string;
  /** A client of the cloud's apiserver, for what the README user would not type. */
  client: KubeClient;
  /** The libvirt URI the local agent uses: its private libvirtd, or the host's qemu:///system. */
  libvirtUri: string;
  /** kubectl with the cloud's kubeconfig, run in the repository (examples/ resolves); its stdout. */
  kubectl: (...args: string[]) => Promise<string>;
  virsh: (...args: string[]) => Promise<string>;
  /** A guest's serial console as the agent logs it; empty until the domain has written to it. */
  serialLog: (vmUid: string) => Promise<string>;
  /** The last lines kumulus local wrote, for a failed test. */
  output: (lines?: number) => string;
  /** SIGINT, as Ctrl-C; SIGKILL to its process group if it has not exited within a minute. Removes the state dir. */
  stop: () => Promise<void>;
}

export async function startLocalCloud(prefix: string, readyTimeoutMs = 540_000): Promise<LocalCloud> {
  const stateDir = await mkdtemp(join(tmpdir(), `kumulus-${prefix}-`));
  let output = '';
  const child: ChildProcess = spawn(process.execPath, [join(repoRoot, 'bin', 'kumulus.ts'), 'local', `--state-dir=${stateDir}`, '--log-level=warn'], {
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<void>((done) => child.once('exit', () => done()));

  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGINT');
      const timer = setTimeout(() => {
        try {
          process.kill(-(child.pid ?? 0), 'SIGKILL');
        } catch {
          // the group is gone already
        }
      }, 60_000);
      await exited;
      clearTimeout(timer);
    }
    await rm(stateDir, { recursive: true, force: true });
  };

  try {
    await until('kumulus local to print "Press Ctrl-C"', readyTimeoutMs, () =>
      output.includes('Press Ctrl-C') ? Promise.resolve(true) : child.exitCode !== null ? Promise.reject(new Error(`kumulus local exited with ${child.exitCode}:\n${output}`)) : Promise.resolve(undefined),
    500);
  } catch (err) {
    await stop();
    throw err;
  }
  const kubeconfig = join(stateDir, 'kubeconfig');
  const kc = new k8s.KubeConfig();
  kc.loadFromFile(kubeconfig);
  // node-daemon/local.ts starts a private libvirtd only where the host's does not answer.
  const privateSocket = join(stateDir, 'agent', 'libvirtd', 'sock', 'libvirt-sock');
  const libvirtUri = existsSync(privateSocket) ? `qemu:///system?socket=${privateSocket}` : 'qemu:///system';
  return {
    stateDir,
    kubeconfig,
    client: createKubeClient(kc),
    libvirtUri,
    kubectl: async (...args) => (await run('kubectl', ['--kubeconfig', kubeconfig, ...args], { cwd: repoRoot, maxBuffer: 32 * 2 ** 20 })).stdout,
    virsh: async (...args) => (await run('virsh', ['-c', libvirtUri, ...args])).stdout.trim(),
    // The local agent's state dir is <stateDir>/agent/agent (node-daemon/local.ts), its consoles under it.
    serialLog: (vmUid) => readFile(join(stateDir, 'agent', 'agent', 'consoles', `${vmUid}.log`), 'utf8').catch(() => ''),
    output: (lines = 40) => output.split('\n').slice(-lines).join('\n'),
    stop,
  };
}
