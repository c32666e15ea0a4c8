// Debian's Chromium driven by playwright-core, for the browser tests. Playwright's own browser download cannot run
// here (no network at test time), so the executable is the system one; `.ci/run` installs it when missing.
import { existsSync } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';

export const chromiumPath = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/**
 * The flags this machine needs (see the env notes): no sandbox as root, no GPU, and no background networking,
 * whose connections this closed network refuses. Media may start without a user gesture, as after a click.
 */
const flags = [
  '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
  '--disable-component-update', '--disable-sync', '--autoplay-policy=no-user-gesture-required',
];

export async function launchChromium(): Promise<Browser> {
  if (!existsSync(chromiumPath)) {
    throw new Error(`no Chromium at ${chromiumPath}: apt-get install -y chromium (.ci/run installs it), or set CHROMIUM_PATH`);
  }
  return chromium.launch({ executablePath: chromiumPath, headless: true, args: flags });
}
