/** Publish's site sink: uploads overlap rendering, the manifest last. */
import type { SiteSink } from './generate.ts';

/**
 * `sink` with puts that return at once and upload in the background, so the site renders its
 * next page while the last one uploads; flush() waits for every upload and throws the first
 * failure. The put of `last` (the site's manifest, which records what was written) starts only
 * once every earlier put is stored, and not at all after a failed one, as with puts in sequence.
 */
export function writeBehind(sink: SiteSink, last: string): SiteSink & { flush(): Promise<void> } {
  const pending: Array<Promise<void>> = [];
  const settled = () => Promise.all(pending).then(() => undefined);
  return {
    get: (key) => sink.get(key),
    async put(key, body, contentType) {
      const upload =
        key === last
          ? settled().then(() => sink.put(key, body, contentType))
          : sink.put(key, body, contentType);
      // Seen by flush(); not an unhandled rejection meanwhile.
      upload.catch(() => undefined);
      pending.push(upload);
    },
    flush: settled,
  };
}
