// Loads every scripts/verbNoun-<keys>.lua once and registers it with ioredis defineCommand (EVALSHA with an
// automatic EVAL fallback). The key count comes from the file name, as in BullMQ.
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Redis, Cluster } from 'ioredis';

const dir = fileURLToPath(new URL('./scripts/', import.meta.url));

export interface ScriptSource {
  name: string;
  numberOfKeys: number;
  lua: string;
}

export const scriptSources: readonly ScriptSource[] = readdirSync(dir)
  .filter((f) => f.endsWith('.lua'))
  .sort()
  .map((file) => {
    const m = /^([a-z][A-Za-z]+)-(\d+)\.lua$/.exec(file);
    if (!m) throw new Error(`Lua script name must be verbNoun-<keys>.lua: ${file}`);
    return { name: m[1]!, numberOfKeys: Number(m[2]), lua: readFileSync(dir + file, 'utf8') };
  });

export function defineScripts(client: Redis | Cluster): void {
  for (const s of scriptSources) client.defineCommand(s.name, { numberOfKeys: s.numberOfKeys, lua: s.lua });
}
