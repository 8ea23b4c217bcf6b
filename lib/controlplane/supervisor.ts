import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

export interface ManagedProcess {
  name: string;
  pid: number;
  logPath: string;
  /** Resolves with the exit code (or signal name) when the process ends, for whatever reason. */
  exited: Promise<number | string>;
  /** The last lines it logged, for error messages. */
  logTail(lines?: number): Promise<string>;
}

export interface Supervisor {
  start(name: string, command: string, args: string[]): ManagedProcess;
  /** Stops one process and its group (SIGTERM, then SIGKILL after the grace period). */
  stop(process: ManagedProcess, graceMs?: number): Promise<void>;
  /** Stops every process, newest first (SIGTERM, then SIGKILL after the grace period). */
  stopAll(graceMs?: number): Promise<void>;
  /** Removes `dir` once everything is stopped, even if this process dies first. */
  removeOnExit(dir: string): void;
}

const reaperPath = join(import.meta.dirname, 'reaper.ts');

/**
 * Runs long-lived child processes, each in a process group of its own, so that one signal
 * reaches everything a child forks. A detached reaper holds the other end of a pipe and kills
 * the groups if this process goes away without stopping them.
 */
export function startSupervisor(logDir: string): Supervisor {
  const reaper = spawn(process.execPath, [reaperPath], { detached: true, stdio: ['pipe', 'ignore', 'inherit'] });
  reaper.unref();
  const reaperInput = reaper.stdin;
  if (!reaperInput) throw new Error('reaper has no stdin pipe');
  (reaperInput as unknown as { unref(): void }).unref();
  const tell = (line: string) => reaperInput.write(`${line}\n`);
  const children: { managed: ManagedProcess; child: ChildProcess }[] = [];

  const start = (name: string, command: string, args: string[]): ManagedProcess => {
    const logPath = join(logDir, `${name}.log`);
    const log = createWriteStream(logPath, { flags: 'a' });
    const child = spawn(command, args, { detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    if (child.pid === undefined) throw new Error(`could not start ${name} (${command})`);
    child.stdout?.pipe(log, { end: false });
    child.stderr?.pipe(log, { end: false });
    const pid = child.pid;
    tell(`group ${pid}`);
    const exited = new Promise<number | string>((resolve) => {
      child.once('exit', (code, signal) => {
        tell(`forget ${pid}`);
        resolve(code ?? signal ?? 'unknown');
      });
    });
    const managed: ManagedProcess = {
      name,
      pid,
      logPath,
      exited,
      logTail: async (lines = 30) => (await readFile(logPath, 'utf8').catch(() => '')).split('\n').slice(-lines).join('\n'),
    };
    children.push({ managed, child });
    return managed;
  };

  /** Signals the whole group and waits until no member is left, escalating to SIGKILL. */
  const stopOne = async ({ managed }: (typeof children)[number], graceMs: number) => {
    const signal = (s: NodeJS.Signals | 0): boolean => {
      try {
        process.kill(-managed.pid, s);
        return true;
      } catch {
        return false;
      }
    };
    const goneWithin = async (ms: number) => {
      const deadline = Date.now() + ms;
      while (signal(0)) {
        if (Date.now() > deadline) return false;
        await sleep(20);
      }
      return true;
    };
    if (!signal('SIGTERM')) return;
    if (await goneWithin(graceMs)) return;
    signal('SIGKILL');
    await goneWithin(graceMs);
  };

  return {
    start,
    removeOnExit: (dir) => tell(`dir ${dir}`),
    stop: async (managed, graceMs = 5000) => {
      const index = children.findIndex((c) => c.managed === managed);
      if (index < 0) return;
      const [entry] = children.splice(index, 1);
      if (entry) await stopOne(entry, graceMs);
    },
    stopAll: async (graceMs = 5000) => {
      for (const entry of children.reverse()) await stopOne(entry, graceMs);
      children.length = 0;
      await new Promise<void>((resolve) => reaperInput.end(resolve));
    },
  };
}
