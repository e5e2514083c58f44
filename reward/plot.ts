/**
 * Progress and hop curves of a scored episode as a PNG: an SVG built here, rendered by sharp.
 * Top panel: progress in [0, 1] (fused, and in fused mode the three perspectives, thinner);
 * bottom panel: hops in [-1, 1].
 */
import sharp from 'sharp';
import type { ScoredStep } from './scoring.js';

const WIDTH = 900;
const HEIGHT = 520;
const MARGIN = { left: 60, right: 20, top: 40, bottom: 40 };
const PANEL_GAP = 40;

function escapeXml(text: string): string {
  return text.replace(/[<>&"]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;' })[c]!);
}

export function plotSvg(steps: readonly ScoredStep[], title: string): string {
  const first = steps[0]?.frame ?? 0;
  const last = steps[steps.length - 1]?.frame ?? 1;
  const plotWidth = WIDTH - MARGIN.left - MARGIN.right;
  const panelHeight = (HEIGHT - MARGIN.top - MARGIN.bottom - PANEL_GAP) / 2;
  const x = (frame: number): number => MARGIN.left + ((frame - first) / Math.max(1, last - first)) * plotWidth;
  const progressY = (p: number): number => MARGIN.top + (1 - p) * panelHeight;
  const hopTop = MARGIN.top + panelHeight + PANEL_GAP;
  const hopY = (h: number): number => hopTop + ((1 - h) / 2) * panelHeight;
  const line = (values: Array<[number, number]>, colour: string, width: number): string =>
    `<polyline fill="none" stroke="${colour}" stroke-width="${width}" points="${values.map(([a, b]) => `${a.toFixed(1)},${b.toFixed(1)}`).join(' ')}"/>`;
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${HEIGHT}" font-family="sans-serif" font-size="12">`,
    `<rect width="${WIDTH}" height="${HEIGHT}" fill="white"/>`,
    `<text x="${MARGIN.left}" y="22" font-size="14">${escapeXml(title)}</text>`,
  ];
  for (const [top, label, ticks] of [
    [MARGIN.top, 'progress', [0, 0.5, 1]],
    [hopTop, 'hop', [-1, 0, 1]],
  ] as const) {
    parts.push(`<rect x="${MARGIN.left}" y="${top}" width="${plotWidth}" height="${panelHeight}" fill="none" stroke="#999"/>`);
    parts.push(`<text x="8" y="${top + panelHeight / 2}">${label}</text>`);
    for (const tick of ticks) {
      const y = label === 'progress' ? progressY(tick) : hopY(tick);
      parts.push(`<line x1="${MARGIN.left}" x2="${MARGIN.left + plotWidth}" y1="${y}" y2="${y}" stroke="#eee"/>`);
      parts.push(`<text x="${MARGIN.left - 6}" y="${y + 4}" text-anchor="end">${tick}</text>`);
    }
  }
  parts.push(`<text x="${MARGIN.left}" y="${HEIGHT - 12}">frame ${first}</text>`);
  parts.push(`<text x="${MARGIN.left + plotWidth}" y="${HEIGHT - 12}" text-anchor="end">frame ${last}</text>`);
  const perspectives = steps.every((s) => s.perspectives !== undefined);
  if (perspectives) {
    const colours = { incremental: '#8bc34a', forward: '#ff9800', backward: '#9c27b0' } as const;
    for (const key of ['incremental', 'forward', 'backward'] as const) {
      parts.push(line(steps.map((s) => [x(s.frame), progressY(s.perspectives![key])]), colours[key], 1));
    }
    parts.push(`<text x="${WIDTH - 330}" y="22" fill="#8bc34a">incremental</text><text x="${WIDTH - 250}" y="22" fill="#ff9800">forward</text><text x="${WIDTH - 185}" y="22" fill="#9c27b0">backward</text>`);
  }
  parts.push(line(steps.map((s) => [x(s.frame), progressY(s.progress)]), '#1565c0', 2.5));
  parts.push(`<text x="${WIDTH - 110}" y="22" fill="#1565c0">progress</text>`);
  parts.push(line(steps.map((s) => [x(s.frame), hopY(s.hop)]), '#d32f2f', 1.5));
  parts.push('</svg>');
  return parts.join('\n');
}

export async function writePlot(file: string, steps: readonly ScoredStep[], title: string): Promise<void> {
  await sharp(Buffer.from(plotSvg(steps, title))).png().toFile(file);
}
