# syntax=docker/dockerfile:1
# One image for the service and every job target this repository ships:
#   service: queue-manager serve --host 0.0.0.0 --port 8000   (the default command)
#   job:     python -m app.workers <target>                   (set by the Kubernetes launcher)

# --- builder: the project's wheel (runtime dependencies only; dev extras are never built) ---
FROM python:3.11-slim AS builder
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
COPY pyproject.toml README.md ./
COPY app ./app
RUN pip wheel --no-deps --wheel-dir /wheels .

# --- runtime: installs that wheel and its runtime dependencies; no sources, no tests ---
FROM python:3.11-slim AS runtime
ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    DATA_DIR=/data
RUN groupadd --system --gid 10001 app \
 && useradd --system --uid 10001 --gid 10001 --home-dir /home/app --create-home app \
 && mkdir -p /data && chown 10001:10001 /data
COPY --from=builder /wheels /tmp/wheels
RUN pip install /tmp/wheels/*.whl && rm -rf /tmp/wheels
WORKDIR /home/app
USER 10001:10001
EXPOSE 8000
CMD ["queue-manager", "serve", "--host", "0.0.0.0", "--port", "8000"]
