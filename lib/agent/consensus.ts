/**
 * Consensus on a trade. The proposer floods a proposal down its broadcast tree; every agent votes
 * with its own strategy and routes the vote back; at a quorum of votes the proposer commits and
 * floods the decision; agents acknowledge it, and the round ends when a quorum holds the decision.
 * Runs against a router (tested with an in-memory network, no sockets).
 */
import type { Action, BarWindow } from '../trading/types.ts';
import { microsSince, RequestError } from './peer-net.ts';
import type { AgentVote, RuleOutcome } from './plugin-host.ts';
import type { OpResults, PeerFrame, WireWindow } from './protocol.ts';
import type { Router } from './routing.ts';

/** What a proposal is about: a window shipped with it, or the index of a bar of the market feed. */
export interface ProposalSubject {
  window?: BarWindow | undefined;
  at?: number | undefined;
}

/**
 * How a proposer turns the votes it holds into a decision: a function of the actions, decided at
 * once (plurality), or a user's rule that weighs the voters' confidence and decides later.
 */
export type DecisionRule = ((votes: ReadonlyMap<number, Action>) => Action) | UserDecisionRule;

/**
 * A user's decision rule (a plug-in in its worker): votes carry the voter's confidence (the `c` of
 * the vote frame) and the decision comes asynchronously; its time is part of the decision's latency.
 */
export interface UserDecisionRule {
  name: string;
  decide(
    votes: ReadonlyMap<number, AgentVote>,
    context: { agents: number; quorum: number },
  ): Promise<RuleOutcome>;
}

/** Proposal and commit keys remembered against re-flooding; far more than rounds in flight. */
const SEEN_LIMIT = 4_096;

/** The vote of an agent whose strategy failed or that has no window: hold, with no confidence. */
const ABSTAIN: AgentVote = { action: 'hold', confidence: 0 };

/** What consensus needs from the rest of the agent. */
export interface ConsensusDeps {
  router: Pick<Router, 'forward' | 'flood'>;
  /** The window a subject names (throws a RequestError when it names none). */
  windowOf: (subject: ProposalSubject) => BarWindow;
  /** This agent's vote on a window (its strategy's signal): at once, or from a plug-in's worker. */
  vote: (window: BarWindow) => AgentVote | Promise<AgentVote>;
  /** The decision at quorum, unless `configure` names another. @default plurality */
  decide?: DecisionRule;
  /** A window for the wire (a received one is voted on as it arrived, its columns read in place). */
  toWire: (window: BarWindow) => WireWindow;
}

interface Proposal {
  pid: number;
  started: bigint;
  quorum: number;
  votes: Map<number, AgentVote>;
  /** Set while a user rule decides (votes arriving meanwhile are not counted). */
  deciding?: boolean;
  /** What a user rule decided, for the result. */
  rule?: OpResults['propose']['rule'];
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
  private rule: DecisionRule | undefined;
  private readonly proposals = new Map<number, Proposal>();
  /** Proposals and commits already flooded on, newest last, bounded (SEEN_LIMIT). */
  private readonly seen = new Set<string>();
  private nextPid = 1;

  constructor(private readonly deps: ConsensusDeps) {}

  /** Take a place in a swarm; `rule` replaces the default decision rule for it. */
  configure(self: number, size: number, sharedClock: boolean, rule?: DecisionRule): void {
    this.self = self;
    this.size = size;
    this.sharedClock = sharedClock;
    this.rule = rule;
  }

  private get decisionRule(): DecisionRule {
    return this.rule ?? this.deps.decide ?? plurality;
  }

  /** This agent's vote on a window; a plug-in strategy that fails abstains. Throws what a built-in throws. */
  private castVote(window: BarWindow, cast: (vote: AgentVote) => void): void {
    const vote = this.deps.vote(window);
    if (vote instanceof Promise) vote.then(cast, () => cast(ABSTAIN));
    else cast(vote);
  }

