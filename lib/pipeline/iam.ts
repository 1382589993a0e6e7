/**
 * The part of IAM policy evaluation an identity-based policy decides: an explicit Deny wins, else
 * an Allow statement whose Action and Resource match (with `*` and `?` wildcards, actions case
 * insensitive), else the implicit deny. Conditions are not evaluated: a statement with a Condition
 * counts as matching, so the check can miss a denial a condition would cause, never invent one.
 */

/** One statement of a policy document, intrinsics resolved. */
export interface PolicyStatement {
  Effect: 'Allow' | 'Deny';
  Action?: string | string[];
  NotAction?: string | string[];
  Resource?: string | string[];
  NotResource?: string | string[];
  Condition?: unknown;
  Sid?: string;
}

/** One AWS call a function made: `s3:GetObject` on `arn:aws:s3:::bucket/key`. */
export interface AwsCall {
  /** The calling function's name. */
  principal: string;
  action: string;
  resource: string;
}

export type Decision = 'allowed' | 'implicit-deny' | 'explicit-deny';

const list = (value: string | string[] | undefined): string[] =>
  value === undefined ? [] : Array.isArray(value) ? value : [value];

const patterns = new Map<string, RegExp>();
/** IAM's wildcard match: `*` any run of characters, `?` one character, the whole string. */
export function wildcardMatch(pattern: string, value: string, caseInsensitive = false): boolean {
  const key = `${caseInsensitive ? 'i' : 's'}${pattern}`;
  let regex = patterns.get(key);
  if (regex === undefined) {
    const source = pattern
      .split('')
      .map((c) => (c === '*' ? '.*' : c === '?' ? '.' : c.replace(/[.+^${}()|[\]\\]/g, '\\$&')))
      .join('');
    regex = new RegExp(`^${source}$`, caseInsensitive ? 'is' : 's');
    patterns.set(key, regex);
  }
  return regex.test(value);
}

function matches(statement: PolicyStatement, action: string, resource: string): boolean {
  const actionOk =
    statement.NotAction !== undefined
      ? !list(statement.NotAction).some((p) => wildcardMatch(p, action, true))
      : list(statement.Action).some((p) => wildcardMatch(p, action, true));
  if (!actionOk) return false;
  return statement.NotResource !== undefined
    ? !list(statement.NotResource).some((p) => wildcardMatch(p, resource))
    : list(statement.Resource).some((p) => wildcardMatch(p, resource));
}

/** What an identity policy made of `statements` decides for one action on one resource. */
export function evaluate(statements: readonly PolicyStatement[], action: string, resource: string): Decision {
  if (statements.some((s) => s.Effect === 'Deny' && matches(s, action, resource))) return 'explicit-deny';
  return statements.some((s) => s.Effect === 'Allow' && matches(s, action, resource))
    ? 'allowed'
    : 'implicit-deny';
}

/** The calls the policies would deny, each with its decision; `policyOf` gives a principal's statements. */
export function deniedCalls(
  calls: readonly AwsCall[],
  policyOf: (principal: string) => readonly PolicyStatement[] | undefined,
): Array<AwsCall & { decision: Decision }> {
  const denied: Array<AwsCall & { decision: Decision }> = [];
  for (const call of calls) {
    const decision = evaluate(policyOf(call.principal) ?? [], call.action, call.resource);
    if (decision !== 'allowed') denied.push({ ...call, decision });
  }
  return denied;
}
