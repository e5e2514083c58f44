// The dashboard client: one websocket for everything the server streams, fetch() with the
// bearer token for the controls. No build step; uPlot is served by the dashboard itself.
/* global uPlot */
'use strict';

const $ = (id) => document.getElementById(id);

// ---- token: from the URL fragment (#token=...), kept for this tab only ----------------------
function takeToken() {
  const match = location.hash.match(/token=([^&]+)/);
  if (match) {
    sessionStorage.setItem('dopamine-token', decodeURIComponent(match[1]));
    history.replaceState(null, '', location.pathname); // keep it out of the address bar
  }
  return sessionStorage.getItem('dopamine-token');
}
let token = takeToken();

// ---- charts -----------------------------------------------------------------------------------
const axisStyle = { stroke: '#8b939e', grid: { stroke: '#2c323c' }, ticks: { stroke: '#2c323c' } };

function chartWidth(element) {
  return Math.max(300, element.clientWidth - 8);
}

const progressData = [[], [], [], []]; // step, hop, progress, reward
let stepMarker = null; // the step of the recorded frame shown, a vertical line on the progress chart

function drawStepMarker(chart) {
  if (stepMarker === null) return;
  const x = Math.round(chart.valToPos(stepMarker, 'x', true));
  const { ctx, bbox } = chart;
  ctx.save();
  ctx.strokeStyle = '#e4e7eb';
  ctx.lineWidth = Math.max(1, devicePixelRatio);
  ctx.setLineDash([4 * devicePixelRatio, 4 * devicePixelRatio]);
  ctx.beginPath();
  ctx.moveTo(x, bbox.top);
  ctx.lineTo(x, bbox.top + bbox.height);
  ctx.stroke();
  ctx.restore();
}

const progressChart = new uPlot(
  {
    width: chartWidth($('progress-chart')),
    height: 240,
    hooks: { draw: [drawStepMarker] },
    scales: { x: { time: false } },
    axes: [{ ...axisStyle, label: 'step' }, { ...axisStyle }],
    series: [
      { label: 'step' },
      { label: 'hop', stroke: '#f5b642', width: 1.5 },
      { label: 'fused progress', stroke: '#3ecf8e', width: 2 },
      { label: 'shaped reward', stroke: '#4fa3ff', width: 1.5 },
    ],
  },
  progressData,
  $('progress-chart'),
);

const successData = [[], [], []]; // episode, success rate and intervention rate of the last 10 episodes
const successChart = new uPlot(
  {
    width: chartWidth($('success-chart')),
    height: 180,
    scales: { x: { time: false }, y: { range: [0, 1] } },
    axes: [{ ...axisStyle, label: 'episode' }, { ...axisStyle }],
    series: [
      { label: 'episode' },
      { label: 'success rate (last 10 episodes)', stroke: '#3ecf8e', width: 2 },
      { label: 'intervention rate (last 10 episodes)', stroke: '#4fa3ff', width: 1.5 },
    ],
  },
  successData,
  $('success-chart'),
);

const learnerData = [[], [], []]; // seconds since the page opened, critic loss, entropy
const learnerChart = new uPlot(
  {
    width: chartWidth($('learner-chart')),
    height: 160,
    scales: { x: { time: false } },
    axes: [{ ...axisStyle, label: 'seconds' }, { ...axisStyle }],
    series: [{ label: 's' }, { label: 'critic loss', stroke: '#f5b642', width: 1.5 }, { label: 'entropy', stroke: '#4fa3ff', width: 1.5 }],
  },
  learnerData,
  $('learner-chart'),
);

window.addEventListener('resize', () => {
  progressChart.setSize({ width: chartWidth($('progress-chart')), height: 240 });
  successChart.setSize({ width: chartWidth($('success-chart')), height: 180 });
  learnerChart.setSize({ width: chartWidth($('learner-chart')), height: 160 });
});

// The chart shows the live episode, or a logged one replayed from the run folder (a click on its row).
let liveEpisode = null;
const livePoints = [];
let replaying = null;

function drawPoints(points) {
  for (const column of progressData) column.length = 0;
  for (const point of points) {
    progressData[0].push(point.step);
    progressData[1].push(point.hop);
    progressData[2].push(point.progress);
    progressData[3].push(point.reward);
  }
  progressChart.setData(progressData);
  $('progress-chart').dataset.points = String(progressData[0].length);
}

