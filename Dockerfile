# Examinator: a small image that runs the bot: long polling by default, a webhook server
# when WEBHOOK_URL is set (docker-compose.yml; the README's "Running it at scale").
FROM python:3.11-slim AS build
WORKDIR /app
COPY pyproject.toml README.md ./
COPY bot ./bot
RUN python -m venv /venv && /venv/bin/pip install --no-cache-dir .

FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PATH=/venv/bin:$PATH
WORKDIR /app
COPY --from=build /venv /venv
COPY bot ./bot
COPY locales ./locales
# Catalogs are compiled at build time: the running user cannot write into /app.
RUN python -c "from bot.app import compile_catalogs; compile_catalogs()" \
    && useradd --system --uid 10001 --home-dir /app examinator \
    && mkdir -p /app/data && chown examinator /app/data
USER examinator
# The SQLite file (embedded default) and the kept statement documents and exam works.
VOLUME ["/app/data"]
# The webhook server (WEBHOOK_PORT) and /healthz + /metrics (METRICS_PORT, when set).
EXPOSE 8080 9090
# Healthy while /healthz answers 200 (the database answers, the outbox sender runs).
# Without METRICS_PORT there is nothing to ask, and the check always passes.
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import os, sys, urllib.request; port = os.environ.get('METRICS_PORT', '0') or '0'; sys.exit(0) if port == '0' else urllib.request.urlopen(f'http://127.0.0.1:{port}/healthz', timeout=4)"]
# Migrations run at start-up, before the first update.
CMD ["python", "-m", "bot", "run"]
