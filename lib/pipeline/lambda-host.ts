/**
 * A bundled Lambda function run locally as the Lambda service runs it: its asset copied to a task
 * root of its own (with only `@aws-sdk/*` resolvable outside it, as the runtime provides), each
 * instance a Node 22 process started by lambda-runtime.mjs with the function's template
 * environment plus the reserved Lambda variables, kept warm between invocations, one invocation
 * per instance at a time, killed at the function's timeout.
 */
import { type ChildProcess, fork } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, symlinkSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FunctionSpec } from './template.ts';

const RUNTIME_PATH = fileURLToPath(new URL('./lambda-runtime.mjs', import.meta.url));
/** Lambda's Node.js runtime loads no ESM through require(): Node 22's require(esm) is off there. */
const RUNTIME_NODE_FLAGS = ['--no-experimental-require-module'];
const LOG_TAIL_LINES = 200;
/**
 * Lambda's init phase limit (on-demand functions): an init that takes longer is stopped and run
 * again inside the first invocation, where it counts against the function's timeout. The host
 * keeps the same clock but lets the running init go on instead of starting it over.
 */
export const INIT_PHASE_MS = 10_000;

/** A failed invocation as Step Functions sees it: Error = errorType, Cause = the JSON payload. */
export class LambdaInvocationError extends Error {
  constructor(
    readonly errorType: string,
    readonly errorMessage: string,
    readonly trace: string[] = [],
  ) {
    super(errorMessage);
    this.name = errorType;
  }

  /** The Cause Step Functions records: Lambda's error payload. */
  get causeJson(): string {
    return JSON.stringify({ errorType: this.errorType, errorMessage: this.errorMessage, trace: this.trace });
  }
}

/** Figures of one function's instances. */
export interface LambdaStats {
  invocations: number;
  coldStarts: number;
  /** Per cold start: process start to the handler module imported (the runtime's init). */
  initMs: number[];
  /** Per cold start: process start to the first invocation's response. */
  firstResponseMs: number[];
  /** Cold starts whose init ran past Lambda's 10 s init phase (AWS would re-run init in the invocation). */
  initsOverPhase: number;
}

/** Where one invocation's time went, as seen from the caller (the state machine's Task). */
export interface InvocationTiming {
  /** True when this invocation started a new instance (a cold start). */
  cold: boolean;
  /** Cold: fork until the runtime script ran (Node's own start included); 0 when warm. */
  processStartMs: number;
  /** Cold: the handler module's import (the runtime's init); 0 when warm. */
  importMs: number;
  /** Cold: the rest of waiting for the instance (IPC, scheduling); 0 when warm. */
  otherInitMs: number;
  /** Event sent to result received: the handler's own work. */
  handlerMs: number;
  /** Invoke called to settled. */
  totalMs: number;
}

export interface LambdaHostOptions {
  spec: FunctionSpec;
  /** A directory of this run: task roots are laid out under it. */
  workDir: string;
  /** Added to the function's environment: region, credentials, AWS_ENDPOINT_URL_* of the stand-ins. */
  awsEnv: Record<string, string>;
  /** The `@aws-sdk` directory offered to the function, as the runtime offers its SDK. */
  sdkDir: string;
  /** The Node.js binary (Node 22, like nodejs22.x). */
  nodePath: string;
  /** Replaces or adds template environment variables (tests). */
  environmentOverrides?: Record<string, string>;
  /** Lambda's init phase limit (shorter in tests). @default INIT_PHASE_MS */
  initPhaseMs?: number;
}

interface Instance {
  child: ChildProcess;
  /** From the runtime's ready message: Node's start to the runtime script, and the handler import. */
  bootMs?: number;
  importMs?: number;
  /** performance.now() at process start (for the figures). */
  startedAt: number;
  /** Date.now() at process start, and when the handler module had loaded (for the clock). */
  startedAtEpoch: number;
  readyAt?: number;
  ready: Promise<number>;
  busy: boolean;
  served: number;
  pending?: {
    id: string;
    resolve: (value: unknown) => void;
    reject: (error: LambdaInvocationError) => void;
  };
  exited: boolean;
}

/** One deployed function: invoke() it; close() ends its instances. */
export class LambdaFunction {
  readonly spec: FunctionSpec;
  readonly stats: LambdaStats = {
    invocations: 0,
    coldStarts: 0,
    initMs: [],
    firstResponseMs: [],
    initsOverPhase: 0,
  };
  readonly #options: LambdaHostOptions;
  readonly #taskRoot: string;
  readonly #instances = new Set<Instance>();
  readonly #log: string[] = [];

