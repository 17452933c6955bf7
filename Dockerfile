# newsmon daemon image: `docker build -t newsmon .`
# SQLite lives under the /data volume; set NEWSMON_DATABASE_URL for PostgreSQL (compose.yaml).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    NEWSMON_CONFIG=/etc/newsmon/config.yaml

WORKDIR /app
# Every package pinned by version and hash; then newsmon alone, built with the pinned setuptools.
COPY requirements/runtime.txt ./requirements/
RUN pip install --require-hashes -r requirements/runtime.txt
COPY pyproject.toml README.md ./
COPY crawler ./crawler
COPY jobs ./jobs
COPY storage ./storage
RUN pip install --no-deps --no-build-isolation . \
    && useradd --system --uid 10001 --home-dir /data --shell /usr/sbin/nologin newsmon \
    && mkdir -p /data /etc/newsmon \
    && chown newsmon:newsmon /data

# The shipped config keeps its SQLite file next to itself; the image points it at the volume.
COPY config.yaml /etc/newsmon/config.yaml
ENV NEWSMON_DATABASE_URL=sqlite:////data/newsmon.db

USER newsmon
WORKDIR /data
VOLUME ["/data"]

# `docker run --init` (or `init: true` in compose) reaps the crawl children's orphans.
HEALTHCHECK --interval=60s --timeout=5s --start-period=30s \
    CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8787/healthz', timeout=4)"
ENTRYPOINT ["newsmon"]
CMD ["run", "--health-port", "8787"]
