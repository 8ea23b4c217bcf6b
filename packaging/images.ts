/**
 * The container images, built without a Docker engine: mmdebstrap makes a Debian root file
 * system from packages, buildah turns it plus the application into an OCI image, and the result
 * is an OCI archive (`ctr images import`, `skopeo copy oci-archive:...`, `podman load` take it).
 *
 *   kumulus        Node 24 and the application; entry point `kumulus <subcommand>`
 *   kumulus-agent  the same, plus the host tools the agent calls
 *   pause          the pod sandbox of the test harness's node (nothing can be pulled there)
 *
 * Everything is cached by content under ~/.cache/kumulus/images: a root file system by its
 * package list, production node_modules by package-lock.json, an image by the hash of all it
 * contains. An unchanged tree rebuilds nothing; a changed source file rebuilds only the
 * application layer.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { access, chmod, copyFile, cp, mkdir, mkdtemp, readdir, readFile, rename, rm, stat, symlink, utimes, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { cacheRoot } from '../lib/controlplane/index.ts';
import { withFileLock } from '../lib/file-lock.ts';
import type { Logger } from '../lib/log.ts';

const exec = promisify(execFile);
const repoRoot = join(import.meta.dirname, '..');

/** Bump when the recipe changes in a way its inputs do not show. */
const RECIPE_VERSION = 1;
const SUITE = 'bookworm';
const MIRRORS = [
  'deb http://deb.debian.org/debian bookworm main',
  'deb http://deb.debian.org/debian bookworm-updates main',
  'deb http://deb.debian.org/debian-security bookworm-security main',
];
/** What Node needs beyond Debian's essential set, and the TLS roots. */
const BASE_PACKAGES = ['ca-certificates', 'libstdc++6', 'libgcc-s1', 'tzdata'];
/**
 * The host tools the agent calls: virsh (libvirt-clients), qemu-img (qemu-utils), ip and bridge
 * (iproute2), nft (nftables), dnsmasq (dnsmasq-base), genisoimage and xorriso (config drives),
 * mount and umount (mount), mount.nfs (nfs-common), nsenter (util-linux), and the tools the
 * drivers' errors ask a person to run.
 */
export const AGENT_PACKAGES = ['libvirt-clients', 'qemu-utils', 'iproute2', 'nftables', 'dnsmasq-base', 'genisoimage', 'xorriso', 'mount', 'util-linux', 'nfs-common', 'kmod', 'procps'];
/** The application's folders; everything else in the repository stays out of the image. */
const APP_FOLDERS = ['bin', 'crds', 'lib', 'controllers', 'webhooks', 'node-daemon', 'cloudstack-api'];
const NONROOT = 65532;

export interface BuiltImage {
  /** e.g. kumulus.local/kumulus:3f2a9c1e04b7: what a pod spec names with imagePullPolicy Never. */
  ref: string;
  repository: string;
  tag: string;
  /** The OCI archive. */
  archive: string;
}

export interface BuiltImages {
  kumulus: BuiltImage;
  agent: BuiltImage;
  pause: BuiltImage;
}

export interface BuildImagesOptions {
  logger: Logger;
  /** Extra image labels: a different value makes a different image of the same content (an upgrade test's "rebuilt" image). */
  labels?: Record<string, string>;
}

async function run(command: string, args: string[], options: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): Promise<string> {
  try {
    const { stdout } = await exec(command, args, { maxBuffer: 256 * 1024 * 1024, cwd: options.cwd, env: { ...process.env, ...options.env } });
    return stdout;
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(`${command} ${args.join(' ')} failed: ${(e.stderr ?? e.message).slice(-4000)}`, { cause: err });
  }
}

async function exists(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    () => false,
  );
}

function sha256(...parts: (string | Buffer)[]): string {
  const hash = createHash('sha256');
  for (const part of parts) hash.update(part).update('\0');
  return hash.digest('hex');
}

