// Loads every scripts/verbNoun-<keys>.lua once and registers it with ioredis defineCommand (EVALSHA with an
// automatic EVAL fallback). The key count comes from the file name, as in BullMQ: a number is the script's fixed
// count of KEYS; `n` marks a script taking a variable number of keys (a batch), which is then registered without
// numberOfKeys, so the caller passes numkeys as the first argument, as EVALSHA itself takes it.
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Redis, Cluster } from 'ioredis';

const dir = fileURLToPath(new URL('./scripts/', import.meta.url));

export interface ScriptSource {
  name: string;
  /** null: variable, the caller passes numkeys first (`-n.lua`). */
  numberOfKeys: number | null;
  lua: string;
}

export const scriptSources: readonly ScriptSource[] = readdirSync(dir)
  .filter((f) => f.endsWith('.lua'))
  .sort()
  .map((file) => {
    const m = /^([a-z][A-Za-z]+)-(\d+|n)\.lua$/.exec(file);
    if (!m) throw new Error(`Lua script name must be verbNoun-<keys>.lua, <keys> a number or n: ${file}`);
    return { name: m[1]!, numberOfKeys: m[2] === 'n' ? null : Number(m[2]), lua: readFileSync(dir + file, 'utf8') };
  });

export function defineScripts(client: Redis | Cluster): void {
  for (const s of scriptSources) {
    client.defineCommand(s.name, s.numberOfKeys === null ? { lua: s.lua } : { numberOfKeys: s.numberOfKeys, lua: s.lua });
  }
}
