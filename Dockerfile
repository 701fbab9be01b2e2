# Autopack backend image: the API on port 8000, state under /data.
# Build and run with docker compose; see docs/DOCKER_DEPLOYMENT_GUIDE.md.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app

# Dependencies first (a layer that survives code changes), every one hash-checked.
COPY requirements.lock.txt ./
RUN pip install --require-hashes -r requirements.lock.txt

# The package itself: its dependencies are already pinned above, and the build
# backend comes from the lock too, so nothing unpinned is downloaded.
COPY pyproject.toml README.md ./
COPY src ./src
RUN pip install --no-deps --no-build-isolation .

# Run as an unprivileged user that owns only the workspace.
RUN useradd --create-home --uid 10001 autopack \
    && mkdir /data \
    && chown autopack:autopack /data
USER autopack
WORKDIR /data

# Inside the container the API must listen on all interfaces; publish it on the
# host's loopback only (docker-compose.yml does).
ENV AUTOPACK_WORKSPACE=/data \
    AUTOPACK_HOST=0.0.0.0 \
    AUTOPACK_PORT=8000
EXPOSE 8000

# The slim image has no curl: probe /health with Python; a 503 raises, so it fails.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:' + os.environ.get('AUTOPACK_PORT', '8000') + '/health', timeout=4)"]

CMD ["sh", "-c", "autopack db upgrade && exec autopack serve"]
