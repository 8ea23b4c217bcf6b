import winston from 'winston';

export type Logger = winston.Logger;

const levels = ['error', 'warn', 'info', 'debug'] as const;
export type LogLevel = (typeof levels)[number];

export function isLogLevel(value: string): value is LogLevel {
  return (levels as readonly string[]).includes(value);
}

/**
 * The process-wide JSON-lines logger. Components take a child of it that carries their
 * identity (controller, kind, namespace, name), so every line can be filtered by object.
 */
export const log: Logger = winston.createLogger({
  level: process.env['KUMULUS_LOG_LEVEL'] ?? 'info',
  format: winston.format.combine(winston.format.timestamp(), winston.format.json()),
  transports: [new winston.transports.Console({ stderrLevels: [...levels] })],
});

export function setLogLevel(level: LogLevel): void {
  log.level = level;
}
