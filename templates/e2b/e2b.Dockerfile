# E2B template for swarm-bench agents: Node.js 22 with the agent bundle baked in.
# Same image as templates/e2b/template.ts, which scripts/build-e2b-template.ts builds with the SDK
# (E2B's v2 template build). With the E2B CLI v2 instead, from the repository root after
# `npm run build:agent`:
#   e2b template create swarm-bench-agent -d templates/e2b/e2b.Dockerfile --cpu-count 2 --memory-mb 512
# 2 vCPU / 512 MiB is the size the cost model prices (lib/cost/prices.ts, E2B_TEMPLATES.base); without
# the flags E2B picks its own default size. vCPUs must be 1 or even (<= 32), memory even and >= 128 MiB.
# The v1 command `e2b template build` is deprecated and no longer builds.
FROM node:22
RUN node --version
COPY dist/agent.cjs /home/user/agent.js
WORKDIR /home/user
