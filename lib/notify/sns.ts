/** A Notifier that publishes to one SNS topic; the client is injected. */
import { PublishCommand, type SNSClient } from '@aws-sdk/client-sns';
import { InvalidInputError } from '../errors.ts';
import { isTransientError, type RetryOptions, retry } from '../retry.ts';
import { type Notifier, safeSubject } from './types.ts';

/** Publishes each notification as one SNS message, retrying throttling and 5xx errors. */
export class SnsNotifier implements Notifier {
  readonly #client: SNSClient;
  readonly #topicArn: string;
  readonly #retry: RetryOptions;

  constructor(options: { client: SNSClient; topicArn: string; retry?: RetryOptions }) {
    if (typeof options.topicArn !== 'string' || !options.topicArn.startsWith('arn:')) {
      throw new InvalidInputError('topicArn', 'an SNS topic ARN', options.topicArn);
    }
    this.#client = options.client;
    this.#topicArn = options.topicArn;
    this.#retry = { isRetryable: isTransientError, ...options.retry };
  }

  async notify(subject: string, message: string): Promise<void> {
    await retry(
      () =>
        this.#client.send(
          new PublishCommand({ TopicArn: this.#topicArn, Subject: safeSubject(subject), Message: message }),
        ),
      this.#retry,
    );
  }
}
