// pino, with secrets redacted at the logger so no code path can print a password or token.
import { pino, type Logger } from 'pino';
import type { LogLevel } from './config.js';

export const REDACTED_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'headers.authorization',
  'password',
  '*.password',
  'token',
  '*.token',
  'adminPassword',
  '*.adminPassword',
];

export function createLogger(level: LogLevel, destination?: pino.DestinationStream): Logger {
  return pino({ level, redact: { paths: REDACTED_PATHS, censor: '[redacted]' }, base: { pid: process.pid } }, destination);
}

export type { Logger };
