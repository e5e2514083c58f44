/**
 * `dopamine calibrate check`: for each configured view, whether frames arrive, at what rate, how
 * well the views are synchronised, whether its crop fits the image and its camera_info matches;
 * and whether the workspace bounds are plausible. The frame timings come from a recorded MCAP,
 * the simulator, or live ROS 2 topics; this file only judges them.
 */
import type { Config } from '../config/schema.js';
import type { SyncStats } from '../perception/sync.js';
import type { CameraRole } from '../robot/types.js';
import { readCameraInfo, type CameraCalibration } from './camera-info.js';

/** What was seen of one view. */
export interface ViewTimings {
  role: CameraRole;
  camera: string;
  /** Topic or file the frames came from. */
  source: string;
  /** Header stamps of the frames, ms. */
  stampsMs: number[];
  /** Arrival (log) times, ms, when known. */
  arrivalsMs?: number[];
  /** Source image size, when a frame was decoded. */
  width?: number;
  height?: number;
  /** camera_info seen on the topic or in the recording. */
  cameraInfo?: CameraCalibration;
}

export interface ViewReport {
  role: CameraRole;
  camera: string;
  source: string | null;
  arrives: boolean;
  frames: number;
  /** Frames per second from the header stamps. */
  rateHz: number | null;
  /** Largest gap between consecutive stamps, ms. */
  maxGapMs: number | null;
  /** Mean arrival minus stamp, ms (transport latency), when arrivals are known. */
  meanLatencyMs: number | null;
  synced: number | null;
  dropped: number | null;
  size: { width: number; height: number } | null;
  crop: [number, number, number, number] | null;
  cameraInfo: { file: string; width: number; height: number; distortionModel: string } | null;
  problems: string[];
}

export interface CalibrationReport {
  source: string;
  ok: boolean;
  views: ViewReport[];
  sync: { queueSize: number; slopMs: number; sets: number; meanSpreadMs: number | null; maxSpreadMs: number | null } | null;
  workspace: { min: number[]; max: number[]; extentM: number[]; problems: string[] };
  problems: string[];
}

/** Extents below this are likely a typo (a tiny box makes the arm refuse every action). */
const MIN_EXTENT_M = 0.05;
const MAX_EXTENT_M = 2;

function rate(stamps: number[]): { rateHz: number | null; maxGapMs: number | null } {
  if (stamps.length < 2) return { rateHz: null, maxGapMs: null };
  const span = stamps[stamps.length - 1]! - stamps[0]!;
  let maxGap = 0;
  for (let i = 1; i < stamps.length; i++) maxGap = Math.max(maxGap, stamps[i]! - stamps[i - 1]!);
  return { rateHz: span > 0 ? ((stamps.length - 1) * 1000) / span : null, maxGapMs: maxGap };
}

export function checkWorkspace(config: Config): CalibrationReport['workspace'] {
  const min = config.safety.workspaceMin;
  const max = config.safety.workspaceMax;
  const extentM = min.map((low, i) => max[i]! - low);
  const problems: string[] = [];
  extentM.forEach((extent, i) => {
    const axis = 'xyz'[i];
    if (extent < MIN_EXTENT_M) problems.push(`safety.workspace ${axis}: extent ${extent.toFixed(3)} m is below ${MIN_EXTENT_M} m`);
    if (extent > MAX_EXTENT_M) problems.push(`safety.workspace ${axis}: extent ${extent.toFixed(3)} m is above ${MAX_EXTENT_M} m (metres expected)`);
  });
  if (min[2] < 0) problems.push(`safety.workspaceMin z: ${min[2]} m is below the base (table) plane`);
  return { min: [...min], max: [...max], extentM, problems };
}

/**
 * Judges the timings against the configuration. camera_info files named in the configuration
 * are read here (a bad file is an InputError naming it and the key).
 */
