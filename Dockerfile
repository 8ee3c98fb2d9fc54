# Examinator: a small image that runs the bot (long polling by default).
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
VOLUME ["/app/data"]
# Migrations run at start-up, before the first update.
CMD ["python", "-m", "bot", "run"]
