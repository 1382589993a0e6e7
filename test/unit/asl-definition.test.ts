import { describe, expect, it } from 'vitest';
import { assertValidDefinition, executableMachine } from '../../lib/pipeline/asl.ts';

/** A Pass state whose Next names a state that does not exist. */
const broken = { StartAt: 'A', States: { A: { Type: 'Pass', Next: 'Nowhere' } } };
const valid = { StartAt: 'A', States: { A: { Type: 'Pass', Result: { ok: true }, End: true } } };

describe('the state machine definition is checked once, at synthesis', () => {
  it('refuses a definition with a transition to a missing state, naming it', () => {
    expect(() => assertValidDefinition(structuredClone(broken))).toThrow(/Nowhere/);
    expect(() => assertValidDefinition(structuredClone(valid))).not.toThrow();
  });

  it('checks an unchecked definition before executing it, and runs a checked one without checking', async () => {
    // A definition the caller brings is checked; a synthesized one was checked already.
    expect(() => executableMachine(structuredClone(broken), false)).toThrow(/Nowhere/);
    expect(() => executableMachine(structuredClone(broken), true)).not.toThrow();
    const output = await executableMachine(structuredClone(valid), true).run({}).result;
    expect(output).toEqual({ ok: true });
  });
});
