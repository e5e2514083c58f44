import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServing, waitFor, type TestServing } from './testing.js';

/** The value of a sample line `name{labels} value` in the exposition text (null when absent). */
function sample(text: string, name: string): number | null {
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  return line === undefined ? null : Number(line.slice(name.length + 1));
}

describe('GET /metrics', () => {
  let serving: TestServing;
  const scrape = async (token: string | null = serving.dashboard.token): Promise<Response> =>
    fetch(`${serving.dashboard.url}metrics`, token === null ? {} : { headers: { authorization: `Bearer ${token}` } });

  beforeAll(async () => {
    // Short episodes at 50 Hz: several end within seconds.
    serving = await startTestServing({ robot: { controlHz: 50, episodeSeconds: 0.4 } }, { autoStart: true });
  });
  afterAll(async () => {
    await serving?.shutdown('tests done');
  });

  it('refuses a scrape without the token, or with a wrong one', async () => {
    expect((await scrape(null)).status).toBe(401);
    expect((await scrape('x'.repeat(32))).status).toBe(401);
  });

  it('shows the run in the Prometheus text format, the counters moving while it runs', async () => {
    const first = await scrape();
    expect(first.status).toBe(200);
    expect(first.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    const before = await first.text();
    expect(before).toMatch(/# TYPE dopamine_control_steps_total counter/);
    const steps = sample(before, 'dopamine_control_steps_total') ?? 0;
    await waitFor(() => serving.loop.snapshot().episodes.length >= 2, 'two episodes');
    const after = await (await scrape()).text();
    expect(sample(after, 'dopamine_control_steps_total')!).toBeGreaterThan(steps);
    expect(sample(after, 'dopamine_reward_answers_total')!).toBeGreaterThan(0);
    expect(after).toMatch(/^dopamine_episodes_total\{outcome="(time-limit|success)"\} [1-9]\d*$/m);
    expect(sample(after, 'dopamine_rollouts_total')!).toBeGreaterThanOrEqual(2);
    expect(sample(after, 'dopamine_control_period_seconds')!).toBeGreaterThan(0);
  });

  it('counts e-stops and interventions as they happen', async () => {
    serving.loop.setIntervention(true, 'test');
    await waitFor(async () => sample(await (await scrape()).text(), 'dopamine_intervention_active') === 1, 'the intervention shown');
    serving.loop.setIntervention(false, 'test');
    await serving.loop.estop('test', 'metrics test');
    const text = await (await scrape()).text();
    expect(sample(text, 'dopamine_interventions_total')).toBe(1);
    expect(sample(text, 'dopamine_estops_total')).toBe(1);
    expect(sample(text, 'dopamine_estopped')).toBe(1);
  });
});
