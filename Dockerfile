# syntax=docker/dockerfile:1
# taskstream worker image: one Faust worker serving the REST/WebSocket API and
# running the stream agents.
#
#   docker build -t taskstream:dev .
#   docker run --rm -p 6066:6066 --env-file .env taskstream:dev
#
# The build stage installs the project and its runtime dependencies into a
# virtualenv; the runtime stage copies only that virtualenv, so compilers, pip
# caches and the source tree never reach the final image.

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
WORKDIR /src
# .dockerignore admits only packaging metadata and the five packages.
COPY . .
# A plain (non-editable) install: the runtime stage does not get /src.
RUN pip install . \
 && pip check

FROM ${PYTHON_IMAGE} AS runtime
LABEL org.opencontainers.image.title="taskstream" \
      org.opencontainers.image.description="Event-driven task service (Faust worker with REST/WebSocket API)" \
      org.opencontainers.image.licenses="MIT"
# Numeric IDs so Kubernetes can verify runAsNonRoot without reading /etc/passwd.
RUN groupadd --system --gid 10001 taskstream \
 && useradd --system --uid 10001 --gid 10001 --no-create-home \
      --home-dir /nonexistent --shell /usr/sbin/nologin taskstream \
 && mkdir -p /var/lib/taskstream \
 && chown 10001:10001 /var/lib/taskstream
COPY --from=build /opt/venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    WEB_BIND=0.0.0.0 \
    WEB_PORT=6066 \
    DATA_DIR=/var/lib/taskstream
WORKDIR /var/lib/taskstream
USER 10001:10001
EXPOSE 6066
# Python's stdlib only: the slim image has no curl, and we do not add one.
# urlopen raises on connection errors and on 4xx/5xx, so any failure exits 1.
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
  CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/health' % os.environ.get('WEB_PORT', '6066'), timeout=4)"]
ENTRYPOINT ["taskstream"]
CMD ["worker", "-l", "info"]
