# syntax=docker/dockerfile:1
# The lab image, two targets of one file:
#   gpu (default)  NVIDIA's CUDA 12 runtime with cuDNN 9 on Ubuntu 24.04, ROS 2 Jazzy, Node.js 20,
#                  onnxruntime-node with its CUDA 12 provider: run it with `docker run --gpus all`
#   cpu            the same on plain Ubuntu 24.04, without CUDA, for labs without an NVIDIA GPU
# Both: rclnodejs built against the image's ROS 2, ffmpeg, the non-root user `dopamine` (uid 1000),
# the run folder /app/runs as a volume, a health check against the dashboard.
# Not built in this project's CI (no Docker engine there): scripts/dockerfile.test.ts reads it.
#   docker build -t robo-dopamine:gpu .          docker build --target cpu -t robo-dopamine:cpu .
#   docker run --rm --gpus all robo-dopamine:gpu doctor      (what runs where, inside the image)
#   docker run --gpus all --net host -v $PWD/runs:/app/runs -v $PWD/certs:/app/certs:ro \
#     -v $PWD/lab.yaml:/app/lab.yaml:ro robo-dopamine:gpu serve --config lab.yaml
# With the host network the dashboard is on the lab network as soon as it binds a non-loopback
# address: give it dashboard.tls (certs/ above) and a token file, see docs/security.md.

# CUDA 12.x builds of onnxruntime run on any CUDA 12 minor version; NVIDIA's "cudnn" tags of CUDA
# 12 carry cuDNN 9. An older driver: --build-arg CUDA_IMAGE=nvidia/cuda:12.6.3-cudnn-runtime-ubuntu24.04
ARG CUDA_IMAGE=nvidia/cuda:12.8.1-cudnn-runtime-ubuntu24.04
ARG CPU_IMAGE=ubuntu:24.04
# The ROS 2 apt repository and its key, pinned and checked as the official ROS images install them.
ARG ROS_APT_SOURCE_VERSION=1.1.0
ARG ROS_APT_SOURCE_SHA256=35441f3092fd05773a3c397fab38661bec466584c7a1f1c05366579997cb5fe7

