/**
 * The E2B provider's options for one run, built the same way wherever a run starts (the CLI, a unit
 * Lambda, the benches), so the template, limits and agent check cannot drift apart between them.
 * Imports no SDK: a unit Lambda loads the E2B SDK only for E2B units.
 */
import { creationRate, type RunConfig, sandboxLimit, templateResources } from '../config.ts';
import type { E2BConnection, E2BSandboxProviderOptions } from './e2b.ts';

/** What a run's E2B provider is made from besides its config. */
export interface E2BRunDeps {
  apiKey: string | undefined;
  /**
   * This build's agent bundle source. Uploaded to every sandbox unless the template bakes the agent
   * in; either way its sha256 is what every agent's ready line must report.
   */
  bundle: string;
  /** The user says the template holds this build's agent (run --template-has-bundle, E2B_TEMPLATE_HAS_BUNDLE). */
  templateHasBundle: boolean;
  /** The run's agent carries strategy plug-ins the template's agent lacks: it is uploaded whatever the template holds. */
  withPlugins?: boolean;
  metadata?: Record<string, string>;
  connection?: E2BConnection;
}

/** The E2B provider options of a run. */
export function e2bRunOptions(
  config: Pick<
    RunConfig,
    'provider' | 'template' | 'templateSize' | 'maxSandboxes' | 'e2bTier' | 'e2bCreationRate'
  >,
  deps: E2BRunDeps,
): E2BSandboxProviderOptions {
  return {
    apiKey: deps.apiKey,
    template: config.template,
    bundle: deps.bundle,
    templateHasBundle: deps.templateHasBundle && deps.withPlugins !== true,
    resources: templateResources(config),
    maxConcurrent: sandboxLimit(config),
    tier: config.e2bTier,
    creationRate: creationRate(config),
    ...(deps.metadata === undefined ? {} : { metadata: deps.metadata }),
    ...(deps.connection === undefined ? {} : { connection: deps.connection }),
  };
}
