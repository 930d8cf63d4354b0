# payflow container image. Usually run through docker-compose.yml (payflow + the official
# mongo image):  docker compose up --build
# Standalone, with no MONGO_URI, payflow falls back to its embedded SecantusDB server.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PAYFLOW_EMBEDDED__DATA_DIR=/var/lib/payflow

WORKDIR /app

# Dependencies first, in their own layer, so editing the source does not reinstall them.
# requirements.lock pins every package by hash, including the build backend (hatchling,
# editables), which is why payflow itself can then be installed without build isolation
# and without touching the network for anything unpinned.
COPY requirements.lock ./
RUN pip install --require-hashes --no-deps -r requirements.lock

COPY . .
RUN pip install --no-deps --no-build-isolation . \
    && useradd --system --user-group --uid 10001 --home-dir /var/lib/payflow --create-home \
        --shell /usr/sbin/nologin payflow

USER payflow

EXPOSE 8000

# No curl in the slim image; urlopen raises on a non-2xx answer (503 = DB or worker down).
HEALTHCHECK --interval=10s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/health/ready', timeout=4)"]

CMD ["payflow", "serve", "--host", "0.0.0.0", "--port", "8000"]
