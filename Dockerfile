# Lab image: ROS 2 Jazzy, Node.js 20, onnxruntime-node with its CUDA provider, rclnodejs built
# against the image's ROS 2. Not built in this project's CI (no Docker engine there): keep it
# correct by reading. Build:  docker build -t robo-dopamine .
# Run:    docker run --gpus all --net host -v $PWD/runs:/app/runs -v $PWD/certs:/app/certs:ro robo-dopamine serve --config lab.yaml
# With the host network the dashboard is on the lab network as soon as it binds a non-loopback
# address: give it dashboard.tls (certs/ above) and a token file, see docs/security.md.
FROM ros:jazzy-ros-base

ENV DEBIAN_FRONTEND=noninteractive
RUN apt-get update && apt-get install -y --no-install-recommends \
      ca-certificates curl gnupg ffmpeg python3 make g++ \
      ros-jazzy-control-msgs ros-jazzy-trajectory-msgs ros-jazzy-controller-manager-msgs \
      ros-jazzy-diagnostic-msgs ros-jazzy-sensor-msgs ros-jazzy-std-srvs \
    && mkdir -p /etc/apt/keyrings \
    && curl -fsSL https://deb.nodesource.com/gpgkey/nodesource-repo.gpg.key | gpg --dearmor -o /etc/apt/keyrings/nodesource.gpg \
    && echo "deb [signed-by=/etc/apt/keyrings/nodesource.gpg] https://deb.nodesource.com/node_20.x nodistro main" > /etc/apt/sources.list.d/nodesource.list \
    && apt-get update && apt-get install -y --no-install-recommends nodejs \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /app
COPY package.json package-lock.json .npmrc ./
# The CUDA build of onnxruntime-node: its install script fetches the CUDA 12 libraries.
RUN npm ci --omit=dev --ignore-scripts \
    && npm rebuild onnxruntime-node --onnxruntime-node-install-cuda=v12 --foreground-scripts
# rclnodejs must be built against the sourced ROS 2 of this image.
RUN bash -c "source /opt/ros/jazzy/setup.bash && npm install --no-save rclnodejs@2 --foreground-scripts"
COPY . .

ENTRYPOINT ["bash", "-c", "source /opt/ros/jazzy/setup.bash && exec node /app/bin/dopamine.js \"$@\"", "dopamine"]
CMD ["--help"]
