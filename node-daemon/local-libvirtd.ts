import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from '../lib/log.ts';
import { commandRunner } from './drivers/exec.ts';

export interface LocalLibvirtd {
  /** The URI clients pass to virsh -c: a private socket, so the host's own libvirt is untouched. */
  uri: string;
  pid: number;
  stop: () => Promise<void>;
}

/** True when a libvirtd already answers on the URI. */
export async function libvirtAnswers(uri: string): Promise<boolean> {
  try {
    await commandRunner()(['virsh', '-c', uri, 'version'], { timeoutMs: 10_000 });
    return true;
  } catch {
    return false;
  }
}

// The directories libvirtd's QEMU driver insists on when it runs as root; each is replaced
// by a private one inside the daemon's own mount namespace.
const privateDirs = ['/etc/libvirt', '/run/libvirt', '/var/lib/libvirt', '/var/cache/libvirt', '/var/log/libvirt'];

/**
 * Starts a libvirtd of our own for a host (a test run, `kumulus local`) that has none running.
 * It has a private socket and configuration: it runs in its own mount namespace with private
 * copies of libvirt's fixed root paths, QEMU runs as root (so images under any directory are
 * readable), and guest stdio goes to files instead of virtlogd. Domains it starts stay in the
 * host's PID namespace, so their QEMU processes are visible as usual.
 */
export async function startLocalLibvirtd(dir: string, logger: Logger, options: { enter?: (argv: string[]) => string[] } = {}): Promise<LocalLibvirtd> {
  const sockDir = join(dir, 'sock');
  await rm(sockDir, { recursive: true, force: true });
  for (const sub of ['sock', 'etc', 'run', 'lib', 'cache', 'log']) await mkdir(join(dir, sub), { recursive: true });
  await writeFile(
    join(dir, 'etc', 'libvirtd.conf'),
    [
      `unix_sock_dir = "${sockDir}"`,
      `unix_sock_rw_perms = "0700"`,
      `auth_unix_rw = "none"`,
      `auth_unix_ro = "none"`,
      `log_outputs = "3:file:${join(dir, 'libvirtd.log')}"`,
      '',
    ].join('\n'),
  );
  await writeFile(
    join(dir, 'etc', 'qemu.conf'),
    ['user = "root"', 'group = "root"', 'dynamic_ownership = 0', 'security_driver = "none"', 'stdio_handler = "file"', ''].join(
      '\n',
    ),
  );
  for (const target of privateDirs) await mkdir(target, { recursive: true });
  const binds = privateDirs
    .map((target, i) => `mount --bind '${join(dir, ['etc', 'run', 'lib', 'cache', 'log'][i] ?? '')}' '${target}'`)
    .join(' && ');
  const pidFile = join(dir, 'libvirtd.pid');
  const argv = [
    'unshare',
    '--mount',
    '--propagation',
    'private',
    'sh',
    '-c',
    `${binds} && exec libvirtd --config '${join(dir, 'etc', 'libvirtd.conf')}' --pid-file '${pidFile}'`,
  ];
  // `enter` runs it elsewhere, e.g. in the network namespace of the test harness's node.
  const [command = '', ...args] = options.enter ? options.enter(argv) : argv;
  const child = spawn(command, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-4000);
  });
  const uri = `qemu:///system?socket=${join(sockDir, 'libvirt-sock')}`;
  const deadline = Date.now() + 30_000;
  while (!(existsSync(join(sockDir, 'libvirt-sock')) && (await libvirtAnswers(uri)))) {
    if (child.exitCode !== null || Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`libvirtd did not start (exit ${child.exitCode ?? 'timeout'}): ${stderr.trim()}`);
    }
    await sleep(200);
  }
  const pid = child.pid ?? Number(await readFile(pidFile, 'utf8'));
  logger.info('started a private libvirtd', { uri, pid, dir });
  return {
    uri,
    pid,
    stop: async () => {
      if (child.exitCode !== null) return;
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    },
  };
}
