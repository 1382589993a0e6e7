/**
 * The agent's side of plug-ins: strategy lookup by name (built-in or plug-in), votes with their
 * confidence, and the decision rule of the consensus vote. The AgentServer calls these through a
 * few small hooks; the plug-ins themselves run in worker threads (lib/plugins/host.ts).
 */
import { andThen, type MaybeAsync, PluginError, PluginHost, type SignalAnswer } from '../plugins/host.ts';
import type { PluginAction, PluginDescription, PluginVote } from '../plugins/types.ts';
import { createStrategy, isStrategyName } from '../trading/strategies.ts';
import type { BarWindow, Strategy } from '../trading/types.ts';
import { plurality } from './consensus.ts';
import type { EmbeddedPlugins } from './embed.ts';
import type { AnyWindow, ExecuteResult } from './protocol.ts';

/** The built-in decision rule: most votes, ties to the safer action (hold, then sell, then buy). */
export const BUILTIN_RULE = 'plurality';

/** The vote of a plug-in that failed: hold, with no confidence. */
const ABSTAIN: AgentVote = { action: 'hold', confidence: 0 };

/** A vote with the voter's confidence, as it travels to the proposer. */
export interface AgentVote {
  action: PluginAction;
  confidence: number;
}

/** What a rule plug-in's failure leaves: the decision falls back to hold, and the reason is reported. */
export interface RuleOutcome {
  decision: PluginAction;
  ruleUs?: number;
  error?: string;
}

/** Strategies (built-in and plug-in) and the decision rule of one agent. */
export class AgentPlugins {
  private readonly builtins = new Map<string, Strategy>();
  readonly host: PluginHost | undefined;

  constructor(
    embedded: EmbeddedPlugins | undefined,
    limits: { callTimeoutMs?: number; heapMb?: number } = {},
  ) {
    this.host =
      embedded === undefined
        ? undefined
        : new PluginHost({ source: embedded.source, modules: embedded.modules, ...limits });
  }

  /** What the agent's plug-ins are (loads them; empty without plug-ins). */
  describe(): Promise<PluginDescription[]> {
    return this.host?.describe() ?? Promise.resolve([]);
  }

  /** A built-in strategy by name (throws InvalidInputError for an unknown one). */
  builtin(name: string): Strategy {
    let strategy = this.builtins.get(name);
    if (!strategy) {
      strategy = createStrategy(name);
      this.builtins.set(name, strategy);
    }
    return strategy;
  }

  /** Whether `name` runs in a plug-in worker rather than in the agent. */
  isPlugin(name: string): boolean {
    return !isStrategyName(name) && this.host !== undefined;
  }

  /** Refuse, at configure, a strategy or rule this agent cannot run. */
  async check(strategy: string, rule: string | undefined): Promise<void> {
    if (!this.isPlugin(strategy)) this.builtin(strategy);
    else if (!(await this.host?.has(strategy, 'strategy')))
      throw new Error(`unknown strategy ${JSON.stringify(strategy)}`);
    if (rule !== undefined && rule !== BUILTIN_RULE && !(await this.host?.has(rule, 'decision-rule'))) {
      throw new Error(`unknown decision rule ${JSON.stringify(rule)}`);
    }
  }

  /**
   * The execute op for a plug-in strategy: its signal, timed inside its worker. Float64 columns
   * from a binary frame are copied as they are into the worker's shared columns. The result itself
   * when the worker answered while the agent's thread waited, as a built-in's is.
   */
  execute(name: string, window: AnyWindow): MaybeAsync<ExecuteResult> {
    return andThen((this.host as PluginHost).signal(name, window), ({ signal, computeUs }) => ({
      action: signal.action,
      confidence: signal.confidence,
      size: signal.size ?? 0,
      computeUs,
      ...(signal.diagnostics ? { diagnostics: signal.diagnostics } : {}),
    }));
  }

  /** This agent's vote on a window: a plug-in that fails abstains (hold, confidence 0). */
  vote(name: string, window: BarWindow): MaybeAsync<AgentVote> {
    if (!this.isPlugin(name)) {
      const { action, confidence } = this.builtin(name).signal(window);
      return { action, confidence };
    }
    const answer = (this.host as PluginHost).signal(name, window);
    const toVote = ({ signal }: SignalAnswer): AgentVote => ({
      action: signal.action,
      confidence: signal.confidence,
    });
    if (!(answer instanceof Promise)) return toVote(answer);
    return answer.then(toVote, (error: unknown) => {
      if (error instanceof PluginError) return ABSTAIN;
      throw error;
    });
  }

  /** The swarm's decision from a quorum of votes, by the configured rule. */
  async decide(
    rule: string,
    votes: ReadonlyMap<number, AgentVote>,
    context: { agents: number; quorum: number },
  ): Promise<RuleOutcome> {
    if (rule === BUILTIN_RULE || this.host === undefined) return { decision: plurality(votes) };
    const list: PluginVote[] = [...votes].map(([agent, vote]) => ({ agent, ...vote }));
    try {
      const { decision, computeUs } = await this.host.decide(rule, list, context);
      return { decision, ruleUs: computeUs };
    } catch (error) {
      if (error instanceof PluginError) return { decision: 'hold', error: error.message };
      throw error;
    }
  }

  close(): Promise<void> {
    return this.host?.close() ?? Promise.resolve();
  }
}
