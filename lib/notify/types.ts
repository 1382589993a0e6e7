/** Where run outcomes are announced: an SNS topic on AWS, a file or memory locally. */

/** Sends one message to whoever follows the benchmark (e-mail, chat, a log file). */
export interface Notifier {
  /** `subject` is one short line (SNS e-mail subjects allow at most 100 characters). */
  notify(subject: string, message: string): Promise<void>;
}

/** SNS refuses subjects over 100 characters or with line breaks; every notifier applies the same rule. */
export function safeSubject(subject: string): string {
  const line = subject.replace(/[\r\n]+/g, ' ').trim();
  return line.length > 100 ? `${line.slice(0, 97)}...` : line;
}
