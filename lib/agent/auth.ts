/**
 * Who may connect to an agent. The swarm secret never travels: each party presents a credential
 * derived from it with HMAC-SHA256 for its own role (`coordinator`, `peer:<index>`). An agent
 * holds the swarm secret and derives the credential it expects for the role a connection claims,
 * so the coordinator's credential (the one that leaves the machine most) cannot pass as a peer,
 * and peer 3's credential cannot pass as peer 1.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

/** A role a connection claims in its role header. */
export type Role = 'coordinator' | `peer:${number}`;

/** The credential for `role` in the swarm whose secret is `secret`. */
export function credentialFor(secret: string, role: Role): string {
  return createHmac('sha256', secret).update(`swarm-bench/v1/${role}`).digest('base64url');
}

/** Whether `presented` is the credential of `role` (constant time). */
export function verifyCredential(secret: string, role: Role, presented: string): boolean {
  const expected = Buffer.from(credentialFor(secret, role));
  const given = Buffer.from(presented);
  return given.length === expected.length && timingSafeEqual(given, expected);
}

/** The role a header names, or undefined when it names none (`peer:` takes an index below 10,000). */
export function parseRole(header: unknown): { role: Role; peer?: number } | undefined {
  if (header === 'coordinator') return { role: 'coordinator' };
  if (typeof header !== 'string') return undefined;
  const match = /^peer:(0|[1-9]\d{0,3})$/.exec(header);
  if (!match) return undefined;
  const peer = Number(match[1]);
  return { role: `peer:${peer}`, peer };
}
