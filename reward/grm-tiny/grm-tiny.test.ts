import { existsSync, mkdtempSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { writeFileAtomic } from '../../engine/index.js';
import { Preprocessor } from '../../perception/preprocess.js';
import { readContract } from '../grm-contract.js';
import { readReferences } from '../task-references.js';
import { adaptGrmTiny } from './adapt.js';
import { collectEpisode, PRETRAIN_AUGMENTATION } from './dataset.js';
import { createGrmTinyStore, exportGrmTiny } from './io.js';
import { GRM_TINY_CONFIG } from './model.js';
import { DEFAULT_GRM_TINY } from './paths.js';
import { syntheticEpisode } from './synthetic.js';
import { trainGrmTiny } from './train.js';

const dir = mkdtempSync(join(tmpdir(), 'grm-tiny-'));
const config = GRM_TINY_CONFIG;
const preprocessor = new Preprocessor({ width: config.width, height: config.height });

describe('GRM-tiny training and one-shot adaptation (synthetic task)', () => {
  const base = join(dir, 'base.onnx');

  it('a short training run lowers the loss, and the model exports under the contract', async () => {
    const episodes = [];
    for (let seed = 0; seed < 3; seed++) episodes.push(await collectEpisode(syntheticEpisode({ seed }), 'slide', preprocessor, { sampleFactor: 2, pairs: 100, seed }));
    expect(episodes[0]!.pairs.length).toBe(100);
    // every pair's frames were decoded once and kept at model size
    for (const pair of episodes[0]!.pairs) expect(episodes[0]!.frames.get(pair.before)![0].length).toBe(3 * config.width * config.height);
    const store = createGrmTinyStore(config, 3);
    const report = await trainGrmTiny(store, config, episodes, preprocessor, { steps: 60, batch: 8, lr: 3e-3, seed: 3, augmentation: PRETRAIN_AUGMENTATION });
    expect(report.lastLoss).toBeLessThan(report.firstLoss);
    writeFileAtomic(base, exportGrmTiny(store, config, 3));
    const contract = readContract(readFileSync(base), base);
    expect(contract).toMatchObject({ batch: 3, width: 64, height: 48, textDim: 128 });
  });

  it('adapts to one demo, validates it forward and reversed, and writes the model with the references', async () => {
    const out = join(dir, 'adapted.onnx');
    const demo = syntheticEpisode({ seed: 42, name: 'demo_42' });
    // The 60-step base has not learned appearance-invariant vectors, so the head is fitted to the
    // demo alone here; appearance variants are checked on the simulator (dopamine grm eval).
    const report = await adaptGrmTiny(demo, { base, out, sampleFactor: 2, minVoc: 0.9, steps: 400, lr: 3e-3, seed: 1, variants: 0 });
    expect(report.after.forward).toBeGreaterThanOrEqual(0.9);
    expect(report.after.reversed).toBeGreaterThanOrEqual(0.9);
    expect(report.trained.join(' ')).toMatch(/fuse.*text.*head/);
    expect(report.variants).toBe(0);
    expect(existsSync(out)).toBe(true);
    const references = readReferences(out)!;
    expect(references.info.instructions).toEqual(['slide the red square to the white mark', 'move the square onto the mark']);
    expect(references.info.source).toBe('demo_42');
    expect(references.info.goalFrame).toBe(39);
    expect(Object.keys(references.goal).sort()).toEqual(['front', 'left_wrist', 'right_wrist']);
  });

  it('refuses to write a model below the VOC threshold, with the figures in the message', async () => {
    const out = join(dir, 'refused.onnx');
    const demo = syntheticEpisode({ seed: 43 });
    const failing = adaptGrmTiny(demo, { base, out, sampleFactor: 2, minVoc: 1, steps: 1 });
    await expect(failing).rejects.toThrow(/--min-voc: expected demo VOC >= 1 forward and reversed after adaptation, got forward -?[\d.]+ and reversed -?[\d.]+ .*refused\.onnx was not written/);
    expect(existsSync(out)).toBe(false);
  });
});

describe('the shipped GRM-tiny', () => {
  it('follows the contract and stays under 20 MB', () => {
    const bytes = readFileSync(DEFAULT_GRM_TINY);
    expect(statSync(DEFAULT_GRM_TINY).size).toBeLessThanOrEqual(20 * 1024 * 1024);
    const contract = readContract(bytes, DEFAULT_GRM_TINY);
    expect(contract.hopBins).toHaveLength(21);
    expect(contract.metadata['dopamine.grm.tiny_config']).toBeDefined();
  });
});
