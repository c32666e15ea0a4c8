// One root logger. Redaction is belt and braces: serializers never log headers, and any field that could carry a
// token is censored if someone logs it anyway.
import { pino, type DestinationStream, type Logger } from 'pino';
import type { Config } from './config.js';

export type { Logger };

export const redactPaths = [
  'token', '*.token', 'authorization', '*.authorization', 'headers', '*.headers', 'req.headers', 'jwtSecret', '*.jwtSecret',
  'config.jwtSecret', 'query', '*.query',
];

/** `destination` (optional) receives the JSON lines instead of stdout: tests pass one to read what was logged. */
export function createLogger(config: Pick<Config, 'logLevel' | 'logPretty'>, name: string, destination?: DestinationStream): Logger {
  const options = {
    name,
    level: config.logLevel,
    redact: { paths: redactPaths, censor: '[redacted]' },
    ...(config.logPretty && !destination ? { transport: { target: 'pino-pretty', options: { colorize: true } } } : {}),
  };
  return destination ? pino(options, destination) : pino(options);
}
