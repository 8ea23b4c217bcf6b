import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import type { Logger } from '../../../lib/log.ts';
import { vmUidOfDomain } from '../identity.ts';
import type { DomainEvent, EventSubscription } from './types.ts';

const eventLine = /event '([^']+)' for domain '([^']+)'(?::\s*(.*))?$/;

/** One line of `virsh event --loop` output, or undefined for lines about other domains. */
export function parseVirshEventLine(line: string, now = new Date()): DomainEvent | undefined {
  const match = eventLine.exec(line.trim());
  if (!match?.[1] || !match[2]) return undefined;
  const uid = vmUidOfDomain(match[2]);
  if (uid === undefined) return undefined;
  const kind = match[1];
  const type = kind === 'lifecycle' || kind === 'reboot' ? kind : 'other';
  return { type, uid, detail: kind === type ? (match[3] ?? '') : `${kind}: ${match[3] ?? ''}`, at: now };
}

export interface VirshEventFollower extends EventSubscription {
  /** The pid of the current `virsh event` child, while it runs. */
  childPid(): number | undefined;
}

/**
 * Follows libvirt's domain events through a long-lived `virsh event --all --loop` child
 * instead of polling. If the child dies it is started again and a `resync` is emitted, since
 * events in the gap are lost; a `resync` is also the first thing a new subscriber sees.
 */
export function followVirshEvents(
  uri: string,
  onEvent: (event: DomainEvent) => void,
  logger: Logger,
  restartDelayMs = 1000,
): VirshEventFollower {
  let child: ChildProcess | undefined;
  let stopped = false;
  let restartTimer: NodeJS.Timeout | undefined;

  const start = (): void => {
    const proc = spawn('virsh', ['-c', uri, 'event', '--all', '--loop', '--timestamp'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child = proc;
    let stderr = '';
    proc.stderr?.on('data', (chunk: Buffer) => {
      stderr = (stderr + chunk.toString()).slice(-2000);
    });
    if (proc.stdout) {
      createInterface({ input: proc.stdout }).on('line', (line) => {
        const event = parseVirshEventLine(line);
        if (event) onEvent(event);
      });
    }
    proc.on('error', (err) => logger.error('virsh event could not start', { uri, err: err.message }));
    proc.on('exit', (code, signal) => {
      if (child === proc) child = undefined;
      if (stopped) return;
      logger.warn('virsh event follower exited; restarting', { uri, code, signal, stderr: stderr.trim() });
      restartTimer = setTimeout(start, restartDelayMs);
    });
    onEvent({ type: 'resync', at: new Date() });
  };
  start();

  return {
    childPid: () => child?.pid,
    stop: async () => {
      stopped = true;
      if (restartTimer) clearTimeout(restartTimer);
      const proc = child;
      if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
      const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
      proc.kill('SIGTERM');
      await exited;
    },
  };
}
