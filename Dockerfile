# One image for the gateway, the settlement worker and the one-shot migration (docker-compose.yml picks the command).
FROM node:20-bookworm-slim

WORKDIR /app

# Dependencies first, so a code change does not reinstall them. Dev dependencies are kept on purpose: the services
# run TypeScript through tsx, and the migrate service uses the same image.
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund && npm cache clean --force

COPY . .

USER node
EXPOSE 8080
CMD ["npx", "tsx", "gateway/main.ts"]
