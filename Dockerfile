# sfvopi-bot: `sfvopi-bot serve` on port 3000 (POST /slack/events, GET /healthz).
#
#   docker build -t sfvopi-bot .
#   docker run --env-file sfvopi.env -v "$PWD/orgs.yml:/config/orgs.yml:ro" \
#       -v sfvopi-data:/data -p 3000:3000 sfvopi-bot
#
# SQLite lives in the /data volume unless SFVOPI_DATABASE_URL names a PostgreSQL server.
# Socket Mode: add `sfvopi-bot socket` after the image name (no port to publish; the health
# check below asks its /healthz on PORT).
FROM python:3.12-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1

RUN set -eux; \
    groupadd --system --gid 10001 sfvopi; \
    useradd --system --uid 10001 --gid sfvopi --home-dir /data --no-create-home \
        --shell /usr/sbin/nologin sfvopi; \
    mkdir -p /data /config; \
    chown sfvopi:sfvopi /data

WORKDIR /src
COPY pyproject.toml README.md ./
COPY bot ./bot
COPY handlers ./handlers
RUN set -eux; \
    pip install --no-cache-dir ".[postgres]"; \
    sfvopi-bot --help > /dev/null; \
    python -c "import asyncpg, aiosqlite, bot.slack.app, handlers"; \
    cd /; \
    rm -rf /src

WORKDIR /data
ENV PORT=3000 \
    SFVOPI_ORGS_FILE=/config/orgs.yml \
    SFVOPI_DATABASE_URL=sqlite+aiosqlite:////data/sfvopi-bot.db
VOLUME ["/data"]
USER 10001:10001
EXPOSE 3000

HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('PORT', '3000'), timeout=3)"]

# Exec form: the bot is PID 1 and gets SIGTERM itself, finishing in-flight work before it exits.
CMD ["sfvopi-bot", "serve"]
