# orka-gateway: the sources bundled into dist/ (scripts/build.ts), run on Node 24 beside the
# production dependencies that the bundle leaves out (Pyodide, QuickJS's wasm, ioredis).
FROM node:24-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts
COPY bin ./bin
COPY src ./src
COPY scripts/build.ts ./scripts/
RUN node scripts/build.ts

FROM node:24-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
# --omit=dev also leaves out the `node` devDependency (a pinned Node for npm scripts): the image is Node 24
RUN npm ci --omit=dev --ignore-scripts && npm cache clean --force

FROM node:24-slim
ENV NODE_ENV=production
# glibc's malloc keeps its mmap threshold fixed, so that large bodies' memory goes back; V8's young
# generation is capped in ENTRYPOINT (both: src/memory.ts)
ENV MALLOC_MMAP_THRESHOLD_=131072
WORKDIR /app
# owned by root and read-only to the gateway; it writes only to /tmp (an emptyDir in k8s/)
COPY --from=deps /app/node_modules ./node_modules
COPY package.json ./
COPY --from=build /app/dist ./dist
# numeric, so that runAsNonRoot can verify it without an /etc/passwd entry
USER 10001:10001
EXPOSE 8080
ENTRYPOINT ["node", "--max-semi-space-size=32", "dist/orka-gateway.js"]
CMD ["serve"]
