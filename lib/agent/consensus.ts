/**
 * Consensus on a trade. The proposer floods a proposal down its broadcast tree; every agent votes
 * with its own strategy and routes the vote back; at a quorum of votes the proposer commits and
 * floods the decision; agents acknowledge it, and the round ends when a quorum holds the decision.
 * Runs against a router (tested with an in-memory network, no sockets).
 */
import type { Action, Bar } from '../trading/types.ts';
import { microsSince, RequestError } from './peer-net.ts';
import type { OpResults, PeerFrame, WireWindow } from './protocol.ts';
import type { Router } from './routing.ts';

/** What a proposal is about: a window shipped with it, or the index of a bar of the market feed. */
export interface ProposalSubject {
  window?: Bar[] | undefined;
  at?: number | undefined;
}

/** How a proposer turns the votes it holds into a decision. */
export type DecisionRule = (votes: ReadonlyMap<number, Action>) => Action;

/** What consensus needs from the rest of the agent. */
export interface ConsensusDeps {
  router: Pick<Router, 'forward' | 'flood'>;
  /** The window a subject names (throws a RequestError when it names none). */
  windowOf: (subject: ProposalSubject) => Bar[];
  /** This agent's vote on a window (its strategy's signal). */
  vote: (window: Bar[]) => Action;
  /** The decision at quorum. @default plurality */
  decide?: DecisionRule;
  /** A window for the wire. */
  toWire: (window: Bar[]) => WireWindow;
  /** Bars out of a wire window. */
  fromWire: (window: WireWindow) => Bar[];
}

interface Proposal {
  pid: number;
  started: bigint;
  quorum: number;
  votes: Map<number, Action>;
  acks: Set<number>;
  /** Latest commit receipt time among the acknowledging agents (shared clock only). */
  heldAt: bigint;
  hops: number;
  commitUs?: number;
  decision?: Action;
  done: (result: OpResults['propose']) => void;
  timer: NodeJS.Timeout;
}

export class Consensus {
  private self = -1;
  private size = 0;
  private sharedClock = false;
  private readonly proposals = new Map<number, Proposal>();
  private readonly seen = new Set<string>();
  private nextPid = 1;

  constructor(private readonly deps: ConsensusDeps) {}

  configure(self: number, size: number, sharedClock: boolean): void {
    this.self = self;
    this.size = size;
    this.sharedClock = sharedClock;
  }

  /** Forget what was seen (a new swarm). */
  clear(): void {
    this.seen.clear();
  }

  /** Propose a trade on `subject`; resolves when a quorum of agents holds the decision. */
  propose(subject: ProposalSubject, quorum: number, timeoutMs: number): Promise<OpResults['propose']> {
    const window = this.deps.windowOf(subject);
    if (quorum > this.size) throw new RequestError(`propose: quorum ${quorum} exceeds ${this.size} agents`);
    const pid = this.self * 1_000_000 + this.nextPid++;
    return new Promise((resolve, reject) => {
      const proposal: Proposal = {
        pid,
        started: process.hrtime.bigint(),
        quorum,
        votes: new Map(),
        acks: new Set(),
        heldAt: 0n,
        hops: 0,
        done: resolve,
        timer: setTimeout(() => {
          this.proposals.delete(pid);
          reject(
            new RequestError(
              `propose: ${proposal.votes.size} votes and ${proposal.acks.size} commit acks of quorum ${quorum} after ${timeoutMs} ms`,
            ),
          );
        }, timeoutMs),
      };
      this.proposals.set(pid, proposal);
      this.seen.add(`p${pid}`);
      this.deps.router.flood({
        t: 'prop',
        origin: this.self,
        pid,
        ...(subject.window ? { window: this.deps.toWire(subject.window) } : { at: subject.at as number }),
      });
      this.onVote(pid, this.self, this.deps.vote(window), 0);
    });
  }

  onProposal(frame: Extract<PeerFrame, { t: 'prop' }>): void {
    const key = `p${frame.pid}`;
    if (this.seen.has(key)) return;
    this.seen.add(key);
    this.deps.router.flood(frame);
    let action: Action = 'hold';
    try {
      action = this.deps.vote(
        this.deps.windowOf({
          window: frame.window === undefined ? undefined : this.deps.fromWire(frame.window),
          at: frame.at,
        }),
      );
    } catch {
      // No window and no feed: abstain by voting hold rather than stalling the quorum.
    }
    this.deps.router.forward({
      t: 'vote',
      src: this.self,
      dst: frame.origin,
      pid: frame.pid,
      action,
      hops: 0,
    });
  }

  onVote(pid: number, voter: number, action: Action, hops: number): void {
    const proposal = this.proposals.get(pid);
    if (!proposal || proposal.votes.has(voter) || proposal.decision) return;
    proposal.votes.set(voter, action);
    proposal.hops += hops;
    if (proposal.votes.size < proposal.quorum) return;
    proposal.commitUs = microsSince(proposal.started);
    proposal.decision = (this.deps.decide ?? plurality)(proposal.votes);
    this.seen.add(`c${pid}`);
    this.deps.router.flood({ t: 'commit', origin: this.self, pid, decision: proposal.decision });
    this.onCommitAck(pid, this.self, 0, process.hrtime.bigint());
  }

  onCommit(frame: Extract<PeerFrame, { t: 'commit' }>): void {
    const key = `c${frame.pid}`;
    if (this.seen.has(key)) return;
    this.seen.add(key);
    const receivedAt = process.hrtime.bigint();
    this.deps.router.flood(frame);
    this.deps.router.forward({
      t: 'cack',
      src: this.self,
      dst: frame.origin,
      pid: frame.pid,
      hops: 0,
      ...(this.sharedClock ? { at: receivedAt.toString() } : {}),
    });
  }

  onCommitAck(pid: number, from: number, hops: number, at: bigint | undefined): void {
    const proposal = this.proposals.get(pid);
    if (!proposal || proposal.acks.has(from)) return;
    proposal.acks.add(from);
    proposal.hops += hops;
    if (at !== undefined && at > proposal.heldAt) proposal.heldAt = at;
    if (proposal.acks.size < proposal.quorum || proposal.commitUs === undefined) return;
    clearTimeout(proposal.timer);
    this.proposals.delete(pid);
    proposal.done({
      decision: proposal.decision as Action,
      votes: proposal.votes.size,
      quorum: proposal.quorum,
      commitUs: proposal.commitUs,
      heldUs:
        this.sharedClock && proposal.heldAt > 0n
          ? Number(proposal.heldAt - proposal.started) / 1000
          : microsSince(proposal.started),
      heldRttUs: microsSince(proposal.started),
      hops: proposal.hops,
    });
  }
}

/** The most voted action; ties resolve to the safer action (hold, then sell, then buy). */
export function plurality(votes: ReadonlyMap<number, Action>): Action {
  const counts: Record<Action, number> = { buy: 0, sell: 0, hold: 0 };
  for (const action of votes.values()) counts[action]++;
  const order: Action[] = ['hold', 'sell', 'buy'];
  return order.reduce((best, action) => (counts[action] > counts[best] ? action : best), 'hold');
}
