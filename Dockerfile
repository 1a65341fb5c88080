# swarmq image: one image for the coordinator and for agent hosts.
# The TypeScript sources run through tsx (a runtime dependency), so there is
# no build step; bin/swarmq.js registers tsx and starts src/cli/main.ts.
FROM node:24-slim

WORKDIR /app
ENV NODE_ENV=production
# Inside a container the API must listen beyond loopback (swarmq's default is 127.0.0.1).
ENV SWARMQ_HOST=0.0.0.0

# Dependencies first, so this layer is cached until the lockfile changes.
# --ignore-scripts: swarmq must install and run without any install scripts.
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts --omit=dev \
 && npm cache clean --force

# The sources stay owned by root and read-only for the runtime user.
COPY . .

USER node

EXPOSE 3000

# Exec form, so SIGTERM reaches node directly and agent hosts drain.
ENTRYPOINT ["node", "bin/swarmq.js"]
CMD ["start"]