function resetProgress(episode) {
  liveEpisode = episode;
  livePoints.length = 0;
  if (replaying === null) {
    drawPoints(livePoints);
    $('episode-index').textContent = episode === null ? '-' : String(episode);
  }
}

async function replayEpisode(episode) {
  const response = await fetch(`/api/episodes/${episode}`, { headers: { authorization: `Bearer ${token}` } });
  const body = await response.json();
  if (!response.ok) {
    $('control-result').textContent = `replay: ${body.error}`;
    return;
  }
  replaying = episode;
  if (body.progress) {
    // hop is not logged: the curve shows progress and the reward the learner got.
    const reward = (step) => (step > 0 ? body.rewards[step - 1] : null);
    drawPoints(body.progress.map((progress, step) => ({ step, hop: null, progress, reward: reward(step) })));
    const driven = body.interventionSteps.length;
    $('episode-index').textContent = `${episode} (replay: ${body.outcome}, ${body.steps} steps, ${driven} driven by the operator)`;
  } else {
    drawPoints([]);
    $('episode-index').textContent = `${episode} (replay: camera recording only, no logged curves)`;
  }
  if (body.recordingError) $('control-result').textContent = `replay: ${body.recordingError}`;
  $('progress-chart').dataset.replay = String(episode);
  $('replay-live').hidden = false;
  showRecording(episode, body.recording ?? null);
}

function showLive() {
  replaying = null;
  delete $('progress-chart').dataset.replay;
  $('replay-live').hidden = true;
  showRecording(null, null);
  drawPoints(livePoints);
  $('episode-index').textContent = liveEpisode === null ? '-' : String(liveEpisode);
}

// ---- a replayed episode's camera recording: one image per view, a slider over the steps, play/pause ----
// Frame k is the observation after step k, so it sits at step k on the progress chart.
const MAX_PLAY_FPS = 30; // an unpaced simulator records far faster than a person can watch
const recording = { episode: null, info: null, frame: 0, playing: false, run: 0, abort: null };

function setStepMarker(step) {
  stepMarker = step;
  if (step === null) delete $('progress-chart').dataset.marker;
  else $('progress-chart').dataset.marker = String(step);
  progressChart.redraw(false);
}

function showRecording(episode, info) {
  setPlaying(false);
  recording.abort?.abort();
  for (const image of $('replay-views').querySelectorAll('img')) URL.revokeObjectURL(image.src);
  $('replay-views').replaceChildren();
  delete $('replay-views').dataset.frame;
  recording.episode = episode;
  recording.info = info;
  $('replay-frames').hidden = info === null;
  if (info === null) {
    setStepMarker(null);
    return;
  }
  for (const view of info.views) {
    const figure = document.createElement('figure');
    figure.className = 'camera';
    const image = document.createElement('img');
    image.dataset.view = view;
    image.alt = `${view} camera, recorded`;
    const caption = document.createElement('figcaption');
    caption.textContent = `${view} · recorded`;
    figure.append(image, caption);
    $('replay-views').append(figure);
  }
  $('replay-slider').max = String(info.frames - 1);
  void showRecordedFrame(0);
}

/** Fetches every view's JPEG of a frame (with the token, so not an <img> URL) and shows them together. */
async function showRecordedFrame(frame) {
  const { episode, info } = recording;
  if (info === null) return;
  recording.frame = frame;
  $('replay-slider').value = String(frame);
  $('replay-frame').textContent = `step ${frame} of ${info.frames - 1}`;
  setStepMarker(frame);
  recording.abort?.abort(); // a newer frame replaces one still loading
  const abort = new AbortController();
  recording.abort = abort;
  try {
    const images = await Promise.all(
      info.views.map(async (view) => {
        const response = await fetch(`/api/episodes/${episode}/frames/${frame}?view=${view}`, {
          headers: { authorization: `Bearer ${token}` },
          signal: abort.signal,
        });
        if (!response.ok) throw new Error((await response.json()).error);
        return response.blob();
      }),
    );
    if (abort.signal.aborted) return;
    info.views.forEach((view, i) => {
      const image = $('replay-views').querySelector(`img[data-view="${view}"]`);
      if (image.src) URL.revokeObjectURL(image.src);
      image.src = URL.createObjectURL(images[i]);
    });
    $('replay-views').dataset.frame = String(frame);
  } catch (error) {
    if (abort.signal.aborted) return;
    setPlaying(false);
    $('replay-frame').textContent = `step ${frame}: ${error.message}`;
  }
}

