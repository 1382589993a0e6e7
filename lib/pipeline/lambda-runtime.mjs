// The Lambda Node.js runtime's part in a local run, in one plain ESM file run by the Node 22 binary
// (no TypeScript loader: the function's own bundle is all it imports). It starts as the runtime
// does: cwd is the task root, the handler module is loaded with import(), the handler is called
// with (event, context) once per invocation, and the process stays warm for the next one.
// Invocations arrive and results leave over the IPC channel of child_process.fork.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const taskRoot = process.cwd();
const handlerSpec = process.env._HANDLER ?? 'index.handler';
const dot = handlerSpec.lastIndexOf('.');
const moduleName = handlerSpec.slice(0, dot);
const exportName = handlerSpec.slice(dot + 1);

/** What the runtime reports for an error: its name is the errorType Step Functions matches. */
function describe(error) {
  const name = typeof error?.name === 'string' && error.name ? error.name : 'Error';
  const message = typeof error?.message === 'string' ? error.message : String(error);
  const trace = typeof error?.stack === 'string' ? error.stack.split('\n') : [];
  return { errorType: name, errorMessage: message, trace };
}

let handler;
const initStart = performance.now();
try {
  const file = ['.mjs', '.js', '.cjs'].map((ext) => join(taskRoot, `${moduleName}${ext}`)).find(existsSync);
  if (file === undefined) {
    throw Object.assign(new Error(`Cannot find module '${moduleName}'`), {
      name: 'Runtime.ImportModuleError',
    });
  }
  const module = await import(pathToFileURL(file).href);
  handler = module[exportName];
  if (typeof handler !== 'function') {
    throw Object.assign(new Error(`${handlerSpec} is undefined or not exported`), {
      name: 'Runtime.HandlerNotFound',
    });
  }
  // bootMs: the Node process's own start, up to this script (performance.now() counts from it).
  process.send({ type: 'ready', initMs: performance.now() - initStart, bootMs: initStart });
} catch (error) {
  process.send({ type: 'init-error', ...describe(error) }, () => process.exit(1));
}

process.on('message', async (message) => {
  if (message?.type !== 'invoke') return;
  const { id, event, deadlineAt } = message;
  const context = {
    awsRequestId: id,
    functionName: process.env.AWS_LAMBDA_FUNCTION_NAME,
    functionVersion: process.env.AWS_LAMBDA_FUNCTION_VERSION,
    invokedFunctionArn: message.functionArn,
    memoryLimitInMB: process.env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE,
    logGroupName: process.env.AWS_LAMBDA_LOG_GROUP_NAME,
    logStreamName: process.env.AWS_LAMBDA_LOG_STREAM_NAME,
    callbackWaitsForEmptyEventLoop: true,
    getRemainingTimeInMillis: () => Math.max(0, deadlineAt - Date.now()),
  };
  try {
    const result = await handler(event, context);
    process.send({ type: 'result', id, result: result === undefined ? null : result });
  } catch (error) {
    process.send({ type: 'error', id, ...describe(error) });
  }
});
