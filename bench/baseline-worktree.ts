// Two builds side by side in one bench run: this checkout ("current", with any uncommitted changes) and a commit to
// compare it with ("baseline"), checked out with `git worktree add --detach` in a temporary directory that shares this
// checkout's node_modules. Each is built with its own scripts/build-dist.ts (what `npm run build` makes of that
// commit); the worktree is removed afterwards, whatever happened.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, realpathSync, rmSync, symlinkSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildDist } from '../scripts/build-dist.js';

const root = fileURLToPath(new URL('..', import.meta.url));

export interface Build { name: 'baseline' | 'current'; rev: string; dir: string }

export interface BuildPair {
  baseline: Build;
  current: Build;
  /** The current checkout has changes not committed. */
  uncommitted: boolean;
}

const git = (args: string[], cwd = root) => execFileSync('git', args, { cwd }).toString().trim();

/** Runs `use` with both builds made; `baselineRev` is anything `git rev-parse` takes. */
export async function withBaselineBuild<T>(baselineRev: string, log: (line: string) => void, use: (pair: BuildPair) => Promise<T>): Promise<T> {
  const current: Build = { name: 'current', rev: git(['rev-parse', 'HEAD']), dir: root };
  const uncommitted = git(['status', '--porcelain', '--untracked-files=no']) !== '';
  const rev = git(['rev-parse', `${baselineRev}^{commit}`]);
  const worktree = mkdtempSync(join(os.tmpdir(), 'bench-baseline-'));
  const baseline: Build = { name: 'baseline', rev, dir: worktree };
  try {
    log(`baseline ${rev.slice(0, 12)} in ${worktree}, current ${current.rev.slice(0, 12)}${uncommitted ? ' + uncommitted changes' : ''}`);
    git(['worktree', 'add', '--detach', worktree, rev]);
    symlinkSync(realpathSync(join(root, 'node_modules')), join(worktree, 'node_modules'));
    for (const b of [baseline, current]) {
      execFileSync(process.execPath, ['--import', 'tsx', 'scripts/build-dist.ts'], { cwd: b.dir, stdio: ['ignore', 'ignore', 'inherit'] });
    }
    return await use({ baseline, current, uncommitted });
  } finally {
    try { git(['worktree', 'remove', '--force', worktree]); } catch { rmSync(worktree, { recursive: true, force: true }); git(['worktree', 'prune']); }
  }
}

/** What a step's results name: the baseline's commit (none when this checkout ran alone) and this checkout's. */
export interface BuildRevs { baseline: { rev: string } | null; current: { rev: string; uncommitted: boolean } }

/**
 * Runs `use` with the builds to measure, in the order to take them: this checkout alone when `baselineRev` is null,
 * else the baseline then this checkout (withBaselineBuild).
 */
export async function withBuilds<T>(baselineRev: string | null, log: (line: string) => void, use: (builds: Build[], revs: BuildRevs) => Promise<T>): Promise<T> {
  if (baselineRev === null) {
    await buildDist();
    const rev = git(['rev-parse', 'HEAD']);
    const uncommitted = git(['status', '--porcelain', '--untracked-files=no']) !== '';
    return use([{ name: 'current', rev, dir: root }], { baseline: null, current: { rev, uncommitted } });
  }
  return withBaselineBuild(baselineRev, log, ({ baseline, current, uncommitted }) =>
    use([baseline, current], { baseline: { rev: baseline.rev }, current: { rev: current.rev, uncommitted } }));
}
