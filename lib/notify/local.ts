/** Notifiers for one machine: collect messages in memory (tests) or append them to a file. */
import { appendFile, mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import { type Notifier, safeSubject } from './types.ts';

/** One notification as sent. */
export interface SentNotification {
  subject: string;
  message: string;
}

/** Keeps every notification in `sent`, in order. */
export class MemoryNotifier implements Notifier {
  readonly sent: SentNotification[] = [];

  async notify(subject: string, message: string): Promise<void> {
    this.sent.push({ subject: safeSubject(subject), message });
  }
}

/** Appends each notification to a file as one JSON line, creating the file's folder. */
export class FileNotifier implements Notifier {
  constructor(readonly path: string) {}

  async notify(subject: string, message: string): Promise<void> {
    await mkdir(dirname(this.path), { recursive: true });
    await appendFile(this.path, `${JSON.stringify({ subject: safeSubject(subject), message })}\n`, 'utf8');
  }
}
