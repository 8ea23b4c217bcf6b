import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from '../lib/log.ts';
import { commandRunner } from './drivers/exec.ts';

export interface LocalLibvirtd {
  /** The URI clients pass to virsh -c: a private socket, so the host's own libvirt is untouched. */
  uri: string;
  pid: number;
  /** It was running already, left by a run that was killed, and this run took it over. */
  adopted: boolean;
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

/** The pid's process start time (clock ticks since boot, /proc/<pid>/stat field 22): a pid with another start time is another process. */
async function processStartTime(pid: number): Promise<string | undefined> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => undefined);
  // The command name, in parentheses, may hold spaces: count the fields after it.
  return stat?.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
}

async function commandLine(pid: number): Promise<string[]> {
  return (await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '')).split('\0').filter(Boolean);
}

/** Running, not a zombie: a process that is not this one's child stays one until its new parent reaps it. */
async function running(pid: number): Promise<boolean> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '');
  return stat !== '' && !stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z');
}

/** SIGTERM, then SIGKILL after 10 s; resolves once the process is gone. */
async function terminate(pid: number): Promise<void> {
  const signal = (name: NodeJS.Signals) => {
    try {
      process.kill(pid, name);
    } catch {
      // gone already
    }
  };
  if (!(await running(pid))) return;
  signal('SIGTERM');
  const deadline = Date.now() + 10_000;
  while (await running(pid)) {
    if (Date.now() > deadline) signal('SIGKILL');
    await sleep(100);
  }
}

function uriOf(dir: string): string {
  return `qemu:///system?socket=${join(dir, 'sock', 'libvirt-sock')}`;
}

/**
 * Stops the `virsh event` followers of a private libvirtd's `uri` other than this process's:
 * when its owner is dead, they are what its agent left (reparented, they would live as long as
 * the libvirtd they follow).
 */
async function stopOrphanedFollowers(uri: string, logger: Logger): Promise<void> {
  const stopped: number[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const pid = Number(entry);
    const argv = await commandLine(pid);
    if (!(argv[0]?.endsWith('virsh') && argv.includes('event') && argv[argv.indexOf('-c') + 1] === uri)) continue;
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '');
    if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === process.pid) continue;
    await terminate(pid);
    stopped.push(pid);
  }
  if (stopped.length > 0) logger.info('stopped the virsh event followers a killed run left', { uri, pids: stopped });
}

/** Who runs the private libvirtd of a directory: `<pid> <start time>`, so a reused pid is not taken for the owner. */
async function claimOwnership(dir: string): Promise<void> {
  const path = join(dir, 'owner');
  const [pid, started] = (await readFile(path, 'utf8').catch(() => '')).trim().split(' ');
  const owner = Number(pid);
  if (Number.isInteger(owner) && owner > 0 && owner !== process.pid && started !== undefined && (await processStartTime(owner)) === started) {
    throw new Error(`the private libvirtd in ${dir} belongs to process ${owner}, which still runs: stop it first, or use another state directory`);
  }
  await writeFile(path, `${process.pid} ${(await processStartTime(process.pid)) ?? ''}\n`);
}

/**
 * The private libvirtd a previous run in `dir` left when it was killed before it could stop it
 * (its VMs still run under it, as they survive an agent restart): adopted when it answers,
 * stopped when it does not (so a new one can take its pid file), none when it is gone.
 */
async function adoptLocalLibvirtd(dir: string, logger: Logger): Promise<LocalLibvirtd | undefined> {
  const pid = Number.parseInt(await readFile(join(dir, 'libvirtd.pid'), 'utf8').catch(() => ''), 10);
  if (!Number.isInteger(pid) || pid <= 0) return undefined;
  // The pid file outlives its daemon: only a libvirtd with this configuration counts.
  if (!(await commandLine(pid)).includes(join(dir, 'etc', 'libvirtd.conf'))) return undefined;
  const uri = uriOf(dir);
  if (!(await libvirtAnswers(uri))) {
    logger.warn('the private libvirtd a previous run left does not answer; stopping it', { pid, dir });
    await terminate(pid);
    return undefined;
  }
  await stopOrphanedFollowers(uri, logger);
  logger.info('adopted the private libvirtd a previous run left, with its domains', { uri, pid, dir });
  return { uri, pid, adopted: true, stop: () => terminate(pid) };
}

/**
 * Starts a libvirtd of our own for a host (a test run, `kumulus local`) that has none running.
 * It has a private socket and configuration: it runs in its own mount namespace with private
 * copies of libvirt's fixed root paths, QEMU runs as root (so images under any directory are
 * readable), and guest stdio goes to files instead of virtlogd. Domains it starts stay in the
 * host's PID namespace, so their QEMU processes are visible as usual. One that a killed run
 * left in `dir` is adopted instead (adoptLocalLibvirtd).
 */
export async function startLocalLibvirtd(dir: string, logger: Logger, options: { enter?: (argv: string[]) => string[] } = {}): Promise<LocalLibvirtd> {
  await mkdir(dir, { recursive: true });
  await claimOwnership(dir);
  const previous = await adoptLocalLibvirtd(dir, logger);
  if (previous) return previous;
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
  const uri = uriOf(dir);
  const deadline = Date.now() + 30_000;
  while (!(existsSync(join(sockDir, 'libvirt-sock')) && (await libvirtAnswers(uri)))) {
    if (child.exitCode !== null || Date.now() > deadline) {
      child.kill('SIGKILL');
      // libvirtd logs to its file, not to stderr: the reason is there.
      const logged = (await readFile(join(dir, 'libvirtd.log'), 'utf8').catch(() => '')).trim().split('\n').slice(-5).join('\n');
      throw new Error(`libvirtd did not start (exit ${child.exitCode ?? 'timeout'}): ${[stderr.trim(), logged].filter(Boolean).join('\n') || 'it wrote no reason'} (see ${join(dir, 'libvirtd.log')})`);
    }
    await sleep(200);
  }
  const pid = child.pid ?? Number(await readFile(pidFile, 'utf8'));
  logger.info('started a private libvirtd', { uri, pid, dir });
  return {
    uri,
    pid,
    adopted: false,
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
