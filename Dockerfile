# One image for the gateway, the settlement worker and the one-shot migration (docker-compose.yml picks the command).
FROM node:20-bookworm-slim

WORKDIR /app

# Dependencies first, so a code change does not reinstall them. Dev dependencies are kept on purpose: the one-shot
# migrate service runs its scripts through tsx; the gateway and the worker run the compiled dist/ (npm run build).
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund && npm cache clean --force

COPY . .
RUN npm run build

# Production rules from here on (README "Configuration"): a container refuses the development JWT_SECRET of
# .env.example, or one shorter than 32 bytes, and DEMO_MODE. Set after `npm ci`, which would skip dev dependencies.
ENV NODE_ENV=production

USER node
# 8080: the gateway's API, WebSocket and /metrics; 9465: a gateway's own metrics (GATEWAY_METRICS_PORT); 9464: the
# worker's /healthz and /metrics (WORKER_METRICS_PORT).
EXPOSE 8080 9464 9465
CMD ["node", "--enable-source-maps", "dist/gateway/main.js"]
