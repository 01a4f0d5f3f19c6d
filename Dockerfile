# syntax=docker/dockerfile:1
# Attune service image: a uv-built virtual environment on Debian slim, run as a non-root user.
# Build: docker build -t attune .   Run alone: docker compose up   (docs/deployment.md)

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
COPY --from=ghcr.io/astral-sh/uv:0.13.9 /uv /uvx /bin/
# Compile bytecode now (the runtime user cannot write it); copy, do not hard-link, from the
# cache mount; use the image's Python, never a downloaded one.
ENV UV_COMPILE_BYTECODE=1 UV_LINK_MODE=copy UV_PYTHON_DOWNLOADS=never \
    UV_PROJECT_ENVIRONMENT=/opt/attune
WORKDIR /src
# Dependencies first: this layer is reused until uv.lock changes.
COPY pyproject.toml uv.lock README.md LICENSE ./
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --locked --no-dev --no-install-project
# Then the project itself, as a wheel (not editable): the wheel carries the dashboard
# (pyproject.toml, hatch force-include "dashboard" -> attune/_dashboard).
COPY service ./service
COPY dashboard ./dashboard
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --locked --no-dev --no-editable

FROM ${PYTHON_IMAGE} AS runtime
RUN groupadd --system --gid 10001 attune \
    && useradd --system --uid 10001 --gid attune --home-dir /var/lib/attune --create-home \
       --shell /usr/sbin/nologin attune
COPY --from=build /opt/attune /opt/attune
ENV PATH=/opt/attune/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    ATTUNE_DATA_DIR=/var/lib/attune
USER attune:attune
WORKDIR /var/lib/attune
# SQLite database and secret key (the default, single-instance deployment).
VOLUME ["/var/lib/attune"]
EXPOSE 8000
# Slim images have no curl: ask /healthz (liveness and database) with Python itself.
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2)"]
# SIGTERM lets uvicorn close sockets (collectors and browsers reconnect) and, with Redis,
# hand this instance's session leases back at once.
STOPSIGNAL SIGTERM
CMD ["attune", "serve", "--host", "0.0.0.0", "--port", "8000"]
