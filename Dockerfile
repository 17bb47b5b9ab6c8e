# The image of every Pulse process (docker-compose.yml, deploy/k8s): `pulse <command>`.
FROM python:3.11-slim
ENV PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
COPY pyproject.toml README.md ./
COPY metrics_core ./metrics_core
COPY streams ./streams
RUN pip install . \
    && useradd --system --uid 10001 --create-home --home-dir /home/pulse pulse
# Faust keeps a small <app_id>-data directory in the working directory: the user's home.
WORKDIR /home/pulse
USER 10001
# 9640 exporter /metrics /healthz /livez, 9641 worker /healthz, 8640 gateway
EXPOSE 9640 9641 8640
CMD ["pulse", "worker"]
