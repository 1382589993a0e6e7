# E2B template for swarm-bench agents: Node.js 22 with the agent bundle baked in.
# Same image as templates/e2b/template.ts (scripts/build-e2b-template.ts builds that one with the SDK).
# With the E2B CLI, from the repository root after `npm run build:agent`:
#   e2b template build --name swarm-bench-agent --dockerfile templates/e2b/e2b.Dockerfile
FROM node:22
RUN node --version
COPY dist/agent.cjs /home/user/agent.js
WORKDIR /home/user
