# syntax=docker/dockerfile:1
# The `stream` worker image: `docker build -t stream:local .`, then `docker run stream:local worker`.
# Two stages: the first builds the package and its dependencies into a virtual environment, the
# second copies only that environment onto a clean slim base and runs it as a non-root user.

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# ---- build ---------------------------------------------------------------------------------
FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1
RUN python -m venv /opt/stream
ENV PATH=/opt/stream/bin:$PATH
WORKDIR /src
# The metadata first, so that a change in the code alone does not reinstall every dependency.
COPY pyproject.toml README.md ./
COPY stream ./stream
RUN pip install --no-cache-dir .

# ---- runtime -------------------------------------------------------------------------------
FROM ${PYTHON_IMAGE} AS runtime
LABEL org.opencontainers.image.title="stream" \
      org.opencontainers.image.description="Real-time personalization on Kafka: fresh top-k on every click." \
      org.opencontainers.image.licenses="Apache-2.0"
# A fixed numeric uid/gid so that Kubernetes can check runAsNonRoot, and volumes can be chowned.
RUN groupadd --system --gid 10001 stream \
    && useradd --system --uid 10001 --gid stream --home-dir /var/lib/stream --shell /usr/sbin/nologin stream \
    && mkdir -p /var/lib/stream \
    && chown stream:stream /var/lib/stream
COPY --from=build /opt/stream /opt/stream
# In a container the HTTP views and /metrics must listen on every interface (the defaults, on
# purpose, are 127.0.0.1); the ports stay the defaults and are only exposed, not published.
# Views on every interface want a token: the worker starts only with STREAM_WEB_TOKEN (or
# STREAM_WEB_TRUSTED_NETWORK=true); the HEALTHCHECK's /health needs none.
ENV PATH=/opt/stream/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    MPLCONFIGDIR=/tmp/matplotlib \
    STREAM_WEB_HOST=0.0.0.0 \
    STREAM_METRICS_HOST=0.0.0.0 \
    STREAM_DATA_DIR=/var/lib/stream
WORKDIR /var/lib/stream
USER 10001:10001
EXPOSE 6066 9464
# Ready means: started, not rebalancing, every table recovered (GET /health answers 200; 503
# otherwise). Table recovery can take a while on a big changelog, hence the start period.
HEALTHCHECK --interval=15s --timeout=5s --start-period=90s --retries=3 \
    CMD ["python", "-c", "import os, sys, urllib.request; port = os.environ.get('STREAM_WEB_PORT', '6066'); sys.exit(0 if urllib.request.urlopen(f'http://127.0.0.1:{port}/health', timeout=4).status == 200 else 1)"]
ENTRYPOINT ["stream"]
CMD ["worker"]
