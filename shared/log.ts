// One root logger. Redaction is belt and braces: serializers never log headers, and any field that could carry a
// token is censored if someone logs it anyway.
import { pino, type Logger } from 'pino';
import type { Config } from './config.js';

export type { Logger };

export const redactPaths = [
  'token', '*.token', 'authorization', '*.authorization', 'headers', '*.headers', 'req.headers', 'jwtSecret', '*.jwtSecret',
  'config.jwtSecret', 'query', '*.query',
];

export function createLogger(config: Pick<Config, 'logLevel' | 'logPretty'>, name: string): Logger {
  return pino({
    name,
    level: config.logLevel,
    redact: { paths: redactPaths, censor: '[redacted]' },
    ...(config.logPretty ? { transport: { target: 'pino-pretty', options: { colorize: true } } } : {}),
  });
}
