/** Progress on the terminal: one live status line on a TTY, plain lines otherwise. Listens only. */
import type { RunEvent } from '../lib/bench/runner.ts';
import { formatUsd } from './shared.ts';

export function progressReporter(stream: NodeJS.WriteStream, now: () => number = Date.now) {
  const started = now();
  const live = stream.isTTY === true;
  let spentUsd = 0;
  let timer: NodeJS.Timeout | undefined;
  let current = '';
  const elapsed = () => `${((now() - started) / 1000).toFixed(0)}s`;
  const draw = () => {
    if (!live || !current) return;
    stream.write(`\r\x1b[2K${current} · ${elapsed()} elapsed · ${formatUsd(spentUsd)} projected so far`);
  };
  return {
    onEvent(event: RunEvent): void {
      if (event.type === 'unit-start') {
        current = `[${event.index + 1}/${event.total}] ${event.unitId} (${event.total - event.index - 1} left)`;
        if (live) {
          timer ??= setInterval(draw, 500);
          timer.unref();
          draw();
        }
      } else if (event.type === 'unit-end') {
        spentUsd = event.spentUsd;
        const r = event.result;
        const line = `${r.status === 'ok' ? 'ok  ' : r.status === 'partial' ? 'part' : 'FAIL'} ${r.unitId} ${(r.durationMs / 1000).toFixed(1)}s${r.error ? ` (${r.error.message})` : ''}`;
        stream.write(live ? `\r\x1b[2K${line}\n` : `${line}\n`);
        draw();
      }
    },
    stop(): void {
      if (timer) clearInterval(timer);
      if (live) stream.write('\r\x1b[2K');
    },
  };
}
