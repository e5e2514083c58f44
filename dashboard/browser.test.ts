/// <reference lib="dom" />
// Page functions run in the browser, hence the DOM types in this file.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../common/log.js';
import { writeEpisodeMcap } from '../reward/mcap-export.js';
import { paletteColour, solidFrame } from '../reward/testing.js';
import type { SimRobot } from '../robot/sim/robot.js';
import { hasChromium, launchChromium, type Browser } from './browser.js';
import { recordingPath } from '../launch/episode-recorder.js';
import { RecordedFrames } from './recorded-frames.js';
import { startDashboard, type Dashboard } from './server.js';
import { startSimServing, startTestServing, waitFor, type SimServing, type TestServing } from './testing.js';

if (!hasChromium) console.warn('SKIPPED dashboard browser tests: /usr/bin/chromium is missing (.ci/run installs it with apt-get)');

describe.skipIf(!hasChromium)('dashboard in headless Chromium', () => {
  let browser: Browser;
  let serving: SimServing;
  let page: Page;
  /** Uncaught errors of the page's script: any one fails the test that follows it. */
  const pageErrors: string[] = [];

  beforeAll(async () => {
    [browser, serving] = await Promise.all([
      launchChromium(),
      startSimServing(
        { robot: { controlHz: 20, episodeSeconds: 60 }, reward: { shaping: { success: 'operator' } }, dashboard: { cameraFps: 10 } },
        { autoStart: true },
      ),
    ]);
    page = await browser.context.newPage();
    page.on('pageerror', (error) => pageErrors.push(error.message));
    await page.goto(serving.dashboard.urlWithToken);
  });
  afterAll(async () => {
    await browser?.close();
    await serving?.shutdown('tests done');
  });

  it('shows every camera as a live JPEG tile and grows the progress chart', async () => {
    await page.waitForFunction(() => document.querySelectorAll('img[data-camera]').length === 3, null, { timeout: 15_000 });
    const tiles = await page.$$eval('img[data-camera]', (images) =>
      (images as HTMLImageElement[]).map((image) => ({ camera: image.dataset.camera, jpeg: image.src.startsWith('data:image/jpeg;base64,'), width: image.naturalWidth })),
    );
    expect(tiles.map((t) => t.camera).sort()).toEqual(['cam_high', 'cam_left_wrist', 'cam_right_wrist']);
    for (const tile of tiles) {
      expect(tile.jpeg).toBe(true);
      expect(tile.width).toBe(128);
    }
    // Tiles change with the state: the stamp of a tile moves on.
    const firstStamp = await page.getAttribute('img[data-camera="cam_high"]', 'data-stamp');
    await page.waitForFunction((stamp) => document.querySelector('img[data-camera="cam_high"]')!.getAttribute('data-stamp') !== stamp, firstStamp);

    const points = async () => Number(await page.getAttribute('#progress-chart', 'data-points'));
    await page.waitForFunction(() => Number(document.querySelector('#progress-chart')!.getAttribute('data-points')) >= 3);
    const before = await points();
    await page.waitForFunction((n) => Number(document.querySelector('#progress-chart')!.getAttribute('data-points')) > n + 3, before);
    expect(await page.locator('#progress-chart canvas').count()).toBeGreaterThan(0);

    // The dashboard says what drives the run.
    expect(await page.textContent('#source-robot')).toMatch(/^sim:push-cube/);
    expect(await page.textContent('#source-actions')).toMatch(/^SAC policy learning online/);
    expect(await page.textContent('#source-progress')).toMatch(/^fused progress from onnx .*grm-tiny\.onnx/);
    expect((await page.getAttribute('#source-progress', 'class')) ?? '').not.toContain('standin');
    // The newest scored step as numbers, and the learner panel (no episode has ended yet: no updates).
    expect(await page.textContent('#progress-now')).toMatch(/^step \d+: progress \d\.\d{3} · hop [+-]\d\.\d{3} · reward -?\d\.\d{3}$/);
    await page.waitForFunction(() => document.getElementById('control-period')!.textContent !== '-');
    expect(await page.textContent('#learner-updates')).toMatch(/^\d+ \(/);
    // The token left the address bar once read.
    expect(page.url()).not.toContain('token=');
    expect(pageErrors).toEqual([]);
  });

  it('e-stop stops the arm within 200 ms, and the run resumes only after reset', async () => {
    const robot = serving.recorded;
    await waitFor(() => robot.received.length > 5, 'actions');
    // The moment the browser dispatches the click, as wall-clock ms (Playwright's own actionability
    // checks before the click are not part of the dashboard's reaction time).
    await page.evaluate(() => {
      document.getElementById('estop')!.addEventListener('click', () => {
        document.body.dataset.clickedAt = String(performance.timeOrigin + performance.now());
      });
    });
    await page.click('#estop');
    await waitFor(() => robot.stopCalls.length === 1, 'robot.stop');
    const clickedAt = Number(await page.getAttribute('body', 'data-clicked-at')) - performance.timeOrigin; // in this process's performance.now()
    const stoppedAt = robot.stopCalls[0]!.atMs;
    expect(stoppedAt - clickedAt).toBeLessThan(200);
    await page.waitForSelector('body[data-estopped="true"]');
    expect(await page.textContent('#estop-state')).toMatch(/E-STOPPED/);

    // Nothing reaches the arm after the e-stop: wait three control periods and more.
    const count = robot.received.length;
    await new Promise((resolve) => setTimeout(resolve, 600));
    expect(robot.received.length).toBe(count);
    expect(robot.received.every((r) => r.atMs < clickedAt + 200)).toBe(true);
    expect(robot.received.some((r) => r.whileStopped)).toBe(false);
    // Pause/resume do not release it.
    await page.click('#resume');
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(robot.received.length).toBe(count);

    await page.click('#reset');
    await page.waitForSelector('body[data-estopped="false"]');
    await waitFor(() => robot.received.length > count + 3, 'actions after reset');
    expect(await page.textContent('#episodes tbody')).toMatch(/estop/);
    expect(await page.locator('#events li.estop').count()).toBeGreaterThan(0);
  });

  it('take over from the page: the keyboard moves the simulated hand, hand back returns control, the steps reach the demo buffer', async () => {
    const sim = serving.recorded.inner as SimRobot;
    const agent = serving.agent!;
    await page.waitForSelector('body[data-estopped="false"]');
    await waitFor(() => serving.loop.snapshot().episode !== null, 'a running episode');
    expect(agent.learnerStatus().interventionTransitions).toBe(0);
    await page.click('#takeover');
    await page.waitForSelector('body[data-intervention="true"]');
    expect(await page.isVisible('#intervention-state')).toBe(true);
    expect(serving.loop.snapshot().intervention).toBe(true);

    // A (+y) held for a second: the hand moves along +y, not along x.
    const start = sim.world.eePosition();
    await page.keyboard.down('a');
    await waitFor(() => sim.world.eePosition()[1] > start[1] + 0.03, 'the hand to move in +y');
    await page.keyboard.up('a');
    const moved = sim.world.eePosition();
    expect(Math.abs(moved[0] - start[0])).toBeLessThan(0.01);
    // R (+z): up.
    await page.keyboard.down('r');
    await waitFor(() => sim.world.eePosition()[2] > moved[2] + 0.02, 'the hand to move up');
    await page.keyboard.up('r');
    // Space closes the gripper.
    const sent = serving.recorded.received.length;
    await page.keyboard.press(' ');
    await waitFor(() => serving.recorded.received.slice(sent).some((r) => r.action.gripper === 1), 'a gripper command');

    await page.click('#takeover');
    await page.waitForSelector('body[data-intervention="false"]');
    expect(serving.loop.snapshot().intervention).toBe(false);
    await page.click('#mark-failure');
    await waitFor(() => agent.learnerStatus().interventionTransitions > 0, 'the episode with the intervention to be learned from');
    const status = agent.learnerStatus();
    // Every operator step is in the demo buffer (serve has no scripted demos here, so it holds only those).
    expect(status.demoTransitions).toBe(status.interventionTransitions);
    expect(status.interventionTransitions).toBeGreaterThan(10);
    await page.waitForFunction(() => Number(document.getElementById('learner-demos')!.dataset.demos) > 0);
    expect(await page.textContent('#episodes tbody tr:first-child td:last-child')).toMatch(/^[1-9]\d*%$/);
    // The success and intervention chart has a point per ended episode (the e-stopped one and this one).
    expect(Number(await page.getAttribute('#success-chart', 'data-points'))).toBeGreaterThanOrEqual(2);

    // A click on the episode's row replays its logged curves on the progress chart; Back to live returns.
    const marked = serving.loop.snapshot().episodes.at(-1)!;
    expect(marked.outcome).toBe('failure');
    await page.click(`#episodes tbody tr[data-episode="${marked.episode}"]`);
    await page.waitForSelector(`#progress-chart[data-replay="${marked.episode}"]`);
    expect(Number(await page.getAttribute('#progress-chart', 'data-points'))).toBe(agent.replay(marked.episode)!.progress.length);
    expect(await page.textContent('#episode-index')).toMatch(new RegExp(`^${marked.episode} \\(replay: failure, \\d+ steps, [1-9]\\d* driven by the operator\\)$`));
    await page.click('#replay-live');
    await page.waitForFunction(() => document.getElementById('progress-chart')!.dataset.replay === undefined);
    expect(pageErrors).toEqual([]);
  });
});

describe.skipIf(!hasChromium)("an episode's camera recording replayed in headless Chromium", () => {
  let browser: Browser;
  let serving: TestServing;
  let dashboard: Dashboard;
  let frames: RecordedFrames;
  let folder: string;
  let page: Page;
  const pageErrors: string[] = [];
  const progress = [0, 0.1, 0.3, 0.5, 0.8, 1];

  beforeAll(async () => {
    folder = mkdtempSync(join(tmpdir(), 'dopamine-replay-'));
    [browser, serving] = await Promise.all([launchChromium(), startTestServing()]);
    const { config } = serving;
    // Episode 3: five steps, six observations seen by two cameras.
    await writeEpisodeMcap(
      {
        name: 'episode 3',
        instructions: ['test'],
        roles: ['front', 'left_wrist'],
        frameCount: progress.length,
        fps: 10,
        segments: [{ label: 'all', startFrame: 0, endFrame: progress.length - 1 }],
        annotated: false,
        frame: async (_role, index) => ({ width: 40, height: 30, rgb: solidFrame(40, 30, paletteColour(index)) }),
        close: async () => undefined,
      },
      recordingPath(folder, 3),
      { views: config.cameras.views, imageTopic: config.robot.ros2.imageTopic, transport: 'jpeg' },
    );
    frames = new RecordedFrames({ folder, config });
    const rewards = [0.1, 0.2, 0.2, 0.3, 0.2];
    const replay = { episode: 3, outcome: 'failure', steps: 5, progress, rewards, interventionSteps: [] };
    dashboard = await startDashboard({
      loop: serving.loop,
      events: serving.events,
      cameras: [],
      log: createLogger('test', 'silent'),
      host: '127.0.0.1',
      port: 0,
      episodeReplay: (episode) => (episode === 3 ? replay : null),
      recordedFrames: frames,
    });
    page = await browser.context.newPage();
    page.on('pageerror', (error) => pageErrors.push(error.message));
    await page.goto(dashboard.urlWithToken);
  });
  afterAll(async () => {
    await browser?.close();
    await dashboard?.close();
    await frames?.close();
    await serving?.shutdown('tests done');
    rmSync(folder, { recursive: true, force: true });
  });

  it('shows every recorded view at the chosen step, marks the step on the chart, and plays to the end', async () => {
    await page.waitForFunction(() => document.getElementById('connection')!.textContent === 'live');
    // The row the server sends when an episode ends.
    await page.evaluate(() => {
      const page = window as unknown as { handle(message: unknown): void };
      const summary = { episode: 3, outcome: 'failure', steps: 5 };
      page.handle({ type: 'update', update: { type: 'episode', summary, rollouts: 1, successRate: 0 } });
    });
    await page.click('#episodes tbody tr[data-episode="3"]');
    await page.waitForSelector('#replay-views[data-frame="0"]');
    expect(await page.isVisible('#replay-frames')).toBe(true);
    expect(await page.getAttribute('#progress-chart', 'data-marker')).toBe('0');
    await page.waitForFunction(() => {
      const images = Array.from(document.querySelectorAll<HTMLImageElement>('#replay-views img'));
      return images.every((image) => image.naturalWidth > 0);
    });
    const views = await page.$$eval('#replay-views img', (images) =>
      (images as HTMLImageElement[]).map((image) => [image.dataset.view, image.naturalWidth]),
    );
    expect(views).toEqual([['front', 40], ['left_wrist', 40]]);

    await page.fill('#replay-slider', '4');
    await page.waitForSelector('#replay-views[data-frame="4"]');
    expect(await page.getAttribute('#progress-chart', 'data-marker')).toBe('4');
    expect(await page.textContent('#replay-frame')).toBe('step 4 of 5');

    await page.click('#replay-play');
    await page.waitForSelector('#replay-views[data-frame="5"]');
    await page.waitForSelector('#replay-frames[data-playing="false"]');
    expect(await page.textContent('#replay-play')).toBe('Play');

    await page.click('#replay-live');
    await page.waitForFunction(() => document.getElementById('replay-frames')!.hidden);
    expect(await page.getAttribute('#progress-chart', 'data-marker')).toBeNull();
    expect(pageErrors).toEqual([]);
  });
});
