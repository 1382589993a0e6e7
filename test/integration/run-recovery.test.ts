/**
 * Runs and sandbox folders left behind by a process that died: heartbeats in the real embedded
 * store, abandoned runs closed by the next opener, and local sandbox folders of a dead owner swept
 * while those of a live owner (this process) stay.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { buildRunMeta } from '../../lib/bench/meta.ts';
import { buildPlan } from '../../lib/bench/plan.ts';
import { parseRunConfig } from '../../lib/config.ts';
import { closeAbandonedRuns, openStoreAndRecover } from '../../lib/run/recovery.ts';
import { LocalSandboxProvider } from '../../lib/sandbox/local.ts';
import { sweepLocalSandboxes } from '../../lib/sandbox/sweep.ts';
import { openEmbeddedStore } from '../../lib/store/embedded.ts';
import { AGENT_BUNDLE } from '../chaos/helpers.ts';

const ENVIRONMENT = {
  gitCommit: 'recovery',
  nodeVersion: process.version,
  machine: { platform: 'linux', arch: 'x64', cpus: 2, memoryGb: 4 },
};
const dirs: string[] = [];
async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'swarm-recovery-'));
  dirs.push(dir);
  return dir;
}
afterEach(async () => {
  for (const dir of dirs.splice(0)) await rm(dir, { recursive: true, force: true });
});

function meta(runId: string, startedAt: Date) {
  const config = parseRunConfig({ profile: 'quick', categories: ['trading'], scenarios: false });
  return buildRunMeta(runId, config, buildPlan(config), ENVIRONMENT, startedAt);
}

describe('heartbeats and abandoned runs', () => {
  it('a shared store closes only runs whose heartbeat is stale; a beat after that is refused', async () => {
    // Prepare
    const opened = await openEmbeddedStore({ dir: join(await tempDir(), 'store') });
    const t0 = new Date('2026-12-01T10:00:00.000Z');
    try {
      await opened.store.createRun(meta('fresh', t0));
      await opened.store.createRun(meta('stale', t0));
      await opened.store.createRun(meta('silent', t0));
      await opened.store.createRun({ ...meta('done', t0), status: 'completed' });
      expect(await opened.store.heartbeat('fresh', '2026-12-01T10:05:00.000Z')).toBe('ok');
      expect(await opened.store.heartbeat('stale', '2026-12-01T10:01:00.000Z')).toBe('ok');

      // Act: 10:05:20, 30 s staleness: "fresh" beat 20 s ago, "stale" 4 min 20 s ago, "silent" never.
      const closed = await closeAbandonedRuns(opened.store, {
        now: () => new Date('2026-12-01T10:05:20.000Z'),
        staleAfterMs: 30_000,
      });

      // Assess
      expect(closed.map((c) => c.runId).sort()).toEqual(['silent', 'stale']);
      const stale = await opened.store.getRun('stale');
      expect(stale?.status).toBe('abandoned');
      expect(stale?.endedAt).toBe('2026-12-01T10:01:00.000Z');
      expect(stale?.reason).toMatch(/^abandoned: no heartbeat for more than 30 s/);
      expect((await opened.store.getRun('fresh'))?.status).toBe('running');
      expect((await opened.store.getRun('done'))?.status).toBe('completed');
      expect(await opened.store.heartbeat('stale', '2026-12-01T10:05:21.000Z')).toBe('not-running');
    } finally {
      await opened.close();
    }
  });

  it('the next opener of the embedded store (which holds its lock) closes every running run at once', async () => {
    // Prepare
    const dir = join(await tempDir(), 'store');
    const first = await openEmbeddedStore({ dir });
    await first.store.createRun(meta('orphan', new Date()));
    await first.store.heartbeat('orphan', new Date().toISOString());
    await first.close();
    const said: string[] = [];

    // Act
    const second = await openStoreAndRecover(dir, {
      tmpRoot: await tempDir(),
      say: (line) => said.push(line),
    });

    // Assess
    try {
      expect((await second.store.getRun('orphan'))?.status).toBe('abandoned');
      expect(said.join('\n')).toMatch(/run orphan was left running by a process that is gone/);
    } finally {
      await second.close();
    }
  });
});

describe('sweepLocalSandboxes', () => {
  it("removes the folders of a dead owner and of an expired detached sandbox, keeps a live owner's and foreign folders", async () => {
    // Prepare: a live sandbox of this process; a record of a process that has exited; an expired
    // detached record; a folder with no record at all.
    const root = await tempDir();
    const provider = new LocalSandboxProvider({ bundlePath: AGENT_BUNDLE, tmpRoot: root });
    const live = await provider.create({ timeoutMs: 60_000, metadata: {} });
    const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))']);
    const deadPid = Number(dead.stdout.toString());
    await writeFile(
      join(root, 'swarm-sandbox-local-00000000dead.owner.json'),
      JSON.stringify({ id: 'local-00000000dead', pid: deadPid, startTicks: 1 }),
    );
    await mkdir(join(root, 'swarm-sandbox-local-00000000dead'));
    await mkdir(join(root, 'swarm-sandbox-local-000000e0d000'));
    await writeFile(
      join(root, 'swarm-sandbox-local-000000e0d000.json'),
      JSON.stringify({ id: 'local-000000e0d000', expiresAt: Date.now() - 1 }),
    );
    await mkdir(join(root, 'swarm-sandbox-local-00000foreign'));

    // Act
    try {
      const swept = await sweepLocalSandboxes({ root });

      // Assess
      expect(swept.removed.sort()).toEqual(['local-00000000dead', 'local-000000e0d000']);
      expect((await readdir(root)).sort()).toEqual([
        'swarm-sandbox-local-00000foreign',
        `swarm-sandbox-${live.id}`,
        `swarm-sandbox-${live.id}.owner.json`,
      ]);
    } finally {
      await live.kill();
    }
    // A killed sandbox takes its record with it.
    expect(existsSync(join(root, `swarm-sandbox-${live.id}.owner.json`))).toBe(false);
  });
});