# ---- The system of both targets. The two system stages must stay the same but for their base
# (the Dockerfile test compares them): ROS 2 Jazzy (it targets Ubuntu 24.04) with the interface
# packages the bridge uses, Node.js 20 (Ubuntu's is 18), ffmpeg, the Vulkan loader for WebGPU.
FROM ${CPU_IMAGE} AS cpu-system
ARG ROS_APT_SOURCE_VERSION
ARG ROS_APT_SOURCE_SHA256
ARG DEBIAN_FRONTEND=noninteractive
ARG DOPAMINE_UID=1000
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
ENV LANG=C.UTF-8 LC_ALL=C.UTF-8 TZ=Etc/UTC
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates curl gnupg tzdata \
    && curl -fsSL -o /tmp/ros2-apt-source.deb \
      "https://github.com/ros-infrastructure/ros-apt-source/releases/download/${ROS_APT_SOURCE_VERSION}/ros2-apt-source_${ROS_APT_SOURCE_VERSION}.noble_all.deb" \
    && echo "${ROS_APT_SOURCE_SHA256}  /tmp/ros2-apt-source.deb" | sha256sum --strict --check \
    && apt-get install -y --no-install-recommends /tmp/ros2-apt-source.deb && rm /tmp/ros2-apt-source.deb \
    && mkdir -p /etc/apt/keyrings \
    && curl -fsSL https://deb.nodesource.com/gpgkey/nodesource-repo.gpg.key | gpg --dearmor -o /etc/apt/keyrings/nodesource.gpg \
    && echo "deb [signed-by=/etc/apt/keyrings/nodesource.gpg] https://deb.nodesource.com/node_20.x nodistro main" \
      > /etc/apt/sources.list.d/nodesource.list \
    && apt-get update && apt-get install -y --no-install-recommends \
      nodejs ffmpeg libvulkan1 \
      ros-jazzy-ros-base ros-jazzy-std-msgs ros-jazzy-std-srvs ros-jazzy-geometry-msgs ros-jazzy-sensor-msgs \
      ros-jazzy-trajectory-msgs ros-jazzy-control-msgs ros-jazzy-controller-manager-msgs ros-jazzy-diagnostic-msgs \
    && rm -rf /var/lib/apt/lists/* \
    && (userdel --remove ubuntu 2>/dev/null || true) \
    && useradd --uid "${DOPAMINE_UID}" --create-home --shell /bin/bash dopamine

FROM ${CUDA_IMAGE} AS gpu-system
ARG ROS_APT_SOURCE_VERSION
ARG ROS_APT_SOURCE_SHA256
ARG DEBIAN_FRONTEND=noninteractive
ARG DOPAMINE_UID=1000
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
ENV LANG=C.UTF-8 LC_ALL=C.UTF-8 TZ=Etc/UTC
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates curl gnupg tzdata \
    && curl -fsSL -o /tmp/ros2-apt-source.deb \
      "https://github.com/ros-infrastructure/ros-apt-source/releases/download/${ROS_APT_SOURCE_VERSION}/ros2-apt-source_${ROS_APT_SOURCE_VERSION}.noble_all.deb" \
    && echo "${ROS_APT_SOURCE_SHA256}  /tmp/ros2-apt-source.deb" | sha256sum --strict --check \
    && apt-get install -y --no-install-recommends /tmp/ros2-apt-source.deb && rm /tmp/ros2-apt-source.deb \
    && mkdir -p /etc/apt/keyrings \
    && curl -fsSL https://deb.nodesource.com/gpgkey/nodesource-repo.gpg.key | gpg --dearmor -o /etc/apt/keyrings/nodesource.gpg \
    && echo "deb [signed-by=/etc/apt/keyrings/nodesource.gpg] https://deb.nodesource.com/node_20.x nodistro main" \
      > /etc/apt/sources.list.d/nodesource.list \
    && apt-get update && apt-get install -y --no-install-recommends \
      nodejs ffmpeg libvulkan1 \
      ros-jazzy-ros-base ros-jazzy-std-msgs ros-jazzy-std-srvs ros-jazzy-geometry-msgs ros-jazzy-sensor-msgs \
      ros-jazzy-trajectory-msgs ros-jazzy-control-msgs ros-jazzy-controller-manager-msgs ros-jazzy-diagnostic-msgs \
    && rm -rf /var/lib/apt/lists/* \
    && (userdel --remove ubuntu 2>/dev/null || true) \
    && useradd --uid "${DOPAMINE_UID}" --create-home --shell /bin/bash dopamine

# ---- node_modules: the packages without dev dependencies, and rclnodejs built against ROS 2 Jazzy
# (it generates its message classes from the sourced ROS 2). The compilers stay in this stage.
FROM cpu-system AS build
ARG DEBIAN_FRONTEND=noninteractive
RUN apt-get update && apt-get install -y --no-install-recommends g++ make python3 \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY package.json package-lock.json .npmrc ./
RUN npm ci --omit=dev --ignore-scripts
RUN source /opt/ros/jazzy/setup.bash \
    && npm install --no-save --omit=dev --foreground-scripts rclnodejs@2

# ---- onnxruntime-node's CUDA 12 provider libraries, which .npmrc keeps `npm ci` from downloading.
# The flag must be --onnxruntime-node-install=cuda12: it overrides .npmrc's `skip`, while the older
# --onnxruntime-node-install-cuda=v12 is read after it and installs nothing. The test makes a
# download that did not happen fail the build here, not at a lab's first run.
FROM build AS cuda-provider
RUN npm rebuild onnxruntime-node --onnxruntime-node-install=cuda12 --foreground-scripts \
    && test -f node_modules/onnxruntime-node/bin/napi-v6/linux/x64/libonnxruntime_providers_cuda.so

# ---- cpu: for labs without an NVIDIA GPU; engine.executionProvider auto runs on the CPU.
FROM cpu-system AS cpu
WORKDIR /app
COPY --from=build /app/node_modules ./node_modules
COPY . .
RUN mkdir -p runs && chown dopamine:dopamine runs
USER dopamine
VOLUME ["/app/runs"]
EXPOSE 8080
# The dashboard's page needs no token. Another dashboard.port, host or https: -e DOPAMINE_HEALTH_URL=...
ENV DOPAMINE_HEALTH_URL=http://127.0.0.1:8080/
HEALTHCHECK --interval=30s --timeout=5s --start-period=5m --retries=3 CMD curl -fsSk -o /dev/null "$DOPAMINE_HEALTH_URL" || exit 1
ENTRYPOINT ["bash", "-c", "source /opt/ros/jazzy/setup.bash && exec node /app/bin/dopamine.js \"$@\"", "dopamine"]
CMD ["--help"]

# ---- gpu, the default target: engine.executionProvider auto runs on CUDA under --gpus all.
FROM gpu-system AS gpu
# graphics: the driver's Vulkan part too, which the WebGPU provider reaches the GPU through.
ENV NVIDIA_DRIVER_CAPABILITIES=compute,utility,graphics
WORKDIR /app
COPY --from=cuda-provider /app/node_modules ./node_modules
COPY . .
RUN mkdir -p runs && chown dopamine:dopamine runs
USER dopamine
VOLUME ["/app/runs"]
EXPOSE 8080
# The dashboard's page needs no token. Another dashboard.port, host or https: -e DOPAMINE_HEALTH_URL=...
ENV DOPAMINE_HEALTH_URL=http://127.0.0.1:8080/
HEALTHCHECK --interval=30s --timeout=5s --start-period=5m --retries=3 CMD curl -fsSk -o /dev/null "$DOPAMINE_HEALTH_URL" || exit 1
ENTRYPOINT ["bash", "-c", "source /opt/ros/jazzy/setup.bash && exec node /app/bin/dopamine.js \"$@\"", "dopamine"]
CMD ["--help"]
