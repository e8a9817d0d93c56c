# syntax=docker/dockerfile:1
# Node 24, the current LTS (Node 20 is past its end of life); the suite runs on 24 in .ci/run.
# Build stage: compile TypeScript with the dev dependencies.
FROM node:24-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci
COPY tsconfig.json tsconfig.build.json tsconfig.client.json ./
COPY scripts ./scripts
COPY src ./src
COPY bench ./bench
RUN npm run build

# Runtime stage: production dependencies only, non-root.
FROM node:24-bookworm-slim
ENV NODE_ENV=production
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev && npm cache clean --force
COPY --from=build /app/dist ./dist
# Static assets tsc does not copy: the demo configuration (the dashboard and the demo app are
# built into dist/web by npm run build).
COPY src/demo/demo-config.yaml ./dist/src/demo/demo-config.yaml
# Queued delivery's SQLite store (queue.path, ./data/queue.db by default): writable by the
# gateway's user, and a volume so that accepted messages outlive the container.
RUN mkdir -p /app/data && chown node:node /app/data && chmod 700 /app/data
VOLUME /app/data
USER node
EXPOSE 8080 9090
# The gateway's own liveness endpoint; no curl in the slim image, so Node makes the call.
HEALTHCHECK --interval=10s --timeout=3s --start-period=5s --retries=3 \
  CMD ["node", "-e", "require('http').get('http://127.0.0.1:8080/healthz', r => process.exit(r.statusCode === 200 ? 0 : 1)).on('error', () => process.exit(1))"]
STOPSIGNAL SIGTERM
# --max-semi-space-size=8: see docs/performance.md (the benchmark runs the gateway the same way).
ENTRYPOINT ["node", "--max-semi-space-size=8", "dist/src/main.js"]
CMD ["--config", "/etc/breakwater/gateway.yaml"]