function setPlaying(playing) {
  recording.playing = playing;
  recording.run++;
  $('replay-play').textContent = playing ? 'Pause' : 'Play';
  $('replay-frames').dataset.playing = String(playing);
  if (playing) void playRecording(recording.run);
}

async function playRecording(run) {
  const { info } = recording;
  const periodMs = 1000 / Math.min(MAX_PLAY_FPS, info.fps > 0 ? info.fps : 10);
  if (recording.frame >= info.frames - 1) await showRecordedFrame(0); // play at the end starts again
  // The next frame is asked for once this one is shown: a slow server slows playback, it never queues.
  while (recording.run === run && recording.frame < info.frames - 1) {
    const started = performance.now();
    await showRecordedFrame(recording.frame + 1);
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, periodMs - (performance.now() - started))));
  }
  if (recording.run === run) setPlaying(false);
}

function addProgress(point) {
  livePoints.push(point);
  if (replaying === null) drawPoints(livePoints);
  const sign = point.hop >= 0 ? '+' : '';
  $('progress-now').textContent = `step ${point.step}: progress ${fmt(point.progress)} · hop ${sign}${fmt(point.hop)} · reward ${fmt(point.reward)}`;
  $('progress-now').dataset.progress = String(point.progress);
}

// Every episode of the run (earlier sessions' too, from the run folder): success rate over the last
// 10 rollouts and the share of steps the operator drove over the last 10 episodes, by episode.
const JUDGED = new Set(['success', 'failure', 'time-limit']);
let runHistory = [];
function plotHistory() {
  for (const column of successData) column.length = 0;
  for (let i = 0; i < runHistory.length; i++) {
    const recent = runHistory.slice(Math.max(0, i - 9), i + 1);
    const judged = recent.filter((e) => JUDGED.has(e.outcome));
    const steps = recent.reduce((n, e) => n + e.steps, 0);
    successData[0].push(runHistory[i].episode);
    successData[1].push(judged.length > 0 ? judged.filter((e) => e.outcome === 'success').length / judged.length : null);
    successData[2].push(steps > 0 ? recent.reduce((n, e) => n + e.interventionSteps, 0) / steps : 0);
  }
  successChart.setData(successData);
  $('success-chart').dataset.points = String(successData[0].length);
}
function addEpisodePoint(summary) {
  runHistory.push({ episode: summary.episode, outcome: summary.outcome, steps: summary.steps, interventionSteps: summary.interventionSteps ?? 0 });
  plotHistory();
}

function showSuccessRate(rollouts, successRate) {
  if (successRate === null) return;
  const last = successData[1].filter((v) => v !== null).at(-1);
  const recent = last === undefined ? '' : `${(last * 100).toFixed(0)}% of the last 10 · `;
  $('success-rate').textContent = `${recent}${(successRate * 100).toFixed(0)}% of ${rollouts} rollouts`;
}

const pageOpened = performance.now();
function addLearnerPoint(learner) {
  if (!learner || !learner.recent) return;
  learnerData[0].push((performance.now() - pageOpened) / 1000);
  learnerData[1].push(learner.recent.criticLoss);
  learnerData[2].push(learner.recent.entropy);
  if (learnerData[0].length > 1200) for (const column of learnerData) column.shift();
  learnerChart.setData(learnerData);
}

// ---- panels ----------------------------------------------------------------------------------
function fmt(value, digits = 3) {
  return value === null || value === undefined ? '-' : Number(value).toFixed(digits);
}

function showSources(sources) {
  for (const [key, label] of Object.entries(sources)) {
    const element = $(`source-${key}`);
    element.textContent = label;
    element.classList.toggle('standin', /stand-in|test robot/.test(label));
  }
}

function showState(state, estopped) {
  const run = $('run-state');
  run.textContent = state;
  run.className = `badge ${state}`;
  const stop = $('estop-state');
  stop.textContent = estopped ? 'E-STOPPED: reset to continue' : '';
  stop.className = estopped ? 'badge estopped' : 'badge';
  stop.hidden = !estopped;
  document.body.dataset.estopped = String(estopped);
  document.body.dataset.state = state;
}