export function checkCalibration(config: Config, source: string, timings: ViewTimings[], sync: SyncStats | null, sourceProblems: string[] = []): CalibrationReport {
  const views = config.cameras.views.map((view): ViewReport => {
    const seen = timings.find((t) => t.role === view.role);
    const problems: string[] = [];
    const stamps = seen?.stampsMs ?? [];
    const { rateHz, maxGapMs } = rate(stamps);
    const arrivals = seen?.arrivalsMs;
    const meanLatencyMs = arrivals !== undefined && arrivals.length === stamps.length && stamps.length > 0 ? arrivals.reduce((s, a, i) => s + a - stamps[i]!, 0) / stamps.length : null;
    const syncView = sync?.views.find((v) => v.view === seen?.source || v.view === view.name);
    if (stamps.length === 0) problems.push(`no frames from ${seen?.source ?? view.name}`);
    const size = seen?.width !== undefined && seen.height !== undefined ? { width: seen.width, height: seen.height } : null;
    const crop = view.crop ?? null;
    if (crop !== null && size !== null && (crop[0] + crop[2] > size.width || crop[1] + crop[3] > size.height)) {
      problems.push(`cameras.views crop [${crop.join(', ')}] is outside the ${size.width}x${size.height} image`);
    }
    let info: CameraCalibration | undefined = seen?.cameraInfo;
    if (view.cameraInfo !== undefined) info = readCameraInfo(view.cameraInfo);
    if (info !== undefined && size !== null && (info.width !== size.width || info.height !== size.height)) {
      problems.push(`camera_info ${info.file} is for ${info.width}x${info.height}, the images are ${size.width}x${size.height}`);
    }
    if (syncView !== undefined && syncView.received > 0 && syncView.synced === 0) problems.push(`no frame of ${view.name} joined a synchronised set (slop ${config.cameras.sync.slopMs} ms)`);
    return {
      role: view.role,
      camera: view.name,
      source: seen?.source ?? null,
      arrives: stamps.length > 0,
      frames: stamps.length,
      rateHz,
      maxGapMs,
      meanLatencyMs,
      synced: syncView?.synced ?? null,
      dropped: syncView?.dropped ?? null,
      size,
      crop,
      cameraInfo: info === undefined ? null : { file: info.file, width: info.width, height: info.height, distortionModel: info.distortionModel },
      problems,
    };
  });
  const roles = config.cameras.views.map((v) => v.role);
  const problems: string[] = [...sourceProblems];
  if (!roles.includes('front')) problems.push('cameras.views: no view with role front');
  if (new Set(roles).size !== roles.length) problems.push('cameras.views: a role is given twice');
  if (sync !== null && sync.sets === 0) problems.push('no synchronised set of all views');
  const workspace = checkWorkspace(config);
  const all = [...problems, ...views.flatMap((v) => v.problems.map((p) => `${v.camera}: ${p}`)), ...workspace.problems];
  return {
    source,
    ok: all.length === 0,
    views,
    sync: sync === null ? null : { queueSize: sync.queueSize, slopMs: sync.slopMs, sets: sync.sets, meanSpreadMs: sync.meanSpreadMs, maxSpreadMs: sync.maxSpreadMs },
    workspace,
    problems: all,
  };
}

export function calibrationText(report: CalibrationReport): string {
  const f = (v: number | null, digits = 1): string => (v === null ? '-' : v.toFixed(digits));
  const lines = [
    `source: ${report.source}`,
    'view          camera            frames  rate Hz  max gap ms  latency ms  synced  dropped  size      camera_info',
    ...report.views.map(
      (v) =>
        `${v.role.padEnd(13)} ${v.camera.padEnd(17)} ${String(v.frames).padStart(6)}  ${f(v.rateHz).padStart(7)}  ${f(v.maxGapMs).padStart(10)}  ${f(v.meanLatencyMs).padStart(10)}  ` +
        `${String(v.synced ?? '-').padStart(6)}  ${String(v.dropped ?? '-').padStart(7)}  ${(v.size === null ? '-' : `${v.size.width}x${v.size.height}`).padEnd(8)}  ${v.cameraInfo === null ? '-' : `${v.cameraInfo.width}x${v.cameraInfo.height} ${v.cameraInfo.distortionModel}`}`,
    ),
  ];
  if (report.sync !== null) {
    lines.push(`sync: ${report.sync.sets} sets, spread mean ${f(report.sync.meanSpreadMs)} ms, max ${f(report.sync.maxSpreadMs)} ms (queue ${report.sync.queueSize}, slop ${report.sync.slopMs} ms)`);
  }
  lines.push(`workspace: [${report.workspace.min.join(', ')}] .. [${report.workspace.max.join(', ')}] m, extent ${report.workspace.extentM.map((e) => e.toFixed(2)).join(' x ')} m`);
  lines.push(report.ok ? 'ok' : `problems:\n${report.problems.map((p) => `  - ${p}`).join('\n')}`);
  return lines.join('\n');
}
