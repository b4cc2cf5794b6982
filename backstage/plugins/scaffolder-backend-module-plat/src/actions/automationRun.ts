import { createTemplateAction } from '@backstage/plugin-scaffolder-node';
import type { PlatCli } from '../PlatCli';
import { initiatorOf, keyValueArgs } from './common';

export function createAutomationRunAction(plat: PlatCli) {
  return createTemplateAction({
    id: 'plat:automation:run',
    description:
      "Runs one of the account's plat automations (plat automation run) and, by default, waits for its result",
    supportsDryRun: true,
    examples: [
      {
        description: 'Run an automation with a parameter and wait for it',
        example: [
          'steps:',
          '  - id: seed',
          '    action: plat:automation:run',
          '    input:',
          '      name: seed-database',
          '      params:',
          '        env: ${{ steps.env.output.name }}',
        ].join('\n'),
      },
    ],
    schema: {
      input: {
        name: z => z.string().describe('Automation name'),
        params: z =>
          z
            .record(z.union([z.string(), z.number(), z.boolean()]))
            .optional()
            .describe('Run parameters'),
        wait: z =>
          z
            .boolean()
            .optional()
            .describe("Wait for the run's result (default true); false queues it on the server"),
      },
      output: {
        runId: z => z.string().describe('The run, for `plat automation logs`'),
        status: z => z.string().describe('succeeded, failed, queued or running'),
      },
    },
    async handler(ctx) {
      const { input } = ctx;
      const args = ['automation', 'run', input.name, ...keyValueArgs('--param', input.params)];
      args.push(input.wait === false ? '--detach' : '--wait');
      if (ctx.isDryRun) {
        ctx.logger.info(`dry run: would run plat ${args.join(' ')}`);
        ctx.output('runId', '');
        ctx.output('status', 'dry-run');
        return;
      }
      const run = await plat.run<{ id: string; status: string }>({
        args,
        logger: ctx.logger,
        signal: ctx.signal,
        initiator: initiatorOf(ctx),
      });
      ctx.output('runId', run.id);
      ctx.output('status', run.status);
    },
  });
}
