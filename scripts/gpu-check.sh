#!/usr/bin/env bash
# The GPU path, checked on a machine that has a GPU, in at most 5 minutes:
#   1. dopamine doctor --json     what starts here and what engine.executionProvider picks
#   2. npm run bench:providers    the learner update, GRM-tiny scoring and training on every
#                                 provider that starts, with the CPU as the peer
#   3. npm run bench:grm          the reward model's fused step from raw frames, on every provider
#                                 doctor saw start
#   4. engine/provider-agreement  every GPU provider's GRM-tiny hops within HOP_TOLERANCE of the CPU's
# Run it in a checkout after `npm ci` and the CUDA install (docs/gpu.md), or in the gpu image:
#   docker run --rm --gpus all --entrypoint scripts/gpu-check.sh robo-dopamine:gpu
# Usage: scripts/gpu-check.sh [OUT_DIR]   (default: a new temporary folder; printed at the end)
# Environment: HOP_TOLERANCE (default: engine/provider-agreement.ts's, 0.01), DOCTOR_CONFIG (a
# configuration for doctor), CPU_ONLY_OK=1 (pass without a GPU provider: to try the script itself).
# Exit 0 when doctor passes, both benchmarks run and the GPU agrees; 1 otherwise. Committed
# bench/results files are left as they were.
set -euo pipefail
cd "$(dirname "$0")/.."

out="${1:-$(mktemp -d "${TMPDIR:-/tmp}/gpu-check-XXXXXX")}"
mkdir -p "$out"
deadline=$((SECONDS + 300))
failed=()

# Runs a step with what is left of the 5 minutes; its status is returned, not fatal.
step() {
  local left=$((deadline - SECONDS))
  if ((left <= 5)); then
    echo "gpu-check: no time left for: $*" >&2
    return 124
  fi
  timeout --kill-after=5 "$left" "$@"
}

echo "== doctor"
doctor_args=(doctor --json)
[[ -n "${DOCTOR_CONFIG:-}" ]] && doctor_args+=(--config "$DOCTOR_CONFIG")
if step node bin/dopamine.js "${doctor_args[@]}" >"$out/doctor.json" 2>"$out/doctor.log"; then
  echo "doctor: ok"
else
  failed+=(doctor)
  grep '^error:' "$out/doctor.log" >&2 || tail -n 5 "$out/doctor.log" >&2
fi
node -e 'const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
for (const c of r.checks) if (["cpu", "cuda", "webgpu", "engine.executionProvider"].includes(c.name)) console.log(`  ${c.name}: ${c.detail}`);' \
  "$out/doctor.json" || true

echo "== bench:providers"
if ! step npm run --silent bench:providers -- --out "$out" --suffix gpu-check --runs 20 2>&1 | tee "$out/providers.log"; then
  failed+=(bench:providers)
fi

echo "== bench:grm"
# On every provider doctor saw start (the CPU always); each run's JSON goes to the out folder,
# the committed CPU figures in bench/results stay as they are.
providers=$(node -e 'const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
console.log(r.checks.filter((c) => ["cpu", "cuda", "webgpu"].includes(c.name) && c.ok).map((c) => c.name).join(" ") || "cpu");' \
  "$out/doctor.json" 2>/dev/null || echo cpu)
for provider in $providers; do
  if step npm run --silent bench:grm -- --provider "$provider" --out "$out/grm-$provider.json" >"$out/grm-$provider.log" 2>&1; then
    node -e 'const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
console.log(`${process.argv[2]}: fused step median ${r.fusedStepMs.median} ms, batched scoring ${r.batchedScoring.stepsPerSecond} steps/s`);' \
      "$out/grm-$provider.json" "$provider"
  else
    failed+=("bench:grm $provider")
    tail -n 5 "$out/grm-$provider.log" >&2
  fi
done

echo "== agreement"
agreement=(npx --no-install tsx engine/provider-agreement.ts "$out/providers-gpu-check.json")
[[ -n "${HOP_TOLERANCE:-}" ]] && agreement+=(--hop-tolerance "$HOP_TOLERANCE")
[[ "${CPU_ONLY_OK:-0}" == 1 ]] && agreement+=(--cpu-only-ok)
if [[ ! -f "$out/providers-gpu-check.json" ]] || ! step "${agreement[@]}" | tee "$out/agreement.txt"; then
  failed+=(agreement)
fi

echo "outputs: $out ($((SECONDS)) s)"
if ((${#failed[@]} > 0)); then
  echo "gpu-check: FAILED: ${failed[*]}" >&2
  exit 1
fi
echo "gpu-check: ok"
