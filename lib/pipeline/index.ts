/** The serverless pipeline's steps, their events, execution control and the local runner. */
export * from './events.ts';
export * from './execution.ts';
export * from './local.ts';
export * from './steps.ts';
