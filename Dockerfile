# The image of every Pulse process (docker-compose.yml, deploy/k8s): `pulse <command>`.
# Stage 1 compiles the per-event modules with mypyc (setup.py) into a wheel: it needs a C compiler.
FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN apt-get update \
    && apt-get install -y --no-install-recommends gcc libc6-dev \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY pyproject.toml setup.py README.md ./
COPY metrics_core ./metrics_core
COPY streams ./streams
RUN pip wheel --no-deps --wheel-dir /wheels .

# Stage 2: the runtime, without the compiler.
FROM python:3.11-slim
ENV PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
COPY --from=build /wheels /wheels
RUN pip install /wheels/*.whl \
    && rm -rf /wheels \
    && useradd --system --uid 10001 --create-home --home-dir /home/pulse pulse
# Faust keeps a small <app_id>-data directory in the working directory: the user's home.
WORKDIR /home/pulse
USER 10001
# 9640 exporter /metrics /healthz /livez, 9641 worker /healthz, 8640 gateway
EXPOSE 9640 9641 8640
CMD ["pulse", "worker"]