// The MQTT link carries the remote e-stop: while it is down, say so (hidden without MQTT).
function showLinks(links) {
  const badge = $('link-state');
  const mqtt = links ? links.mqtt : undefined;
  badge.hidden = !mqtt;
  if (!mqtt) return;
  const since = new Date(mqtt.since).toLocaleTimeString();
  badge.textContent = mqtt.remoteEstop ? `MQTT up since ${since}` : `MQTT ${mqtt.connected ? 'up' : 'DOWN'} since ${since}: remote e-stop unavailable`;
  badge.className = mqtt.remoteEstop ? 'badge running' : 'badge estopped';
}

function showSafety(safety) {
  $('safety-estop').textContent = safety.estopped ? `LATCHED: ${safety.estopReason}` : 'released';
  $('safety-holds').textContent = safety.holds.length > 0 ? safety.holds.join(', ') : 'none';
  $('safety-mode').textContent = safety.onViolation;
  const c = safety.counts;
  $('safety-counts').textContent = `${c.forwarded} / ${c.clipped} / ${c.refused} / ${c.nonFinite} / ${c.held}`;
}

function showReward(reward, deadlines) {
  $('reward-latency').textContent = `${fmt(reward.lastMs, 0)} / ${fmt(reward.meanMs, 1)} / ${fmt(reward.p95Ms, 0)} ms`;
  $('reward-answered').textContent = String(reward.answered);
  $('reward-errors').textContent = String(reward.errors);
  $('reward-skipped').textContent = String(reward.skipped);
  $('reward-last-error').textContent = reward.lastError ?? '-';
  if (deadlines) $('deadlines').textContent = `${deadlines.missed} of ${deadlines.steps}`;
}

function showLearner(learner, control) {
  if (learner === undefined) return;
  if (learner === null) {
    $('learner-updates').textContent = 'no learner (fixed policy)';
  } else {
    $('learner-updates').textContent = `${learner.updates} (${fmt(learner.updateMs, 1)} ms)`;
    $('learner-owed').textContent = `${learner.owed} / ${learner.dropped}`;
    $('learner-data').textContent = `${learner.episodes} / ${learner.transitions}`;
    $('learner-rejected').textContent = String(learner.rejectedEpisodes);
    $('learner-error').textContent = learner.lastError ?? '-';
    $('learner-demos').textContent = `${learner.demoTransitions} / ${learner.interventionTransitions}`;
    $('learner-rate').textContent = learner.updatesPerSecond === null ? '-' : learner.updatesPerSecond.toFixed(1);
    const r = learner.recent;
    $('learner-losses').textContent = r ? `${fmt(r.criticLoss, 4)} / ${fmt(r.actorLoss, 3)} / ${fmt(r.meanQ, 2)}` : 'no full update yet';
    $('learner-entropy').textContent = r ? `${fmt(r.entropy, 2)} / ${fmt(r.alpha, 4)}` : '-';
    $('learner-demos').dataset.demos = String(learner.demoTransitions);
    $('learner-updates').dataset.updates = String(learner.updates);
  }
  if (control) $('control-period').textContent = `${fmt(control.periodMeanMs, 1)} / ${fmt(control.periodP95Ms, 0)} / ${fmt(control.periodMaxMs, 0)} ms`;
}

function addEpisodeRow(summary) {
  const row = document.createElement('tr');
  const cells = [
    summary.episode,
    summary.outcome,
    summary.judgedBy,
    summary.steps,
    fmt(summary.durationS, 1),
    fmt(summary.finalProgress, 3),
    fmt(summary.shapedReturn, 3),
    summary.steps > 0 ? `${Math.round((100 * (summary.interventionSteps ?? 0)) / summary.steps)}%` : '-',
  ];
  for (const value of cells) {
    const cell = document.createElement('td');
    cell.textContent = String(value);
    row.append(cell);
  }
  row.children[1].className = summary.outcome;
  row.dataset.episode = String(summary.episode);
  row.title = 'replay this episode: its curves and camera recording above';
  row.addEventListener('click', () => void replayEpisode(summary.episode));
  const body = $('episodes').tBodies[0];
  body.prepend(row);
  while (body.rows.length > 100) body.deleteRow(-1);
}

