/**
 * swarm-bench strategies pack|upload: a strategy package for the weekly pipeline. `pack` bundles
 * and validates the modules (in a local sandbox), writes `<out>/<sha256>.json` and prints the key,
 * the `aws s3 cp` line and the execution-input fragment; `upload` also puts it into the stack's
 * bucket (default AWS credentials) and prints the fragment naming it.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { InvalidInputError } from '../../lib/errors.ts';
import { packPlugins } from '../../lib/plugins/pack.ts';
import { checkPackageName } from '../../lib/plugins/package.ts';
import { pluginModules } from '../../lib/plugins/prepare.ts';
import { createProvider } from '../../lib/sandbox/index.ts';
import { AGENT_BUNDLE, directoryFlag, ensureAgentBundle, PLUGIN_BUNDLE_DIR, ROOT } from '../shared.ts';

const ACTIONS = ['pack', 'upload'] as const;
const BUCKET = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;

export async function strategiesCommand(argv: string[], env: NodeJS.ProcessEnv): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    options: {
      strategy: { type: 'string', multiple: true },
      'decision-rule': { type: 'string' },
      name: { type: 'string' },
      out: { type: 'string' },
      bucket: { type: 'string' },
    },
    strict: true,
    allowPositionals: true,
  });
  const [action, ...extra] = positionals;
  if (!ACTIONS.includes(action as (typeof ACTIONS)[number]) || extra.length > 0) {
    throw new InvalidInputError('action', `one of ${ACTIONS.join(', ')}`, positionals.join(' '));
  }
  if (!values.strategy?.length && values['decision-rule'] === undefined) {
    throw new InvalidInputError('--strategy', 'at least one module (or --decision-rule)');
  }
  if (action === 'upload' && !BUCKET.test(values.bucket ?? '')) {
    throw new InvalidInputError(
      '--bucket',
      "the stack's bucket name (its ReportBucket output)",
      values.bucket,
    );
  }
  if (action === 'pack' && values.bucket !== undefined) {
    throw new InvalidInputError('--bucket', 'only with upload', values.bucket);
  }
  if (values.name !== undefined) checkPackageName(values.name);
  const outDir = directoryFlag('--out', values.out, resolve(ROOT, '.swarm-bench/packages'));
  const modules = pluginModules({
    strategies: values.strategy,
    decisionRule: values['decision-rule'],
  });
  ensureAgentBundle();
  const packed = await packPlugins({
    root: ROOT,
    outDir: PLUGIN_BUNDLE_DIR,
    agentBundle: AGENT_BUNDLE,
    ...(values.name === undefined ? {} : { name: values.name }),
    modules,
    sandboxes: (bundlePath) => createProvider('local', { local: { bundlePath } }),
  });
  await mkdir(outDir, { recursive: true });
  const file = join(outDir, `${packed.sha256}.json`);
  await writeFile(file, packed.bytes);
  const bucket = values.bucket ?? '<bucket>';
  if (action === 'upload') {
    const s3 = new S3Client(env.AWS_REGION ? { region: env.AWS_REGION } : {});
    await s3.send(
      new PutObjectCommand({
        Bucket: bucket,
        Key: packed.key,
        Body: packed.bytes,
        ContentType: 'application/json',
      }),
    );
  }
  const url = `s3://${bucket}/${packed.key}`;
  process.stdout.write(
    `${JSON.stringify(
      {
        file,
        key: packed.key,
        sha256: packed.sha256,
        ...(action === 'pack' ? { upload: `aws s3 cp ${file} ${url}` } : { uploaded: url }),
        input: { plugins: { ...packed.manifest, package: url } },
      },
      null,
      2,
    )}\n`,
  );
  return 0;
}