  /** Note a key as seen; the oldest is forgotten past SEEN_LIMIT, so memory stays flat over long runs. */
  private remember(key: string): void {
    this.seen.add(key);
    if (this.seen.size > SEEN_LIMIT) this.seen.delete(this.seen.values().next().value as string);
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
      this.remember(`p${pid}`);
      this.deps.router.flood({
        t: 'prop',
        origin: this.self,
        pid,
        ...(subject.window ? { window: this.deps.toWire(subject.window) } : { at: subject.at as number }),
      });
      this.castVote(window, (vote) => this.onVote(pid, this.self, vote, 0));
    });
  }

  /** A proposal arrived; `raw` is the binary frame it came as, flooded on as it is. */
  onProposal(frame: Extract<PeerFrame, { t: 'prop' }>, raw?: Buffer): void {
    const key = `p${frame.pid}`;
    if (this.seen.has(key)) return;
    this.remember(key);
    this.deps.router.flood(frame, raw);
    // The confidence travels only when a decision rule may weigh it (a function of actions does not).
    const weighs = typeof this.decisionRule !== 'function';
    const send = ({ action, confidence }: AgentVote): void => {
      this.deps.router.forward({
        t: 'vote',
        src: this.self,
        dst: frame.origin,
        pid: frame.pid,
        action,
        hops: 0,
        ...(weighs ? { c: confidence } : {}),
      });
    };
    try {
      const window = this.deps.windowOf({
        window: frame.window,
        at: frame.at,
      });
      this.castVote(window, send);
    } catch {
      // No window and no feed: abstain by voting hold rather than stalling the quorum.
      send(ABSTAIN);
    }
  }

  onVote(pid: number, voter: number, vote: AgentVote, hops: number): void {
    const proposal = this.proposals.get(pid);
    if (!proposal || proposal.votes.has(voter) || proposal.decision || proposal.deciding) return;
    proposal.votes.set(voter, vote);
    proposal.hops += hops;
    if (proposal.votes.size < proposal.quorum) return;
    const rule = this.decisionRule;
    if (typeof rule === 'function') {
      const actions = new Map([...proposal.votes].map(([agent, { action }]) => [agent, action]));
      this.commit(proposal, rule(actions));
      return;
    }
    // A user rule decides in its worker; a rule that fails leaves hold, with the reason reported.
    proposal.deciding = true;
    rule.decide(proposal.votes, { agents: this.size, quorum: proposal.quorum }).then(
      (outcome) => {
        proposal.rule = { name: rule.name, ...outcome };
        this.commit(proposal, outcome.decision);
      },
      (error: Error) => {
        proposal.rule = { name: rule.name, decision: 'hold', error: error.message };
        this.commit(proposal, 'hold');
      },
    );
  }

  private commit(proposal: Proposal, decision: Action): void {
    const { pid } = proposal;
    if (this.proposals.get(pid) !== proposal) return; // timed out meanwhile
    proposal.commitUs = microsSince(proposal.started);
    proposal.decision = decision;
    this.remember(`c${pid}`);
    this.deps.router.flood({ t: 'commit', origin: this.self, pid, decision: proposal.decision });
    this.onCommitAck(pid, this.self, 0, process.hrtime.bigint());
  }

  /** A decision arrived; `raw` is the binary frame it came as, flooded on as it is. */
  onCommit(frame: Extract<PeerFrame, { t: 'commit' }>, raw?: Buffer): void {
    const key = `c${frame.pid}`;
    if (this.seen.has(key)) return;
    this.remember(key);
    const receivedAt = process.hrtime.bigint();
    this.deps.router.flood(frame, raw);
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
      ...(proposal.rule === undefined ? {} : { rule: proposal.rule }),
    });
  }
}

/** The most voted action; ties resolve to the safer action (hold, then sell, then buy). */
export function plurality(votes: ReadonlyMap<number, Action | { action: Action }>): Action {
  const counts: Record<Action, number> = { buy: 0, sell: 0, hold: 0 };
  for (const vote of votes.values()) counts[typeof vote === 'string' ? vote : vote.action]++;
  const order: Action[] = ['hold', 'sell', 'buy'];
  return order.reduce((best, action) => (counts[action] > counts[best] ? action : best), 'hold');
}