function addEvent(event) {
  const item = document.createElement('li');
  item.className = event.kind;
  item.textContent = `${new Date(event.time).toLocaleTimeString()} ${event.kind} (${event.source}): ${event.detail}`;
  const list = $('events');
  list.prepend(item);
  while (list.children.length > 200) list.lastElementChild.remove();
}

function showFrame(frame) {
  let image = document.querySelector(`img[data-camera="${CSS.escape(frame.camera)}"]`);
  if (!image) {
    const figure = document.createElement('figure');
    figure.className = 'camera';
    image = document.createElement('img');
    image.dataset.camera = frame.camera;
    image.alt = `${frame.role} camera`;
    const caption = document.createElement('figcaption');
    figure.append(image, caption);
    $('cameras').append(figure);
  }
  image.src = `data:image/jpeg;base64,${frame.jpeg}`;
  image.dataset.stamp = String(frame.stampMs);
  image.nextElementSibling.textContent = `${frame.role} · ${frame.camera} · ${frame.width}×${frame.height} · t=${(frame.stampMs / 1000).toFixed(1)} s`;
}

// ---- websocket ---------------------------------------------------------------------------------
function handle(message) {
  switch (message.type) {
    case 'hello': {
      const s = message.snapshot;
      showSources(s.sources);
      showState(s.state, s.estopped);
      showIntervention(s.intervention);
      showSafety(s.safety);
      showLinks(message.links);
      showReward(s.reward, s.deadlines);
      showLearner(s.learner, s.control);
      resetProgress(s.episode ? s.episode.index : null);
      if (s.episode) for (const point of s.episode.points) addProgress(point);
      $('episodes').tBodies[0].replaceChildren();
      for (const summary of s.episodes) addEpisodeRow(summary);
      runHistory = s.history.slice();
      plotHistory();
      showSuccessRate(s.rollouts, s.successRate);
      $('events').replaceChildren();
      for (const event of message.events) addEvent(event);
      for (const frame of message.frames) showFrame(frame);
      break;
    }
    case 'frame':
      showFrame(message.frame);
      break;
    case 'event':
      addEvent(message.event);
      break;
    case 'status':
      showState(message.state, message.estopped);
      showIntervention(message.intervention);
      showSafety(message.safety);
      showLinks(message.links);
      showReward(message.reward, message.deadlines);
      showLearner(message.learner, message.control);
      addLearnerPoint(message.learner);
      $('episode-steps').textContent = message.episode ? `${message.episode.steps} steps` : '';
      break;
    case 'update': {
      const update = message.update;
      if (update.type === 'state') showState(update.state, update.estopped);
      else if (update.type === 'intervention') showIntervention(update.active);
      else if (update.type === 'progress') addProgress(update.point);
      else if (update.type === 'episode-start') resetProgress(update.episode);
      else if (update.type === 'episode') {
        addEpisodeRow(update.summary);
        addEpisodePoint(update.summary);
        showSuccessRate(update.rollouts, update.successRate);
      }
      break;
    }
  }
}

function connect() {
  if (!token) {
    $('token-form').hidden = false;
    $('connection').textContent = 'enter the control token printed by `dopamine serve`';
    return;
  }
  const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
  // The token goes in the first message, never in the URL (URLs end up in logs and proxies).
  const socket = new WebSocket(`${scheme}://${location.host}/ws`);
  liveSocket = socket;
  socket.onopen = () => {
    socket.send(JSON.stringify({ type: 'auth', token }));
    $('connection').textContent = 'live';
  };
  socket.onmessage = (message) => handle(JSON.parse(message.data));
  socket.onclose = (event) => {
    if (event.code === 4401) {
      sessionStorage.removeItem('dopamine-token');
      token = null;
      $('connection').textContent = 'wrong token';
      $('token-form').hidden = false;
      return;
    }
    $('connection').textContent = 'disconnected, retrying…';
    setTimeout(connect, 1000);
  };
}

