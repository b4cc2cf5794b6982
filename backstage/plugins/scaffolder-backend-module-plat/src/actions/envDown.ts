import { createTemplateAction } from '@backstage/plugin-scaffolder-node';
import type { PlatCli } from '../PlatCli';
import { initiatorOf } from './common';

export function createEnvDownAction(plat: PlatCli) {
  return createTemplateAction({
    id: 'plat:env:down',
    description:
      'Destroys a plat environment (plat env down); one already gone is not an error',
    supportsDryRun: true,
    examples: [
      {
        description: 'Destroy the environment an earlier step created',
        example: [
          'steps:',
          '  - id: down',
          '    action: plat:env:down',
          '    input:',
          '      name: ${{ steps.env.output.name }}',
        ].join('\n'),
      },
    ],
    schema: {
      input: {
        name: z => z.string().describe('Environment name'),
      },
      output: {
        name: z => z.string().describe('Environment name'),
        status: z => z.string().describe('Its status after the run, e.g. destroyed'),
      },
    },
    async handler(ctx) {
      const args = ['env', 'down', ctx.input.name, '--yes'];
      if (ctx.isDryRun) {
        ctx.logger.info(`dry run: would run plat ${args.join(' ')}`);
        ctx.output('name', ctx.input.name);
        ctx.output('status', 'dry-run');
        return;
      }
      const env = await plat.run<{ name: string; status: string }>({
        args,
        logger: ctx.logger,
        signal: ctx.signal,
        initiator: initiatorOf(ctx),
      });
      ctx.output('name', env.name);
      ctx.output('status', env.status);
    },
  });
}
