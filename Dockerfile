# everynode image: one image, two processes. The first argument picks one:
#   docker run IMAGE webhook --tls-cert-file=... --tls-private-key-file=...
#   docker run IMAGE controller --leader-elect=true ...
# Build: docker build -t everynode/everynode:0.1.0 .
# (Not built in this repository's CI: the development machine has no container engine.)

# 1. Compile TypeScript with the full (dev) dependency set.
FROM node:24-slim AS build
WORKDIR /src
COPY package.json package-lock.json .npmrc ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npx tsc -p tsconfig.build.json

# 2. Production dependencies only, installed from the same lock file.
FROM node:24-slim AS prod-deps
WORKDIR /app
COPY package.json package-lock.json .npmrc ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force

# 3. Runtime: compiled JavaScript, production node_modules, nothing else.
FROM node:24-slim
ENV NODE_ENV=production
WORKDIR /app
COPY --from=prod-deps /app/node_modules ./node_modules
# package.json carries "type": "module", which node needs to load dist/ as ES modules.
COPY package.json ./
COPY --from=build /src/dist ./dist
# The script is executable in git, and COPY keeps the mode.
COPY hack/image-entrypoint.sh /usr/local/bin/everynode
# The base image's "node" user, by number so runAsNonRoot can verify it.
USER 1000:1000
EXPOSE 9443 8080 8081
ENTRYPOINT ["/usr/local/bin/everynode"]
CMD ["webhook"]
