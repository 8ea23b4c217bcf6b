/**
 * The local cloud's template: a bootable disk image built from Debian packages, so that a
 * Kumulus cloud on a machine without internet (only a Debian mirror) still has something to
 * boot. The disk has an MBR partition table with syslinux's boot code, one FAT partition
 * holding syslinux, the Debian kernel and an initramfs of busybox and a few modules, whose
 * init (guest-init.ts) reads the config drive and takes DHCP leases. It boots in seconds even
 * under QEMU's emulation (TCG).
 *
 * The image is cached by content under ~/.cache/kumulus/guest-template/<key>/, the key
 * being a digest of the exact package files (their SHA256 from the apt index, so a cached
 * image is found without the network) and of this folder's source. Tools needed on the host:
 * apt-get and dpkg-deb, depmod, cpio and gzip, mtools and qemu-img. The syslinux installer
 * runs from its downloaded package, so it always matches the boot code it installs.
 */
import { createHash } from 'node:crypto';
import { execFile } from 'node:child_process';
import { createReadStream } from 'node:fs';
import { chmod, copyFile, mkdir, mkdtemp, readdir, readFile, rename, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { basename, join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { promisify } from 'node:util';
import { withFileLock } from '../../lib/file-lock.ts';
import type { Logger } from '../../lib/log.ts';
import { GUEST_INIT, GUEST_MODULES, SYSLINUX_CFG, UDHCPC_SCRIPT } from './guest-init.ts';
import { SECTOR, masterBootRecord } from './mbr.ts';

const exec = promisify(execFile);

/** The kernel is whatever this metapackage points at in the apt index. */
const KERNEL_METAPACKAGE = 'linux-image-amd64';
const APT_LISTS = '/var/lib/apt/lists';
const PACKAGES = ['busybox-static', 'syslinux', 'syslinux-common'] as const;
/** The partition starts at 1 MiB, as partitioning tools align it; the disk is 64 MiB. */
const PARTITION_START_LBA = 2048;
const DISK_BYTES = 64 * 1024 * 1024;

export interface GuestTemplate {
  /** The qcow2 disk image. */
  path: string;
  format: 'qcow2';
  /** Hex SHA-256 of the file: a Template's checksum is `{SHA-256}<this>`. */
  sha256: string;
  sizeBytes: number;
  virtualSizeBytes: number;
  /** package=version of everything it was built from. */
  packages: string[];
}

export interface GuestTemplateOptions {
  /** Default ~/.cache/kumulus. */
  cacheRoot?: string;
  logger: Logger;
}

interface DebianPackage {
  name: string;
  version: string;
  sha256: string;
}

async function run(argv: readonly string[], cwd?: string): Promise<string> {
  const [file, ...args] = argv;
  try {
    const { stdout } = await exec(file ?? '', args, { cwd, maxBuffer: 64 * 1024 * 1024, timeout: 600_000, encoding: 'utf8' });
    return stdout;
  } catch (err) {
    const stderr = (err as { stderr?: string }).stderr?.trim();
    throw new Error(`guest template: ${argv.join(' ')} failed: ${stderr || (err as Error).message}`, { cause: err });
  }
}

/** The candidate versions of packages in the apt index, with their .debs' SHA256. */
async function candidates(names: readonly string[]): Promise<DebianPackage[]> {
  let text: string;
  try {
    text = await run(['apt-cache', 'show', '--no-all-versions', ...names]);
  } catch (err) {
    throw new Error(`guest template: Debian packages ${names.join(', ')} are not all in the apt index; run apt-get update (the image is built from Debian packages)`, { cause: err });
  }
  return names.map((name) => {
    const stanza = text.split(/\n\n+/).find((s) => s.startsWith(`Package: ${name}\n`)) ?? '';
    const field = (key: string) => new RegExp(`^${key}: (.+)$`, 'm').exec(stanza)?.[1]?.trim();
    const version = field('Version');
    const sha256 = field('SHA256');
    if (!version || !sha256) throw new Error(`guest template: apt-cache show ${name} gave no Version or SHA256`);
    return { name, version, sha256 };
  });
}

async function kernelPackage(): Promise<string> {
  const text = await run(['apt-cache', 'depends', '--important', KERNEL_METAPACKAGE]);
  const name = /Depends: (linux-image-[0-9][^\s]*-amd64)\b/.exec(text)?.[1];
  if (!name) throw new Error(`guest template: ${KERNEL_METAPACKAGE} depends on no linux-image-<version>-amd64 in the apt index:\n${text}`);
  return name;
}

/**
 * The modules to insmod, dependencies first, as paths relative to /lib/modules/<version>/,
 * from depmod's modules.dep ("path: dep dep ...", each list in load-reverse order).
 */
export function moduleLoadOrder(modulesDep: string, wanted: readonly string[]): string[] {
  const deps = new Map<string, string[]>();
  for (const line of modulesDep.split('\n')) {
    const [path, rest] = line.split(':');
    if (path && rest !== undefined) deps.set(path, rest.trim().split(/\s+/).filter(Boolean));
  }
  const byName = new Map([...deps.keys()].map((p) => [basename(p).replace(/\.ko(\.[a-z]+)?$/, '').replaceAll('-', '_'), p]));
  const order: string[] = [];
  const visit = (path: string) => {
    if (order.includes(path)) return;
    for (const dep of [...(deps.get(path) ?? [])].reverse()) visit(dep);
    order.push(path);
  };
  for (const name of wanted) {
    const path = byName.get(name.replaceAll('-', '_'));
    if (!path) throw new Error(`guest template: kernel module ${name} is not in modules.dep (is it built in?)`);
    visit(path);
  }
  return order;
}

async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  await pipeline(createReadStream(path), hash);
  return hash.digest('hex');
}

/** This folder's source: any change to the recipe makes a new image. */
async function recipeDigest(): Promise<string> {
  const hash = createHash('sha256');
  for (const name of (await readdir(import.meta.dirname)).filter((n) => n.endsWith('.ts')).sort()) {
    hash.update(`${name}\n`).update(await readFile(join(import.meta.dirname, name)));
  }
  return hash.digest('hex');
}

async function buildInitramfs(root: string, work: string, out: string): Promise<void> {
  const versions = await readdir(join(root, 'lib/modules'));
  const version = versions[0];
  if (versions.length !== 1 || version === undefined) throw new Error(`guest template: expected one kernel in the package, found ${versions.join(', ')}`);
  await run(['depmod', '-b', root, version]);
  const order = moduleLoadOrder(await readFile(join(root, 'lib/modules', version, 'modules.dep'), 'utf8'), GUEST_MODULES);

  const initramfs = join(work, 'initramfs');
  for (const dir of ['bin', 'etc', 'proc', 'sys', 'dev', 'lib/modules', 'mnt', 'root', 'tmp']) await mkdir(join(initramfs, dir), { recursive: true });
  await copyFile(join(root, 'bin/busybox'), join(initramfs, 'bin/busybox'));
  await chmod(join(initramfs, 'bin/busybox'), 0o755);
  const applets = (await run([join(initramfs, 'bin/busybox'), '--list'])).split('\n').filter((a) => a && a !== 'busybox');
  for (const applet of applets) await symlink('busybox', join(initramfs, 'bin', applet));
  for (const module of order) await copyFile(join(root, 'lib/modules', version, module), join(initramfs, 'lib/modules', basename(module)));
  await writeFile(join(initramfs, 'lib/modules/load-order'), order.map((m) => `${basename(m)}\n`).join(''));
  await writeFile(join(initramfs, 'init'), GUEST_INIT, { mode: 0o755 });
  await writeFile(join(initramfs, 'etc/udhcpc.script'), UDHCPC_SCRIPT, { mode: 0o755 });
  await run(['sh', '-c', `find . | LC_ALL=C sort | cpio -o -H newc --quiet | gzip -9 > '${out}'`], initramfs);
}

async function build(dir: string, packages: DebianPackage[], logger: Logger): Promise<void> {
  const work = await mkdtemp(join(dir, 'work-'));
  try {
    const debs = join(work, 'debs');
    await mkdir(debs);
    logger.info('guest template: downloading Debian packages', { packages: packages.map((p) => `${p.name}=${p.version}`) });
    // As root, apt drops to _apt for downloads, which cannot write this directory.
    await run(['apt-get', 'download', '-q', '-o', 'APT::Sandbox::User=root', ...packages.map((p) => `${p.name}=${p.version}`)], debs);
    const root = join(work, 'root');
    for (const pkg of packages) {
      const file = (await readdir(debs)).find((f) => f.startsWith(`${pkg.name}_`));
      if (!file) throw new Error(`guest template: apt-get download left no .deb for ${pkg.name}`);
      const digest = await sha256File(join(debs, file));
      if (digest !== pkg.sha256) throw new Error(`guest template: ${file} has SHA256 ${digest}, the apt index says ${pkg.sha256}`);
      await run(['dpkg-deb', '-x', join(debs, file), root]);
    }

    const initrd = join(work, 'initrd.img');
    await buildInitramfs(root, work, initrd);
    const kernel = (await readdir(join(root, 'boot'))).find((f) => f.startsWith('vmlinuz-'));
    if (!kernel) throw new Error('guest template: the kernel package has no /boot/vmlinuz-*');

    // The FAT partition, made and filled through mtools: no loop device, no mount.
    const partition = join(work, 'partition.img');
    const sectors = DISK_BYTES / SECTOR - PARTITION_START_LBA;
    await run(['mformat', '-i', partition, '-C', '-T', String(sectors), '-h', '64', '-s', '32', '-H', String(PARTITION_START_LBA), '-v', 'KUMULUS', '::']);
    await run([join(root, 'usr/bin/syslinux'), '--install', partition]);
    await writeFile(join(work, 'syslinux.cfg'), SYSLINUX_CFG);
    await run(['mcopy', '-i', partition, join(root, 'boot', kernel), '::/vmlinuz']);
    await run(['mcopy', '-i', partition, initrd, '::/initrd.img']);
    await run(['mcopy', '-i', partition, join(work, 'syslinux.cfg'), '::/syslinux.cfg']);

    const raw = join(work, 'disk.raw');
    const bootCode = (await readFile(join(root, 'usr/lib/syslinux/mbr/mbr.bin'))).subarray(0, 440);
    await writeFile(raw, masterBootRecord(bootCode, PARTITION_START_LBA, sectors));
    await run(['truncate', '-s', String(PARTITION_START_LBA * SECTOR), raw]);
    await run(['sh', '-c', `cat '${partition}' >> '${raw}'`]);
    await run(['qemu-img', 'convert', '-q', '-c', '-f', 'raw', '-O', 'qcow2', raw, join(dir, 'disk.qcow2')]);
    await writeFile(join(dir, 'manifest.json'), `${JSON.stringify({ packages: packages.map((p) => `${p.name}=${p.version}`), builtAt: new Date().toISOString() }, null, 2)}\n`);
    await writeFile(join(dir, 'sha256'), await sha256File(join(dir, 'disk.qcow2')));
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

async function describe(dir: string): Promise<GuestTemplate> {
  const path = join(dir, 'disk.qcow2');
  const manifest = JSON.parse(await readFile(join(dir, 'manifest.json'), 'utf8')) as { packages: string[] };
  const info = JSON.parse(await run(['qemu-img', 'info', '-U', '--output=json', path])) as { 'virtual-size': number };
  return {
    path,
    format: 'qcow2',
    sha256: (await readFile(join(dir, 'sha256'), 'utf8')).trim(),
    sizeBytes: (await stat(path)).size,
    virtualSizeBytes: info['virtual-size'],
    packages: manifest.packages,
  };
}

/**
 * The guest template, built on first use and then taken from the cache. Concurrent callers
 * (a test run and `kumulus local`) build it once: a lock file serialises them, and the
 * image appears under its final name only when complete.
 */
export async function ensureGuestTemplate(options: GuestTemplateOptions): Promise<GuestTemplate> {
  const cacheRoot = join(options.cacheRoot ?? join(homedir(), '.cache', 'kumulus'), 'guest-template');
  const recipe = await recipeDigest();
  // apt-get update renames new package lists into place: while their folder is unchanged, so are the
  // candidate packages, and the last key stands without asking apt-cache (seconds under load).
  const aptStamp = (await stat(APT_LISTS).catch(() => undefined))?.mtimeMs;
  const memoPath = join(cacheRoot, 'last-key.json');
  const memo = JSON.parse(await readFile(memoPath, 'utf8').catch(() => '{}')) as { recipe?: string; aptStamp?: number; key?: string };
  const complete = (dir: string) => stat(join(dir, 'sha256')).then(() => true, () => false);
  if (aptStamp !== undefined && memo.recipe === recipe && memo.aptStamp === aptStamp && memo.key && (await complete(join(cacheRoot, memo.key)))) {
    return describe(join(cacheRoot, memo.key));
  }

  const packages = await candidates([await kernelPackage(), ...PACKAGES]);
  const key = createHash('sha256')
    .update(recipe)
    .update(packages.map((p) => `${p.name}=${p.version} ${p.sha256}\n`).join(''))
    .digest('hex')
    .slice(0, 16);
  const dir = join(cacheRoot, key);
  await mkdir(cacheRoot, { recursive: true });
  if (!(await complete(dir))) {
    await withFileLock(`${dir}.lock`, async () => {
      if (await complete(dir)) return;
      const started = Date.now();
      const part = `${dir}.part`;
      await rm(part, { recursive: true, force: true });
      await mkdir(part);
      await build(part, packages, options.logger);
      await rename(part, dir);
      options.logger.info('guest template built', { path: join(dir, 'disk.qcow2'), seconds: (Date.now() - started) / 1000 });
    }, (holder) => options.logger.info('guest template: waiting for another process building it', { pid: holder }));
  }
  if (aptStamp !== undefined) {
    await writeFile(`${memoPath}.${process.pid}`, JSON.stringify({ recipe, aptStamp, key }));
    await rename(`${memoPath}.${process.pid}`, memoPath);
  }
  return describe(dir);
}
