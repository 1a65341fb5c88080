// Structured logs (pino) to stderr, so stdout stays for command output.
import { pino } from 'pino';

export type Logger = pino.Logger;

export function createLogger(name: string, level = process.env.SWARMQ_LOG_LEVEL ?? 'info'): Logger {
  return pino({ name, level }, pino.destination(2));
}

export const silentLogger: Logger = pino({ level: 'silent' });
