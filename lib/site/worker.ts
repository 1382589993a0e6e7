/**
 * A site render worker (lib/site/pool.ts): renders page tasks (lib/site/render.ts) one at a time,
 * in the order they came, and answers each with its page or its error. Runs only in a worker thread.
 */
import { parentPort } from 'node:worker_threads';
import { type PageTask, renderPage } from './render.ts';

/** A task as the pool sends it, and the worker's answer. */
export type ToRenderWorker = { id: number; task: PageTask };
export type FromRenderWorker =
  | { id: number; page: Awaited<ReturnType<typeof renderPage>> }
  | { id: number; error: string };

if (parentPort === null) throw new Error('lib/site/worker.ts runs only in a worker thread');
const port = parentPort;
// One task after the other (the pool sends the next before this one is done).
let queue: Promise<void> = Promise.resolve();
port.on('message', ({ id, task }: ToRenderWorker) => {
  queue = queue.then(async () => {
    try {
      port.postMessage({ id, page: await renderPage(task) } satisfies FromRenderWorker);
    } catch (error) {
      port.postMessage({ id, error: (error as Error)?.stack ?? String(error) } satisfies FromRenderWorker);
    }
  });
});
