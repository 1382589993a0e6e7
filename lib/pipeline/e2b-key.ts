/**
 * The E2B API key as the stack stores it: the secret starts as a fixed placeholder (never a
 * generated random string), and a unit refuses to start E2B sandboxes until a user has set it.
 */
import { ProviderUnavailableError } from '../errors.ts';

/** The E2B key secret's value until a user puts the real key (infra/stack.ts creates it so). */
export const E2B_KEY_PLACEHOLDER = 'UNSET: put your E2B API key here';

/** True when `value` is a key a user set: not empty, not the placeholder. */
export function isE2BKeySet(value: string | undefined): boolean {
  const key = value?.trim();
  return Boolean(key) && key !== E2B_KEY_PLACEHOLDER;
}

/** The key, or a ProviderUnavailableError telling the user how to set it; nothing is sent to E2B. */
export function requireE2BKey(value: string | undefined, secretId: string): string {
  if (!isE2BKeySet(value)) {
    const held = value?.trim() ? 'the placeholder' : 'nothing';
    throw new ProviderUnavailableError(
      `set the E2B API key: aws secretsmanager put-secret-value --secret-id ${secretId} --secret-string <your key> (the secret holds ${held})`,
    );
  }
  return (value as string).trim();
}
