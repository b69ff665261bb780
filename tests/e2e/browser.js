// The web client's tests share one way to start Debian's chromium
// (playwright-core, headless) and one place for their screenshots.

import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const HERE = path.dirname(fileURLToPath(import.meta.url));
/** Where screenshots go: SCREENSHOT_DIR (docs/screenshots when refreshed), else artifacts/. */
export const SHOTS = process.env.SCREENSHOT_DIR || path.join(HERE, 'artifacts');

/** Starts chromium (CHROMIUM overrides its path) and makes sure SHOTS exists. */
export async function launchBrowser() {
  mkdirSync(SHOTS, { recursive: true });
  return chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
  });
}
