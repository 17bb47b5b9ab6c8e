FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY metrics_core ./metrics_core
COPY streams ./streams
RUN pip install --no-cache-dir .
EXPOSE 9640
CMD ["pulse", "worker"]
