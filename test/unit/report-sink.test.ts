import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { InvalidInputError } from '../../lib/errors.ts';
import { DirReportSink } from '../../lib/publish/dir.ts';
import { writeReport } from '../../lib/report/write.ts';
import { loadFixture } from './report-helpers.ts';

const made: string[] = [];
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'report-sink-'));
  made.push(dir);
  return dir;
}
afterEach(() => {
  for (const dir of made.splice(0)) rmSync(dir, { recursive: true, force: true });
});

describe('DirReportSink', () => {
  it('writes names inside its directory', async () => {
    // Prepare
    const dir = tempDir();
    const sink = new DirReportSink(dir);
    // Act
    const { location } = await sink.put('charts/a.svg', '<svg/>', 'image/svg+xml');
    // Assess
    expect(location).toBe(join(dir, 'charts', 'a.svg'));
    expect(readFileSync(location, 'utf8')).toBe('<svg/>');
  });

  it.each([
    '../escape.md',
    'charts/../../escape.md',
    'a/..',
    '/etc/passwd',
    '\\\\server\\share',
    'C:\\temp\\x.md',
    'bad\0name.md',
    '',
  ])('rejects %j', async (name) => {
    // Prepare
    const sink = new DirReportSink(tempDir());
    // Act + Assess
    await expect(sink.put(name, 'x', 'text/plain')).rejects.toThrow(InvalidInputError);
  });
});

describe('writeReport', () => {
  it('writes the Markdown, HTML, JSON and every chart through the sink', async () => {
    // Prepare
    const dir = tempDir();
    const run = loadFixture('failed-unit');
    // Act
    const written = await writeReport(run, new DirReportSink(dir));
    // Assess
    expect(written.markdown).toBe(join(dir, 'SWARM_BENCHMARKS_REPORT.md'));
    expect(written.html).toBe(join(dir, 'SWARM_BENCHMARKS_REPORT.html'));
    expect(written.json).toBe(join(dir, 'SWARM_BENCHMARKS_REPORT.json'));
    expect(written.charts).toHaveLength(4);
    const markdown = readFileSync(written.markdown, 'utf8');
    for (const location of written.charts) {
      const name = location.slice(dir.length + 1);
      expect(markdown).toContain(`](${name})`);
      expect(readFileSync(location, 'utf8').startsWith('<svg')).toBe(true);
    }
    expect(readFileSync(written.html, 'utf8')).toContain('<svg');
    expect(JSON.parse(readFileSync(written.json, 'utf8')).meta.runId).toBe('fixture-failed-unit');
  });

  it('uses the given basename', async () => {
    // Prepare
    const dir = tempDir();
    // Act
    const written = await writeReport(loadFixture('clean'), new DirReportSink(dir), { basename: 'weekly' });
    // Assess
    expect(written.markdown).toBe(join(dir, 'weekly.md'));
  });
});