async function fileHash(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** Produces `final` once: concurrent builders wait for each other, and a half-built file never lands. */
async function cached(final: string, logger: Logger, what: string, build: (partial: string) => Promise<void>): Promise<string> {
  if (await exists(final)) {
    // Used now: pruning goes by age since last use.
    const now = new Date();
    await utimes(final, now, now).catch(() => undefined);
    return final;
  }
  await mkdir(dirname(final), { recursive: true });
  return withFileLock(
    `${final}.lock`,
    async () => {
      if (await exists(final)) return final;
      const partial = `${final}.partial`;
      await rm(partial, { recursive: true, force: true });
      const started = Date.now();
      logger.info('building', { what });
      await build(partial);
      await rename(partial, final);
      logger.info('built', { what, seconds: Math.round((Date.now() - started) / 1000) });
      return final;
    },
    (holder) => logger.info('another process is building this; waiting', { what, holderPid: holder }),
  );
}

/** A Debian root file system as a tar archive, with the non-root user the Deployments run as. */
async function rootfs(dir: string, packages: string[], logger: Logger): Promise<string> {
  const recipe = JSON.stringify({ RECIPE_VERSION, SUITE, MIRRORS, packages: [...packages].sort(), NONROOT });
  const path = join(dir, `rootfs-${sha256(recipe).slice(0, 16)}.tar`);
  return cached(path, logger, `Debian root file system (${packages.length} packages)`, async (partial) => {
    await run('mmdebstrap', [
      '--mode=root',
      '--variant=essential',
      `--include=${packages.join(',')}`,
      '--format=tar',
      // Documentation, manuals and translations serve nobody in a container.
      '--dpkgopt=path-exclude=/usr/share/doc/*',
      '--dpkgopt=path-exclude=/usr/share/man/*',
      '--dpkgopt=path-exclude=/usr/share/locale/*',
      '--dpkgopt=path-include=/usr/share/doc/*/copyright',
      `--customize-hook=echo 'kumulus:x:${NONROOT}:${NONROOT}:kumulus:/nonexistent:/usr/sbin/nologin' >> "$1/etc/passwd"`,
      `--customize-hook=echo 'kumulus:x:${NONROOT}:' >> "$1/etc/group"`,
      '--customize-hook=rm -rf "$1"/var/cache/apt/* "$1"/var/lib/apt/lists/*',
      SUITE,
      partial,
      ...MIRRORS,
    ]);
  });
}

/** The production dependencies, installed from package-lock.json once per lock file. */
async function productionModules(dir: string, logger: Logger): Promise<string> {
  const lock = await readFile(join(repoRoot, 'package-lock.json'));
  const manifest = await readFile(join(repoRoot, 'package.json'));
  const path = join(dir, `node_modules-${sha256(lock, manifest).slice(0, 16)}`);
  return cached(path, logger, 'production node_modules', async (partial) => {
    await mkdir(partial, { recursive: true });
    await writeFile(join(partial, 'package.json'), manifest);
    await writeFile(join(partial, 'package-lock.json'), lock);
    // The `node` devDependency is left out with the rest: the image carries the binary itself.
    await run('npm', ['ci', '--omit=dev', '--ignore-scripts', '--no-audit', '--no-fund'], { cwd: partial });
  });
}

/** The files of the application, as git tracks them, read from the work tree. */
async function appFiles(): Promise<string[]> {
  const out = await run('git', ['ls-files', '-z', '--', ...APP_FOLDERS, 'package.json', 'package-lock.json'], { cwd: repoRoot });
  const files = out.split('\0').filter(Boolean);
  const present = await Promise.all(files.map((f) => exists(join(repoRoot, f))));
  return files.filter((_f, i) => present[i]).sort();
}

/** The Node 24 running this build: the one the `node` devDependency pins. */
function nodeBinary(): string {
  if (!process.version.startsWith('v24.')) throw new Error(`npm run image needs Node 24 (the devDependency); this is ${process.version}: run it through npm, not the system node`);
  return process.execPath;
}

async function buildah(storage: string, args: string[]): Promise<string> {
  return (await run('buildah', ['--root', join(storage, 'root'), '--runroot', join(storage, 'run'), '--storage-driver', 'vfs', ...args])).trim();
}

interface ImageSpec {
  repository: string;
  layers: string[];
  entrypoint: string[];
  user?: string;
  workingDir?: string;
  env?: string[];
  labels: Record<string, string>;
}

/** One image from ordered layer sources (tar archives are unpacked, folders copied), as an OCI archive. */
async function assemble(spec: ImageSpec, key: string, dir: string, logger: Logger): Promise<BuiltImage> {
  const tag = key.slice(0, 12);
  const ref = `${spec.repository}:${tag}`;
  const name = spec.repository.split('/').pop() ?? spec.repository;
  const archive = await cached(join(dir, `${name}-${tag}.oci.tar`), logger, `image ${ref}`, async (partial) => {
    const storage = await mkdtemp(join(dir, 'buildah-'));
    try {
      const container = await buildah(storage, ['from', 'scratch']);
      for (const layer of spec.layers) await buildah(storage, ['add', container, layer, '/']);
      const config = ['config', '--entrypoint', JSON.stringify(spec.entrypoint), '--cmd', '[]'];
      if (spec.user) config.push('--user', spec.user);
      if (spec.workingDir) config.push('--workingdir', spec.workingDir);
      for (const env of spec.env ?? []) config.push('--env', env);
      for (const [k, v] of Object.entries(spec.labels)) config.push('--label', `${k}=${v}`);
      await buildah(storage, [...config, container]);
      await buildah(storage, ['commit', '--format', 'oci', '--rm', container, `oci-archive:${partial}:${ref}`]);
    } finally {
      // vfs layers are plain copies: remove them whole, unmounting anything buildah left.
      await run('umount', ['-R', join(storage, 'root')]).catch(() => undefined);
      await rm(storage, { recursive: true, force: true });
    }
  });
  return { ref, repository: spec.repository, tag, archive };
}

/** The application tree: /opt/kumulus, Node at /usr/local/bin/node and the `kumulus` command. */
async function appLayer(dir: string, files: string[], modules: string, node: string, key: string, logger: Logger): Promise<string> {
  return cached(join(dir, `app-${key.slice(0, 16)}`), logger, 'application layer', async (partial) => {
    const app = join(partial, 'opt', 'kumulus');
    for (const file of files) {
      await mkdir(dirname(join(app, file)), { recursive: true });
      await copyFile(join(repoRoot, file), join(app, file));
    }
    await cp(join(modules, 'node_modules'), join(app, 'node_modules'), { recursive: true });
    const bin = join(partial, 'usr', 'local', 'bin');
    await mkdir(bin, { recursive: true });
    await copyFile(node, join(bin, 'node'));
    await chmod(join(bin, 'node'), 0o755);
    await writeFile(join(bin, 'kumulus'), '#!/bin/sh\nexec /usr/local/bin/node /opt/kumulus/bin/kumulus.ts "$@"\n', { mode: 0o755 });
    await symlink('/usr/local/bin/node', join(bin, 'nodejs'));
  });
}

/** A static program that sleeps until signalled: the pod sandbox's one process. */
const PAUSE_SOURCE = `package main

import (
	"os"
	"os/signal"
	"syscall"
)

func main() {
	signals := make(chan os.Signal, 1)
	signal.Notify(signals, syscall.SIGINT, syscall.SIGTERM)
	<-signals
}
`;

async function pauseLayer(dir: string, logger: Logger): Promise<string> {
  return cached(join(dir, `pause-${sha256(PAUSE_SOURCE).slice(0, 16)}`), logger, 'pause program', async (partial) => {
    const src = await mkdtemp(join(dir, 'pause-src-'));
    try {
      await writeFile(join(src, 'pause.go'), PAUSE_SOURCE);
      await mkdir(partial, { recursive: true });
      await run('go', ['build', '-trimpath', '-ldflags', '-s -w', '-o', join(partial, 'pause'), join(src, 'pause.go')], { cwd: src, env: { CGO_ENABLED: '0', GO111MODULE: 'off' } });
    } finally {
      await rm(src, { recursive: true, force: true });
    }
  });
}

/** Every source change makes a new application layer and images: those unused for a while go. */
const PRUNE_AFTER_MS = 6 * 60 * 60 * 1000;

async function pruneApplicationBuilds(dir: string, keep: Set<string>, logger: Logger): Promise<void> {
  for (const entry of await readdir(dir)) {
    const path = join(dir, entry);
    if (keep.has(path) || !(/^app-[0-9a-f]+$/.test(entry) || /\.oci\.tar$/.test(entry))) continue;
    const { mtimeMs } = await stat(path);
    if (Date.now() - mtimeMs < PRUNE_AFTER_MS) continue;
    await rm(path, { recursive: true, force: true });
    logger.info('pruned an unused image build', { path });
  }
}

/** Builds (or finds in the cache) the three images. */
export async function buildImages(options: BuildImagesOptions): Promise<BuiltImages> {
  const logger = options.logger.child({ component: 'images' });
  const dir = join(cacheRoot(), 'images');
  await mkdir(dir, { recursive: true });
  const node = nodeBinary();
  const files = await appFiles();
  const [baseRootfs, agentRootfs, modules, pause] = [
    await rootfs(dir, BASE_PACKAGES, logger),
    await rootfs(dir, [...BASE_PACKAGES, ...AGENT_PACKAGES], logger),
    await productionModules(dir, logger),
    await pauseLayer(dir, logger),
  ];
  const contentHashes = await Promise.all(files.map(async (f) => `${f} ${await fileHash(join(repoRoot, f))}`));
  const appKey = sha256(String(RECIPE_VERSION), process.version, await fileHash(node), modules, ...contentHashes);
  const app = await appLayer(dir, files, modules, node, appKey, logger);
  const labels = { 'org.opencontainers.image.title': 'Kumulus', 'org.opencontainers.image.version': (JSON.parse(await readFile(join(repoRoot, 'package.json'), 'utf8')) as { version: string }).version, ...options.labels };
  const common = { entrypoint: ['/usr/local/bin/kumulus'], workingDir: '/opt/kumulus', env: ['NODE_ENV=production'] };
  const labelKey = JSON.stringify(labels);
  const kumulus = await assemble({ repository: 'kumulus.local/kumulus', layers: [baseRootfs, app], user: `${NONROOT}:${NONROOT}`, labels, ...common }, sha256(baseRootfs, app, labelKey, 'user'), dir, logger);
  // The agent runs as root: it drives libvirt, mounts and links on the host.
  const agent = await assemble({ repository: 'kumulus.local/kumulus-agent', layers: [agentRootfs, app], labels, ...common }, sha256(agentRootfs, app, labelKey), dir, logger);
  const pauseImage = await assemble({ repository: 'kumulus.local/pause', layers: [pause], entrypoint: ['/pause'], user: `${NONROOT}:${NONROOT}`, labels: {} }, sha256(pause), dir, logger);
  await pruneApplicationBuilds(dir, new Set([app, kumulus.archive, agent.archive, pauseImage.archive]), logger);
  return { kumulus, agent, pause: pauseImage };
}
