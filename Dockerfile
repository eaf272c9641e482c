# Switchyard image: compiled in a build stage, run from production dependencies only, as a non-root user.

FROM node:20-bookworm-slim AS build
WORKDIR /app
# The workspace manifests first, so the dependency layer is rebuilt only when they change.
COPY package.json package-lock.json ./
COPY packages/core/package.json packages/core/
COPY packages/sdk/package.json packages/sdk/
COPY packages/flagctl/package.json packages/flagctl/
COPY packages/server/package.json packages/server/
# --ignore-scripts: the prepare script builds, and the sources are not copied in yet.
RUN npm ci --no-audit --no-fund --ignore-scripts
COPY tsconfig.base.json ./
COPY packages ./packages
RUN npm run build && npm prune --omit=dev

FROM node:20-bookworm-slim
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=8080
WORKDIR /app
COPY --from=build /app/package.json ./package.json
# node_modules links the workspace packages (@switchyard/core) into ./packages.
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/packages ./packages
# The README's FLAGS_BOOTSTRAP_FILE=examples/flags.yaml works in the image too.
COPY examples ./examples
# The embedded store (no REDIS_URL) writes ./data; the unprivileged user must own it, and it is a
# volume so the flags outlive the container.
RUN mkdir -p /app/data && chown node:node /app/data
VOLUME ["/app/data"]
USER node
EXPOSE 8080
# Liveness only: /healthz answers while the process does, whatever the store's state.
HEALTHCHECK --interval=10s --timeout=3s --start-period=15s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 8080) + '/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
CMD ["node", "packages/server/dist/server.js"]
