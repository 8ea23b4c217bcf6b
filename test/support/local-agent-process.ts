/**
 * `kumulus local`'s agent in a process of its own, for tests that kill it: it starts
 * startLocalAgent from its arguments (kubeconfig file, state dir, node, cluster), prints one
 * JSON line once it runs, and lives until it is killed.
 */
import * as k8s from '@kubernetes/client-node';
import { log } from '../../lib/log.ts';
import { startLocalAgent } from '../../node-daemon/local.ts';

const [kubeconfigPath = '', stateDir = '', nodeName = '', cluster = ''] = process.argv.slice(2);
const kubeConfig = new k8s.KubeConfig();
kubeConfig.loadFromFile(kubeconfigPath);
const local = await startLocalAgent({ kubeConfig, stateDir, logger: log, nodeName, cluster, logLevel: 'warn' });
await local.agent.joined;
process.stdout.write(`${JSON.stringify({ libvirtUri: local.libvirtUri })}\n`);
setInterval(() => undefined, 60_000);
