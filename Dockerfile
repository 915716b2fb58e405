# syntax=docker/dockerfile:1
#
# webex-scoped-tokens image.
#
#   docker build -t webex-scoped-tokens:0.1.0 .
#   docker run --rm -p 8080:8080 --read-only --tmpfs /tmp \
#     -e PUBLIC_URL=https://tokens.example.com -e CLIENT_ID=... -e CLIENT_SECRET=... \
#     -e REDIS_URL=redis://redis:6379 -e TOKEN_ENCRYPTION_KEY="$(openssl rand -base64 32)" \
#     webex-scoped-tokens:0.1.0
#
# The runtime stage holds production dependencies and the compiled app only
# (with the one-file CLI the service serves at /cli/webex-token.js, and
# `webex-token` on PATH),
# runs as a numeric non-root user, writes nothing outside /tmp (so it runs with
# a read-only root filesystem) and starts node directly as PID 1: the app
# handles SIGTERM itself (stops accepting, drains, closes Redis, exits 0).

# Pinned by exact tag; the same Node release as development and CI.
ARG NODE_IMAGE=node:20.20.2-bookworm-slim

# ---- build: dev dependencies, TypeScript -> dist/ ---------------------------
FROM ${NODE_IMAGE} AS build
WORKDIR /app
ENV npm_config_update_notifier=false npm_config_fund=false npm_config_audit=false
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts
COPY tsconfig.json tsconfig.build.json ./
COPY scripts/copy-assets.mjs scripts/build-cli.mjs ./scripts/
COPY src ./src
RUN npm run build

# ---- runtime: production dependencies + dist/ only --------------------------
FROM ${NODE_IMAGE} AS runtime
WORKDIR /app
ENV NODE_ENV=production \
    PORT=8080 \
    HOME=/tmp \
    npm_config_update_notifier=false npm_config_fund=false npm_config_audit=false
COPY package.json package-lock.json ./
# Files stay owned by root and read-only for the app user.
RUN npm ci --omit=dev --ignore-scripts \
 && npm cache clean --force \
 && rm -rf /root/.npm /tmp/*
COPY --from=build /app/dist ./dist
COPY config ./config
COPY bin ./bin
# The CLI on PATH: `docker run --rm IMAGE webex-token login --server URL --scope ...`.
RUN chmod 0755 bin/webex-token.js \
 && ln -s /app/bin/webex-token.js /usr/local/bin/webex-token

# Numeric user and group: Kubernetes can verify runAsNonRoot without a passwd entry.
USER 10001:10001
EXPOSE 8080

# /healthz is liveness only (no dependencies); readiness (/readyz) is the
# orchestrator's business. Exec form: no shell needed, PORT read by node.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD ["node", "-e", "const p=process.env.PORT||8080;const r=require('http').get({host:'127.0.0.1',port:p,path:'/healthz',timeout:4000},(s)=>process.exit(s.statusCode===200?0:1));r.on('error',()=>process.exit(1));r.on('timeout',()=>{r.destroy();process.exit(1);});"]

# A 32 MB young-generation semi-space: the poll path allocates a little per request, and the
# default (16 MB at most, grown slowly) spent about a tenth of the CPU in scavenges under
# polling load (docs/BENCHMARKS.md). `npm start`, scripts/prod-start-check.sh and the bench
# run this same command.
CMD ["node", "--max-semi-space-size=32", "dist/main.js"]
