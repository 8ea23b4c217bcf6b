import { execFile } from 'node:child_process';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { Logger } from '../log.ts';
import { stagingVersion } from './versions.ts';

const run = promisify(execFile);

/**
 * Builds the control plane from the Go module proxy through throw-away builder modules.
 * `k8s.io/kubernetes` cannot be required as a plain dependency: its go.mod points every
 * `k8s.io/*` staging module at `./staging/...`, and replace directives are not inherited. The
 * builder module therefore repeats those replaces, aimed at the published `v0.x` releases.
 */

interface ModuleInfo {
  GoMod: string;
  Time?: string;
  Origin?: { Hash?: string };
}

async function go(args: string[], cwd: string, logger: Logger): Promise<string> {
  const started = Date.now();
  const heartbeat = setInterval(() => {
    logger.info('still building', { step: args.slice(0, 2).join(' '), elapsedSeconds: Math.round((Date.now() - started) / 1000) });
  }, 60_000);
  try {
    const { stdout } = await run('go', args, {
      cwd,
      env: { ...process.env, CGO_ENABLED: '0', GOFLAGS: '-mod=mod' },
      maxBuffer: 64 * 1024 * 1024,
    });
    return stdout;
  } catch (err) {
    const stderr = (err as { stderr?: string }).stderr ?? '';
    throw new Error(`go ${args.join(' ')} failed in ${cwd}:\n${stderr.slice(-4000)}`, { cause: err });
  } finally {
    clearInterval(heartbeat);
  }
}

async function downloadModule(path: string, version: string, cwd: string, logger: Logger): Promise<ModuleInfo> {
  return JSON.parse(await go(['mod', 'download', '-json', `${path}@${version}`], cwd, logger)) as ModuleInfo;
}

/** The `k8s.io/*` modules that `k8s.io/kubernetes` resolves from its own staging tree. */
export function stagingModules(kubernetesGoMod: string): string[] {
  const modules = new Set<string>();
  for (const match of kubernetesGoMod.matchAll(/^\s*(?:replace\s+)?(k8s\.io\/[\w.-]+)\s+=>\s+\.\/staging\//gm)) {
    if (match[1]) modules.add(match[1]);
  }
  return [...modules].sort();
}

export function builderGoMod(kubernetesVersion: string, staging: string[]): string {
  const lines = ['module kumulus.local/kube-builder', '', 'go 1.24', '', `require k8s.io/kubernetes ${kubernetesVersion}`, ''];
  for (const module of staging) lines.push(`replace ${module} => ${module} ${stagingVersion(kubernetesVersion)}`);
  return `${lines.join('\n')}\n`;
}

function kubernetesLdflags(version: string, info: ModuleInfo): string {
  const [major, minor] = version.replace(/^v/, '').split('.');
  const vars = {
    gitVersion: version,
    gitMajor: major ?? '',
    gitMinor: minor ?? '',
    gitCommit: info.Origin?.Hash ?? '',
    gitTreeState: 'clean',
    buildDate: info.Time ?? new Date().toISOString(),
  };
  const flags = ['-s', '-w'];
  for (const pkg of ['k8s.io/component-base/version', 'k8s.io/client-go/pkg/version']) {
    for (const [name, value] of Object.entries(vars)) flags.push(`-X ${pkg}.${name}=${value}`);
  }
  return flags.join(' ');
}

/** Builds the named commands of `k8s.io/kubernetes/cmd/` (kube-apiserver, kubelet...) into `outDir`. */
export async function buildKubernetes(version: string, names: string[], workDir: string, outDir: string, logger: Logger): Promise<void> {
  await rm(workDir, { recursive: true, force: true });
  await mkdir(workDir, { recursive: true });
  await writeFile(join(workDir, 'go.mod'), 'module kumulus.local/kube-builder\n\ngo 1.24\n');
  logger.info('resolving k8s.io/kubernetes', { version });
  const info = await downloadModule('k8s.io/kubernetes', version, workDir, logger);
  const staging = stagingModules(await readFile(info.GoMod, 'utf8'));
  if (staging.length === 0) throw new Error(`k8s.io/kubernetes ${version}: no ./staging replace lines found in ${info.GoMod}`);
  await writeFile(join(workDir, 'go.mod'), builderGoMod(version, staging));

  const commands = names.map((name) => `k8s.io/kubernetes/cmd/${name}`);
  logger.info('fetching dependencies', { stagingModules: staging.length });
  await go(['get', ...commands.map((c) => `${c}@${version}`)], workDir, logger);
  for (const command of commands) {
    const name = command.split('/').pop() ?? command;
    logger.info('compiling', { binary: name });
    await go(['build', '-trimpath', '-ldflags', kubernetesLdflags(version, info), '-o', join(outDir, name), command], workDir, logger);
  }
}

/** Builds one command of a module that needs no replaces, in a builder module of its own. */
async function buildPlainCommand(command: string, version: string, binary: string, ldflags: string, workDir: string, outDir: string, logger: Logger): Promise<void> {
  await rm(workDir, { recursive: true, force: true });
  await mkdir(workDir, { recursive: true });
  await writeFile(join(workDir, 'go.mod'), `module kumulus.local/${binary}-builder\n\ngo 1.24\n`);
  logger.info('fetching dependencies', { module: command, version });
  await go(['get', `${command}@${version}`], workDir, logger);
  logger.info('compiling', { binary });
  await go(['build', '-trimpath', '-ldflags', ldflags, '-o', join(outDir, binary), command], workDir, logger);
}

/** Builds etcd into `outDir`, from its server module. */
export async function buildEtcd(version: string, workDir: string, outDir: string, logger: Logger): Promise<void> {
  await buildPlainCommand('go.etcd.io/etcd/server/v3', version, 'etcd', '-s -w', workDir, outDir, logger);
}

/** Builds helm into `outDir`; the ldflag is what `helm version` prints, as in Helm's own Makefile. */
export async function buildHelm(version: string, workDir: string, outDir: string, logger: Logger): Promise<void> {
  const ldflags = `-s -w -X helm.sh/helm/v4/internal/version.version=${version}`;
  await buildPlainCommand('helm.sh/helm/v4/cmd/helm', version, 'helm', ldflags, workDir, outDir, logger);
}

/** Builds crictl into `outDir`: the harness's node removes its pods through the CRI with it. */
export async function buildCrictl(version: string, workDir: string, outDir: string, logger: Logger): Promise<void> {
  const ldflags = `-s -w -X sigs.k8s.io/cri-tools/pkg/version.Version=${version}`;
  await buildPlainCommand('sigs.k8s.io/cri-tools/cmd/crictl', version, 'crictl', ldflags, workDir, outDir, logger);
}
