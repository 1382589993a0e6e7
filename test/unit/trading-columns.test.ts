import { describe, expect, it } from 'vitest';
import { requestSchema } from '../../lib/agent/protocol.ts';
import { fromColumns, sliceColumns, toColumns, toFloat64Columns } from '../../lib/trading/columns.ts';
import { generateBars } from '../../lib/trading/market.ts';

describe('columnar windows', () => {
  it('round-trips bars through columns exactly', () => {
    // Prepare
    const bars = generateBars({ bars: 300, seed: 7 });
    // Act
    const columns = toColumns(bars);
    // Assess
    expect(columns.close).toHaveLength(300);
    expect(fromColumns(columns)).toEqual(bars);
  });

  it('is accepted by the agent protocol, and refused when the columns differ in length', () => {
    // Prepare
    const columns = toColumns(generateBars({ bars: 20, seed: 1 }));
    const ragged = { ...columns, volume: columns.volume.slice(1) };
    // Act
    const ok = requestSchema.safeParse({ t: 'req', id: 1, op: 'execute', window: columns });
    const bad = requestSchema.safeParse({ t: 'req', id: 2, op: 'execute', window: ragged });
    const notNumbers = requestSchema.safeParse({
      t: 'req',
      id: 3,
      op: 'execute',
      window: { ...columns, t: ['x'] },
    });
    // Assess
    expect(ok.success).toBe(true);
    expect(bad.success).toBe(false);
    expect(notNumbers.success).toBe(false);
  });

  it('is smaller on the wire than bar objects', () => {
    const bars = generateBars({ bars: 500, seed: 1 });
    expect(JSON.stringify(toColumns(bars)).length).toBeLessThan(0.8 * JSON.stringify(bars).length);
  });

  it('cuts windows of Float64 columns as views, and turns any columns back into plain arrays for JSON', () => {
    // Prepare
    const bars = generateBars({ bars: 100, seed: 5 });
    const columns = toFloat64Columns(bars);
    // Act
    const window = sliceColumns(columns, 60, 110);
    const wire = toColumns(window);
    // Assess: bars 60..99 (clamped), sharing the feed's memory; the wire copy is plain numbers
    expect(window.close).toHaveLength(40);
    expect(window.close.buffer).toBe(columns.close.buffer);
    expect(Array.isArray(wire.close)).toBe(true);
    expect(fromColumns(wire)).toEqual(bars.slice(60));
    expect(JSON.parse(JSON.stringify(wire))).toEqual(toColumns(bars.slice(60)));
  });
});
