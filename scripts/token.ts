// `npm run -s token -- [--sub UUID] [--role student|teacher|admin|service] [--ttl 3600]`
// Prints one signed HS256 JWT (and nothing else on stdout, so `TOKEN=$(npm run -s token)` works).
import { parseArgs } from 'node:util';
import { loadConfig } from '../core/config.js';
import { mintToken, tokenTtlSecondsMax } from '../core/auth/mint-token.js';
import { roles } from '../core/protocol/common.js';

const demoStudent = '00000000-0000-0000-0000-000000000001';

const usage = `usage: npm run -s token -- [--sub UUID] [--role ${roles.options.join('|')}] [--ttl SECONDS]

Prints a JWT signed with JWT_SECRET (HS256), honouring JWT_ISSUER and JWT_AUDIENCE when they are set.
  --sub   user id (default ${demoStudent}, the demo student)
  --role  default student
  --ttl   lifetime in seconds, 1..${tokenTtlSecondsMax} (default 3600)`;

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      sub: { type: 'string', default: demoStudent },
      role: { type: 'string', default: 'student' },
      ttl: { type: 'string', default: '3600' },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
    allowPositionals: false,
  });
  if (values.help) {
    console.log(usage);
    return;
  }
  const role = roles.safeParse(values.role);
  if (!role.success) throw new Error(`--role must be one of ${roles.options.join('|')}`);
  if (!/^\d{1,9}$/.test(values.ttl)) throw new Error('--ttl must be a whole number of seconds');
  const config = loadConfig();
  if (config.jwtSecret === '') throw new Error('JWT_SECRET is not set: this command signs HS256 tokens only');
  const token = await mintToken({
    secret: config.jwtSecret,
    sub: values.sub,
    role: role.data,
    ttlSeconds: Number(values.ttl),
    issuer: config.jwtIssuer || undefined,
    audience: config.jwtAudience || undefined,
  });
  process.stdout.write(`${token}\n`);
}

main().catch((err: unknown) => {
  console.error(`token: ${(err as Error).message}`);
  console.error(usage);
  process.exit(1);
});
