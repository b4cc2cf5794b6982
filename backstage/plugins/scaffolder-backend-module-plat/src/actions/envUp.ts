import { createTemplateAction } from '@backstage/plugin-scaffolder-node';
import type { PlatCli } from '../PlatCli';
import { initiatorOf, keyValueArgs } from './common';

/** What `plat env up -o json` prints (the fields the action passes on). */
type Env = { name: string; expires_at: string; outputs?: Record<string, unknown> };

/** plat's stand-in for a sensitive output value: such outputs are left out of the task. */
const SENSITIVE = '(sensitive value)';

export function createEnvUpAction(plat: PlatCli) {
  return createTemplateAction({
    id: 'plat:env:up',
    description:
      'Provisions a short-lived plat environment from a template (plat env up); it is destroyed when it expires',
    supportsDryRun: true,
    examples: [
      {
        description: 'A demo environment for two hours',
        example: [
          'steps:',
          '  - id: env',
          '    action: plat:env:up',
          '    input:',
          '      name: ${{ parameters.name }}',
          '      template: demo',
          '      ttl: 2h',
          '      params:',
          '        node_count: "3"',
        ].join('\n'),
      },
    ],
    schema: {
      input: {
        name: z => z.string().describe('Environment name, unique in the account while it lives'),
        template: z =>
          z.string().optional().describe('Environment template (default: demo)'),
        params: z =>
          z
            .record(z.union([z.string(), z.number(), z.boolean()]))
            .optional()
            .describe('Template parameters'),
        ttl: z => z.string().optional().describe('Lifetime, e.g. 45m or 2h (default: the policy)'),
        idempotencyKey: z =>
          z
            .string()
            .optional()
            .describe('A retried step with the same key returns the first environment (default: task and step ids)'),
      },
      output: {
        name: z => z.string().describe('Environment name'),
        expiresAt: z => z.string().describe('When plat destroys it (RFC 3339)'),
        outputs: z =>
          z.record(z.unknown()).describe('Terraform outputs, sensitive values left out'),
      },
    },
    async handler(ctx) {
      const { input } = ctx;
      const args = ['env', 'up', input.name];
      if (input.template) args.push('--template', input.template);
      args.push(...keyValueArgs('--param', input.params));
      if (input.ttl) args.push('--ttl', input.ttl);
      args.push(
        '--idempotency-key',
        input.idempotencyKey ?? `backstage-${ctx.task.id}-${ctx.step?.id ?? input.name}`,
      );
      if (ctx.isDryRun) {
        // plat env up has no dry run: describe what would happen and provision nothing.
        ctx.logger.info(`dry run: would run plat ${args.join(' ')}`);
        ctx.output('name', input.name);
        ctx.output('expiresAt', '');
        ctx.output('outputs', {});
        return;
      }
      const env = await plat.run<Env>({
        args,
        logger: ctx.logger,
        signal: ctx.signal,
        initiator: initiatorOf(ctx),
      });
      ctx.output('name', env.name);
      ctx.output('expiresAt', env.expires_at);
      ctx.output(
        'outputs',
        Object.fromEntries(
          Object.entries(env.outputs ?? {}).filter(([, value]) => value !== SENSITIVE),
        ),
      );
    },
  });
}
