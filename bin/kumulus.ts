#!/usr/bin/env node
/**
 * The single entry point. Each subcommand lives in the folder that owns it; this file only
 * dispatches, so that `kumulus agent` never loads the API server's code and vice versa.
 */
import { log } from '../lib/log.ts';
import { errorMessage } from '../lib/error-message.ts';

type Command = (args: string[]) => Promise<void>;

const commands: Record<string, { summary: string; run: Command }> = {
  local: {
    summary: 'run a whole local cloud: control plane, CRDs and operator (Ctrl-C stops everything)',
    run: async (args) => (await import('./local.ts')).runLocal(args),
  },
  operator: {
    summary: 'run the controllers (in-cluster or against KUBECONFIG)',
    run: async (args) => {
      const { runOperator } = await import('../controllers/operator.ts');
      const operator = await runOperator({ args });
      // Like controller-runtime: losing leadership ends the process, so a fresh replica can campaign.
      if ((await operator.done) === 'leadership-lost') process.exitCode = 1;
    },
  },
  webhooks: {
    summary: 'run the admission webhook server and register it with the apiserver',
    run: async (args) => {
      const { runWebhooks } = await import('../webhooks/main.ts');
      await runWebhooks({ args });
    },
  },
  api: {
    summary: 'run the CloudStack-compatible API server',
    run: async (args) => {
      const [{ runApi }, { stopOnSignals }] = await Promise.all([import('../cloudstack-api/main.ts'), import('../lib/manager.ts')]);
      const api = await runApi({ args });
      stopOnSignals(() => api.stop());
    },
  },
  agent: {
    summary: 'run the hypervisor host agent for this node',
    run: async (args) => {
      const { runAgent } = await import('../node-daemon/main.ts');
      await (await runAgent({ args })).done;
    },
  },
  'controlplane-binaries': {
    summary: 'build or locate etcd, kube-apiserver and kube-controller-manager, and print their paths',
    run: async () => {
      const { resolveBinaries } = await import('../lib/controlplane/index.ts');
      process.stdout.write(`${JSON.stringify(await resolveBinaries(log), null, 2)}\n`);
    },
  },
  'node-binaries': {
    summary: 'build or locate kubelet, kube-scheduler, kube-proxy and helm (the test harness\'s node), and print their paths',
    run: async () => {
      const { resolveNodeBinaries, resolveHelm } = await import('../lib/controlplane/index.ts');
      const node = await resolveNodeBinaries(log);
      process.stdout.write(`${JSON.stringify({ ...node, helm: await resolveHelm(log) }, null, 2)}\n`);
    },
  },
};

function usage(): string {
  const width = Math.max(...Object.keys(commands).map((c) => c.length));
  const lines = Object.entries(commands).map(([name, c]) => `  ${name.padEnd(width)}  ${c.summary}`);
  return `Usage: kumulus <command> [options]\n\nCommands:\n${lines.join('\n')}\n`;
}

const [name, ...args] = process.argv.slice(2);
const command = name ? commands[name] : undefined;
if (!command) {
  process.stderr.write(name && !['-h', '--help', 'help'].includes(name) ? `kumulus: unknown command "${name}"\n\n${usage()}` : usage());
  process.exitCode = name && !['-h', '--help', 'help'].includes(name) ? 2 : 0;
} else {
  command.run(args).catch((err: unknown) => {
    log.error(errorMessage(err), { command: name });
    process.exitCode = 1;
  });
}