// ---- controls ----------------------------------------------------------------------------------
async function control(route, body = {}) {
  try {
    const response = await fetch(`/api/${route}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify(body),
    });
    const result = await response.json();
    $('control-result').textContent = response.ok ? `${route}: ${result.ok ? 'done' : 'nothing to do'}` : `${route}: ${result.error}`;
  } catch (error) {
    $('control-result').textContent = `${route}: ${error.message}`;
  }
}

$('estop').addEventListener('click', () => control('estop', { reason: 'operator pressed e-stop on the dashboard' }));
$('reset').addEventListener('click', () => control('reset'));
for (const route of ['start', 'pause', 'resume', 'stop']) $(route).addEventListener('click', () => control(route));
$('mark-success').addEventListener('click', () => control('mark', { outcome: 'success' }));
$('mark-failure').addEventListener('click', () => control('mark', { outcome: 'failure' }));
// ---- interventions: take over, then keyboard or gamepad teleop over the websocket -----------------
// Velocities as a SpaceMouse gives them (launch/teleop.ts): m/s and rad/s; the safety layer clips.
const TELEOP_SPEED_M_S = 0.1;
const TELEOP_YAW_RAD_S = 0.5;
const TELEOP_PERIOD_MS = 100; // the server holds the arm when commands stop for 500 ms
const KEYS = { w: [0, 1], s: [0, -1], a: [1, 1], d: [1, -1], r: [2, 1], f: [2, -1] };
let liveSocket = null;
let intervening = false;
let gripperClosed = false;
let lastGamepadGripButton = false;
const keysDown = new Set();

function showIntervention(active) {
  if (active === undefined) return;
  intervening = active;
  $('intervention-state').hidden = !active;
  $('teleop-help').hidden = !active;
  $('takeover').textContent = active ? 'Hand back' : 'Take over';
  $('takeover').classList.toggle('active', active);
  document.body.dataset.intervention = String(active);
  if (!active) keysDown.clear();
}

function teleopCommand() {
  const translation = [0, 0, 0];
  let yaw = 0;
  for (const key of keysDown) {
    if (KEYS[key]) translation[KEYS[key][0]] += KEYS[key][1] * TELEOP_SPEED_M_S;
    if (key === 'q') yaw += TELEOP_YAW_RAD_S;
    if (key === 'e') yaw -= TELEOP_YAW_RAD_S;
  }
  const pad = navigator.getGamepads ? [...navigator.getGamepads()].find((g) => g) : undefined;
  if (pad) {
    const axis = (i) => (Math.abs(pad.axes[i] ?? 0) > 0.15 ? pad.axes[i] : 0); // dead zone
    translation[0] -= axis(1) * TELEOP_SPEED_M_S;
    translation[1] -= axis(0) * TELEOP_SPEED_M_S;
    translation[2] -= axis(3) * TELEOP_SPEED_M_S;
    if (pad.buttons[4]?.pressed) yaw += TELEOP_YAW_RAD_S;
    if (pad.buttons[5]?.pressed) yaw -= TELEOP_YAW_RAD_S;
    const grip = Boolean(pad.buttons[0]?.pressed);
    if (grip && !lastGamepadGripButton) gripperClosed = !gripperClosed;
    lastGamepadGripButton = grip;
  }
  return { translation, yaw, gripper: gripperClosed ? 'closed' : 'open' };
}

setInterval(() => {
  if (!intervening || !liveSocket || liveSocket.readyState !== WebSocket.OPEN) return;
  liveSocket.send(JSON.stringify({ type: 'teleop', action: teleopCommand() }));
}, TELEOP_PERIOD_MS);

function teleopKey(event) {
  if (!intervening || event.target instanceof HTMLInputElement) return false;
  const key = event.key.toLowerCase();
  return key in KEYS || key === 'q' || key === 'e' || key === ' ' ? key : false;
}
document.addEventListener('keydown', (event) => {
  const key = teleopKey(event);
  if (!key) return;
  event.preventDefault();
  if (key === ' ') {
    if (!event.repeat) gripperClosed = !gripperClosed;
  } else keysDown.add(key);
});
document.addEventListener('keyup', (event) => {
  const key = teleopKey(event);
  if (key) keysDown.delete(key);
});
window.addEventListener('blur', () => keysDown.clear());
$('takeover').addEventListener('click', (event) => {
  event.currentTarget.blur(); // Space toggles the gripper, not this button
  control('intervention', { active: !intervening });
});

$('replay-live').addEventListener('click', showLive);
$('replay-play').addEventListener('click', () => setPlaying(!recording.playing));
$('replay-slider').addEventListener('input', () => void showRecordedFrame(Number($('replay-slider').value)));
$('token-form').addEventListener('submit', (event) => {
  event.preventDefault();
  token = $('token-input').value.trim();
  sessionStorage.setItem('dopamine-token', token);
  $('token-form').hidden = true;
  connect();
});

connect();
