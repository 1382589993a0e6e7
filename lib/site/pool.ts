/**
 * A pool of worker threads (node:worker_threads) that render the site's page tasks in parallel. A task is plain data and its page a pure function of it
 * (lib/site/render.ts), so the pool changes when a page is done, never what it holds.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { SwarmBenchError } from '../errors.ts';
import type { PageTask, RenderedPage } from './render.ts';
import type { FromRenderWorker, ToRenderWorker } from './worker.ts';

/** Renders page tasks; close() ends whatever it started. */
export interface PageRenderer {
  render(task: PageTask): Promise<RenderedPage>;
  close(): Promise<void>;
}

/**
 * The worker program: the sources' lib/site/worker.ts (loaded through tsx), or its compiled copy
 * dist/site-worker.js beside the built CLI's chunks (scripts/build-cli.ts). Undefined when it is
 * not there, as in a bundle built without it (the Lambda functions): pages then render in-thread.
 */
export function renderWorkerUrl(): URL | undefined {
  const url = import.meta.url.endsWith('.ts')
    ? new URL('./worker.ts', import.meta.url)
    : new URL('./site-worker.js', import.meta.url);
  return url.protocol === 'file:' && existsSync(fileURLToPath(url)) ? url : undefined;
}

/** A TypeScript worker program loads through tsx's loader (as the sources run); a compiled one needs nothing. */
function workerExecArgv(url: URL): string[] {
  if (!url.pathname.endsWith('.ts')) return [];
  return ['--import', pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href];
}

interface Slot {
  worker: Worker;
  /** Tasks sent to it and not answered yet. */
  inFlight: number;
}

/**
 * Tasks each worker holds at once: the one it renders and the next, already in its port, so it
 * never waits for the generating thread (busy rendering a page itself) to hand it more.
 */
export const PER_WORKER = 2;

/**
 * `size` worker threads; tasks queue and go to the least busy worker (each renders its tasks one
 * after the other). A worker that fails (its program does not load, or it dies) fails the tasks
 * it holds and every later one: the site is then not generated, rather than generated in part.
 */
export function workerRenderer(size: number, url: URL): PageRenderer {
  const waiting: Array<{ id: number; task: PageTask }> = [];
  const pending = new Map<
    number,
    { resolve: (page: RenderedPage) => void; reject: (error: Error) => void }
  >();
  let broken: Error | undefined;
  let closing = false;
  let nextId = 0;
  const slots: Slot[] = [];
  const fail = (error: Error) => {
    broken ??= error;
    for (const entry of pending.values()) entry.reject(broken);
    pending.clear();
    waiting.length = 0;
  };
  const dispatch = () => {
    for (;;) {
      const slot = [...slots].sort((a, b) => a.inFlight - b.inFlight)[0];
      if (slot === undefined || slot.inFlight >= PER_WORKER || waiting.length === 0) return;
      const next = waiting.shift()!;
      slot.inFlight += 1;
      slot.worker.postMessage(next satisfies ToRenderWorker);
    }
  };
  for (let index = 0; index < size; index++) {
    const worker = new Worker(url, { execArgv: workerExecArgv(url) });
    const slot: Slot = { worker, inFlight: 0 };
    worker.on('message', (message: FromRenderWorker) => {
      const entry = pending.get(message.id);
      slot.inFlight -= 1;
      if (entry !== undefined) {
        pending.delete(message.id);
        if ('page' in message) entry.resolve(message.page);
        else entry.reject(new SwarmBenchError(`a page failed to render: ${message.error}`));
      }
      dispatch();
    });
    worker.on('error', (error) =>
      fail(new SwarmBenchError(`a site render worker failed: ${error.message}`, { cause: error })),
    );
    worker.on('exit', (code) => {
      if (!closing && (code !== 0 || pending.size > 0))
        fail(new SwarmBenchError(`a site render worker stopped (exit code ${code})`));
    });
    slots.push(slot);
  }
  return {
    render(task) {
      if (broken !== undefined) return Promise.reject(broken);
      const id = nextId++;
      const page = new Promise<RenderedPage>((resolve, reject) => pending.set(id, { resolve, reject }));
      waiting.push({ id, task });
      dispatch();
      return page;
    },
    async close() {
      closing = true;
      await Promise.all(slots.map((slot) => slot.worker.terminate()));
    },
  };
}
