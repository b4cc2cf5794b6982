import { resolveSafeChildPath } from '@backstage/backend-plugin-api';
import { createTemplateAction } from '@backstage/plugin-scaffolder-node';
import { writeFile } from 'node:fs/promises';
import type { PlatCli } from '../PlatCli';
import { initiatorOf } from './common';

/** What `plat scaffold run -o json` prints (the fields the action passes on). */
type ScaffoldRun = {
  target: string;
  files: string[];
  output?: { links?: Array<{ title?: string; url?: string }>; text?: unknown[] };
};

export function createScaffoldAction(plat: PlatCli) {
  return createTemplateAction({
    id: 'plat:scaffold',
    description:
      "Renders a plat or Backstage software template into the workspace with plat's renderer (plat scaffold run)",
    supportsDryRun: true,
    examples: [
      {
        description: 'Render a built-in template into the workspace',
        example: [
          'steps:',
          '  - id: scaffold',
          '    action: plat:scaffold',
          '    input:',
          '      template: service',
          '      targetPath: app',
          '      values:',
          '        name: ${{ parameters.name }}',
        ].join('\n'),
      },
    ],
    schema: {
      input: {
        template: z =>
          z
            .string()
            .describe('A built-in template name, a directory, a template.yaml or a Git URL (#REF)'),
        targetPath: z =>
          z.string().optional().describe('Directory in the workspace (default: the workspace)'),
        values: z => z.record(z.unknown()).optional().describe("The template's parameters"),
        publish: z =>
          z
            .boolean()
            .optional()
            .describe("Run the template's publish:* steps (default false: the task publishes)"),
      },
      output: {
        files: z => z.array(z.string()).describe('Files written, relative to the target'),
        links: z =>
          z
            .array(z.object({ title: z.string().optional(), url: z.string().optional() }))
            .describe("The template's output links"),
      },
    },
    async handler(ctx) {
      const { input } = ctx;
      const target = resolveSafeChildPath(ctx.workspacePath, input.targetPath ?? '.');
      const valuesDir = await ctx.createTemporaryDirectory();
      const valuesFile = resolveSafeChildPath(valuesDir, 'plat-values.json');
      // JSON is YAML: the values reach plat as a file, never on the command line.
      await writeFile(valuesFile, JSON.stringify(input.values ?? {}));
      const args = ['scaffold', 'run', input.template, target, '--values', valuesFile, '--force'];
      if (!input.publish) args.push('--no-git');
      if (ctx.isDryRun) args.push('--dry-run');
      const run = await plat.run<ScaffoldRun>({
        args,
        logger: ctx.logger,
        signal: ctx.signal,
        initiator: initiatorOf(ctx),
        cwd: ctx.workspacePath,
      });
      ctx.output('files', run.files ?? []);
      ctx.output('links', run.output?.links ?? []);
    },
  });
}
