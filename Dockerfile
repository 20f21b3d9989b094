# opsbot's image for `fly deploy` (README › Deploying to Fly.io).
# Not built by the test suite (no Docker engine there): tests/test_deploy_config.py checks
# what it must contain, and runs its entrypoint script.
FROM python:3.11-slim

# sqlite3: every runbook phase drives the sqlite3 CLI, and preflight rehearses migrations here.
# ca-certificates and curl: HTTPS to Discord and Fly, and the flyctl download below.
RUN apt-get update \
 && apt-get install -y --no-install-recommends sqlite3 ca-certificates curl \
 && rm -rf /var/lib/apt/lists/*

# flyctl, pinned (bump deliberately) and checked against the release's checksums.txt.
ARG FLYCTL_VERSION=0.3.216
RUN set -eu; \
    case "$(dpkg --print-architecture)" in \
      amd64) arch=x86_64 ;; \
      arm64) arch=arm64 ;; \
      *) echo "no flyctl build for $(dpkg --print-architecture)" >&2; exit 1 ;; \
    esac; \
    tarball="flyctl_${FLYCTL_VERSION}_Linux_${arch}.tar.gz"; \
    release="https://github.com/superfly/flyctl/releases/download/v${FLYCTL_VERSION}"; \
    mkdir /tmp/flyctl && cd /tmp/flyctl; \
    curl -fsSLO "$release/$tarball"; \
    curl -fsSL "$release/checksums.txt" | grep " $tarball\$" | sha256sum -c -; \
    tar -xzf "$tarball"; \
    install -m 0755 flyctl /usr/local/bin/flyctl; \
    ln -s flyctl /usr/local/bin/fly; \
    cd / && rm -rf /tmp/flyctl; \
    fly version

# The bot's own user, with a fixed uid so files on the volume keep their owner across images.
RUN useradd --uid 10001 --user-group --create-home --shell /bin/sh opsbot \
 && mkdir -p /state \
 && chown opsbot:opsbot /state

WORKDIR /app
# Only what the package needs; no test extras.
COPY pyproject.toml README.md ./
COPY bot ./bot
COPY cogs ./cogs
COPY ops ./ops
RUN pip install --no-cache-dir . \
 && rm -rf build ./*.egg-info
COPY migrations ./migrations

ENV PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    HOME=/home/opsbot \
    MIGRATIONS_DIR=/app/migrations \
    STATE_DB=/state/opsbot.db

# Fly mounts a new volume owned by root. The entrypoint starts as root only to hand
# STATE_DB's directory to opsbot, then drops to opsbot for good (setpriv, from util-linux in
# the base image; --no-new-privs: no way back) before the bot starts. The bot, flyctl and the
# tokens never run as root. Started as any other user (docker run --user), it just runs.
ENTRYPOINT ["/bin/sh", "-c", "set -e; if [ \"$(id -u)\" = 0 ]; then d=$(dirname \"${STATE_DB:-/state/opsbot.db}\"); mkdir -p \"$d\"; chown -R opsbot:opsbot \"$d\"; exec setpriv --reuid=opsbot --regid=opsbot --init-groups --no-new-privs \"$@\"; fi; exec \"$@\"", "opsbot-entrypoint"]
CMD ["python", "-m", "bot"]
