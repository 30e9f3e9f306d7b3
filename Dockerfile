# syntax=docker/dockerfile:1
#
# rollgate's image: the agent (`rollgate run`), and `rollgate demo`, `sim`,
# `plan`, `validate` and `audit` beside it. The sources are TypeScript that
# Node 24 runs through its type stripping, so there is no compile step:
# the image holds the sources and the production dependencies, nothing else.
#
# Base: the official Node.js image at the version package.json pins for
# development (devDependencies "node"), Debian bookworm, slim; the two
# stages use the same one (test/deploy/dockerfile.test.ts checks both). For
# a release, pin it by digest as well, from
#   docker buildx imagetools inspect node:24.9.0-bookworm-slim
# as FROM node:24.9.0-bookworm-slim@sha256:<index digest>.

# ---- build: the production dependencies, exactly as the lock file has them
FROM node:24.9.0-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
# --omit=dev: no TypeScript, ESLint or test tools in the image.
# --ignore-scripts: no production dependency has an install script (the
# test checks package-lock.json), so nothing needs to run at install.
RUN npm ci --omit=dev --ignore-scripts && npm cache clean --force

# ---- runtime
FROM node:24.9.0-bookworm-slim AS runtime
# git (with its ssh client) is the agent's Git transport; ca-certificates
# lets git verify HTTPS remotes (node carries its own CA list, git does
# not); tini reaps the processes git leaves behind (ssh, remote helpers),
# which node as PID 1 would not, and forwards SIGTERM to node.
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates git openssh-client tini \
 && rm -rf /var/lib/apt/lists/*
# A numeric user, so Kubernetes can check runAsNonRoot; its home is the
# data directory, the one place it may write.
RUN groupadd --system --gid 10001 rollgate \
 && useradd --system --uid 10001 --gid 10001 --home-dir /var/lib/rollgate --no-create-home --shell /usr/sbin/nologin rollgate \
 && mkdir -p /var/lib/rollgate \
 && chown 10001:10001 /var/lib/rollgate \
 && chmod 0700 /var/lib/rollgate
WORKDIR /app
# Everything under /app is copied as root and stays root's: the agent can
# read its code but not change it.
COPY --from=build /app/node_modules ./node_modules
COPY package.json package-lock.json ./
COPY bin ./bin
COPY agent ./agent
COPY schemas ./schemas
COPY sim ./sim
COPY examples-repo ./examples-repo
# HOME and TMPDIR point at the data directory too: git and ssh read HOME,
# and git and the audit write temporary files under TMPDIR.
ENV NODE_ENV=production \
    HOME=/var/lib/rollgate \
    TMPDIR=/var/lib/rollgate
USER 10001:10001
VOLUME ["/var/lib/rollgate"]
# /healthz, /readyz, /metrics and the forge webhooks.
EXPOSE 8080
ENTRYPOINT ["/usr/bin/tini", "--", "node", "agent/cli/main.ts"]
CMD ["run", "--config", "/etc/rollgate/config.yaml"]