  constructor(options: LambdaHostOptions) {
    if (!options.spec.assetDir || !existsSync(options.spec.assetDir)) {
      throw new Error(`function ${options.spec.name}: no bundled asset (synthesize with bundling)`);
    }
    this.spec = options.spec;
    this.#options = options;
    // <workDir>/node_modules/@aws-sdk is all that resolves outside <workDir>/<name>/ (the task root).
    const modules = join(options.workDir, 'node_modules');
    if (!existsSync(join(modules, '@aws-sdk'))) {
      mkdirSync(modules, { recursive: true });
      symlinkSync(options.sdkDir, join(modules, '@aws-sdk'), 'dir');
    }
    this.#taskRoot = join(options.workDir, options.spec.name);
    cpSync(options.spec.assetDir, this.#taskRoot, { recursive: true });
  }

  /** The last lines the function's instances wrote (its CloudWatch log, locally). */
  logTail(): string {
    return this.#log.join('\n');
  }

  /**
   * Invoke with `event`; resolves with the handler's result or rejects with LambdaInvocationError.
   * `observe` is told where the invocation's time went, whatever its outcome.
   */
  async invoke(event: unknown, observe?: (timing: InvocationTiming) => void): Promise<unknown> {
    this.stats.invocations++;
    const arrivedAt = Date.now();
    const calledAt = performance.now();
    const warm = [...this.#instances].find((i) => !i.busy && !i.exited);
    const instance = warm ?? this.#start();
    let sentAt: number | undefined;
    instance.busy = true;
    const timeoutMs = this.spec.timeoutSeconds * 1000;
    const initPhaseMs = this.#options.initPhaseMs ?? INIT_PHASE_MS;
    // The invocation's clock, as Lambda keeps it: a warm instance gets the whole timeout from now.
    // A cold one first has the init phase (up to INIT_PHASE_MS, outside the timeout); an init that
    // runs longer is, on AWS, stopped and re-run inside the invocation, counted in its timeout.
    let deadlineAt =
      instance.readyAt === undefined
        ? instance.startedAtEpoch + initPhaseMs + timeoutMs
        : arrivedAt + timeoutMs;
    let timer: NodeJS.Timeout | undefined;
    let timedOut!: (error: LambdaInvocationError) => void;
    const timeout = new Promise<never>((_resolve, reject) => {
      timedOut = reject;
    });
    timeout.catch(() => undefined);
    const arm = () => {
      clearTimeout(timer);
      timer = setTimeout(
        () => {
          const initNote =
            instance.readyAt === undefined
              ? ` (init had not finished: ${((Date.now() - instance.startedAtEpoch) / 1000).toFixed(1)} s)`
              : '';
          timedOut(
            new LambdaInvocationError(
              'Sandbox.Timedout',
              `Task timed out after ${this.spec.timeoutSeconds.toFixed(2)} seconds${initNote}`,
            ),
          );
          instance.child.kill('SIGKILL');
        },
        Math.max(0, deadlineAt - Date.now()),
      );
      timer.unref();
    };
    arm();
    try {
      await Promise.race([instance.ready, timeout]);
      const initMs = (instance.readyAt ?? arrivedAt) - instance.startedAtEpoch;
      if (instance.served === 0 && instance.readyAt !== undefined && initMs <= initPhaseMs) {
        // Init within Lambda's init phase: the timeout starts when the handler is called.
        deadlineAt = Math.max(arrivedAt, instance.readyAt) + timeoutMs;
        arm();
      }
      const id = randomUUID();
      sentAt = performance.now();
      const result = await Promise.race([
        new Promise<unknown>((resolve, reject) => {
          instance.pending = { id, resolve, reject };
          instance.child.send({ type: 'invoke', id, event, deadlineAt, functionArn: this.spec.arn });
        }),
        timeout,
      ]);
      if (instance.served++ === 0) this.stats.firstResponseMs.push(performance.now() - instance.startedAt);
      return result;
    } finally {
      clearTimeout(timer);
      instance.pending = undefined;
      instance.busy = false;
      if (observe) {
        const settledAt = performance.now();
        const waitedMs = (sentAt ?? settledAt) - calledAt;
        const processStartMs = warm ? 0 : Math.min(waitedMs, instance.bootMs ?? 0);
        const importMs = warm ? 0 : Math.min(waitedMs - processStartMs, instance.importMs ?? 0);
        observe({
          cold: warm === undefined,
          processStartMs,
          importMs,
          otherInitMs: warm ? 0 : waitedMs - processStartMs - importMs,
          handlerMs: sentAt === undefined ? 0 : settledAt - sentAt,
          totalMs: settledAt - calledAt,
        });
      }
    }
  }

  #start(): Instance {
    const { spec, awsEnv, nodePath, environmentOverrides } = this.#options;
    this.stats.coldStarts++;
    const environment: Record<string, string> = {
      ...spec.environment,
      ...environmentOverrides,
      ...awsEnv,
      AWS_LAMBDA_FUNCTION_NAME: spec.name,
      AWS_LAMBDA_FUNCTION_VERSION: '$LATEST',
      AWS_LAMBDA_FUNCTION_MEMORY_SIZE: String(spec.memoryMb),
      AWS_LAMBDA_LOG_GROUP_NAME: `/aws/lambda/${spec.name}`,
      AWS_LAMBDA_LOG_STREAM_NAME: `local/${randomUUID()}`,
      AWS_EXECUTION_ENV: `AWS_Lambda_${spec.runtime}`,
      LAMBDA_TASK_ROOT: this.#taskRoot,
      _HANDLER: spec.handler,
      TZ: 'UTC',
      LANG: 'en_US.UTF-8',
      PATH: `${dirname(nodePath)}:/usr/local/bin:/usr/bin:/bin`,
    };
    const startedAt = performance.now();
    const startedAtEpoch = Date.now();
    const child = fork(RUNTIME_PATH, [], {
      cwd: this.#taskRoot,
      env: environment,
      execPath: nodePath,
      execArgv: RUNTIME_NODE_FLAGS,
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
      serialization: 'json',
    });
    for (const stream of [child.stdout, child.stderr]) {
      stream?.setEncoding('utf8');
      stream?.on('data', (text: string) => {
        this.#log.push(...text.trimEnd().split('\n'));
        if (this.#log.length > LOG_TAIL_LINES) this.#log.splice(0, this.#log.length - LOG_TAIL_LINES);
      });
    }
    let markReady!: (ms: number) => void;
    let failInit!: (error: LambdaInvocationError) => void;
    const ready = new Promise<number>((resolve, reject) => {
      markReady = resolve;
      failInit = reject;
    });
    ready.catch(() => undefined);
    const instance: Instance = {
      child,
      startedAt,
      startedAtEpoch,
      ready,
      busy: false,
      served: 0,
      exited: false,
    };
    type Message =
      | { type: 'ready'; initMs: number; bootMs?: number }
      | {
          type: 'init-error' | 'error';
          id?: string;
          errorType: string;
          errorMessage: string;
          trace: string[];
        }
      | { type: 'result'; id: string; result: unknown };
    child.on('message', (message: Message) => {
      if (message.type === 'ready') {
        this.stats.initMs.push(performance.now() - startedAt);
        instance.importMs = message.initMs;
        if (message.bootMs !== undefined) instance.bootMs = message.bootMs;
        instance.readyAt = Date.now();
        if (instance.readyAt - startedAtEpoch > (this.#options.initPhaseMs ?? INIT_PHASE_MS)) {
          this.stats.initsOverPhase++;
        }
        markReady(message.initMs);
      } else if (message.type === 'init-error') {
        failInit(new LambdaInvocationError(message.errorType, message.errorMessage, message.trace));
      } else if (instance.pending && message.id === instance.pending.id) {
        if (message.type === 'result') instance.pending.resolve(message.result);
        else
          instance.pending.reject(
            new LambdaInvocationError(message.errorType, message.errorMessage, message.trace),
          );
      }
    });
    child.on('exit', (code, signal) => {
      instance.exited = true;
      this.#instances.delete(instance);
      const error = new LambdaInvocationError(
        'Runtime.ExitError',
        `RequestId: local Error: Runtime exited with error: ${signal ? `signal: ${signal}` : `exit status ${code}`}`,
      );
      failInit(error);
      instance.pending?.reject(error);
    });
    this.#instances.add(instance);
    return instance;
  }

  /** Kill every instance now, without waiting (a forced exit of the process that hosts them). */
  killSync(): void {
    for (const instance of this.#instances) if (!instance.exited) instance.child.kill('SIGKILL');
  }

  /** End every instance and wait for them to exit. */
  async close(): Promise<void> {
    await Promise.all(
      [...this.#instances].map(
        (instance) =>
          new Promise<void>((resolve) => {
            if (instance.exited) return resolve();
            instance.child.once('exit', () => resolve());
            instance.child.kill('SIGKILL');
          }),
      ),
    );
  }
}
