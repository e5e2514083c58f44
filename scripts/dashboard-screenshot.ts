/**
 * Writes docs/dashboard.png for the README: a short run of `serve`'s loop on the MuJoCo simulator
 * (SAC policy, GRM-tiny progress, learner), viewed in headless Chromium.
 * Run: npx tsx scripts/dashboard-screenshot.ts [out.png] [episodes before the shot]
 */
import { launchChromium } from '../dashboard/browser.js';
import { startSimServing } from '../dashboard/testing.js';

const out = process.argv[2] ?? 'docs/dashboard.png';
const episodes = Number(process.argv[3] ?? 4);

const serving = await startSimServing(
  { robot: { controlHz: 10, episodeSeconds: 6 }, dashboard: { cameraFps: 5 } },
  { autoStart: true },
);
const browser = await launchChromium();
try {
  const page = await browser.context.newPage();
  await page.goto(serving.dashboard.urlWithToken);
  // Late in an episode, after a few rollouts: the charts and the table have something to show.
  for (;;) {
    const snapshot = serving.loop.snapshot();
    if (snapshot.episodes.length >= episodes && (snapshot.episode?.points.length ?? 0) >= 40) break;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  await new Promise((resolve) => setTimeout(resolve, 600)); // one more status message
  await page.screenshot({ path: out, fullPage: true });
  console.log(`wrote ${out}`);
} finally {
  await browser.close();
  await serving.shutdown('screenshot taken');
}
