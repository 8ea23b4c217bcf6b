import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { commandRunner, type Runner } from '../../node-daemon/drivers/exec.ts';

const exec = promisify(execFile);

/**
 * Network namespaces for e2e tests, each named uniquely for the run (so parallel runs and
 * leftovers of a killed run never collide) and all removed by cleanup(), which also kills
 * every process still running inside them (dnsmasq, udhcpc).
 */
export interface NetnsLab {
  /** A short id unique to this lab, for names that must fit in 15 characters. */
  id: string;
  create(role: string): Promise<string>;
  runner(ns: string): Runner;
  run(ns: string, ...argv: string[]): Promise<string>;
  cleanup(): Promise<void>;
}

export function netnsLab(): NetnsLab {
  const id = randomBytes(3).toString('hex');
  const created: string[] = [];
  return {
    id,
    create: async (role) => {
      const name = `kumulus-${id}-${role}`;
      await exec('ip', ['netns', 'add', name]);
      created.push(name);
      await exec('ip', ['-n', name, 'link', 'set', 'lo', 'up']);
      return name;
    },
    runner: (ns) => commandRunner(ns),
    run: async (ns, ...argv) => (await commandRunner(ns)(argv)).stdout,
    cleanup: async () => {
      for (const ns of created.reverse()) {
        const pids = await exec('ip', ['netns', 'pids', ns]).then((r) => r.stdout.split('\n').filter(Boolean), () => []);
        for (const pid of pids) {
          try {
            process.kill(Number(pid), 'SIGKILL');
          } catch {
            // already gone
          }
        }
        await exec('ip', ['netns', 'del', ns]).catch(() => undefined);
      }
      created.length = 0;
    },
  };
}

const UDHCPC_SCRIPT = `#!/bin/sh
case "$1" in
  bound|renew)
    ip addr flush dev "$interface"
    ip addr add "$ip/$mask" dev "$interface"
    [ -n "$mtu" ] && ip link set "$interface" mtu "$mtu"
    echo "lease ip=$ip mask=$mask mtu=$mtu router=$router dns=$dns server=$serverid hostname=$hostname"
    ;;
esac
`;

/** Writes busybox udhcpc's lease script into `dir`: it configures the lease on the interface and prints it as `lease ip=… mask=… …`. */
export async function writeUdhcpcScript(dir: string): Promise<string> {
  const script = join(dir, 'udhcpc.script');
  await writeFile(script, UDHCPC_SCRIPT, { mode: 0o755 });
  return script;
}
