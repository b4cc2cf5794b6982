import { resolveSafeChildPath } from '@backstage/backend-plugin-api';
import { createTemplateAction } from '@backstage/plugin-scaffolder-node';
import { basename } from 'node:path';
import type { PlatCli } from '../PlatCli';
import { initiatorOf } from './common';

/** The summary of plat's scan document (schema_version 1). */
type ScanReport = {
  summary: {
    resources: number;
    findings: { error: number; warning: number; note: number };
  };
};

export function createScanAction(plat: PlatCli) {
  return createTemplateAction({
    id: 'plat:scan',
    description:
      "Scans manifests in the workspace or an environment's Terraform state (plat scan); with publish, the inventory reaches the Backstage catalog",
    supportsDryRun: true,
    examples: [
      {
        description: 'Scan the environment an earlier step created and publish its inventory',
        example: [
          'steps:',
          '  - id: scan',
          '    action: plat:scan',
          '    input:',
          '      env: ${{ steps.env.output.name }}',
          '      publish: true',
        ].join('\n'),
      },
      {
        description: 'Scan the manifests the template wrote, failing on warnings',
        example: [
          'steps:',
          '  - id: scan',
          '    action: plat:scan',
          '    input:',
          '      path: deploy',
          '      failOn: warning',
        ].join('\n'),
      },
    ],
    schema: {
      input: {
        path: z =>
          z.string().optional().describe('Manifest file or directory, relative to the workspace'),
        env: z =>
          z.string().optional().describe("Environment whose Terraform state to scan"),
        publish: z =>
          z.boolean().optional().describe('Keep the inventory in plat for the Backstage catalog'),
        publishName: z =>
          z
            .string()
            .optional()
            .describe('Inventory name (default: env-NAME, or the directory name)'),
        failOn: z =>
          z
            .enum(['error', 'warning', 'never'])
            .optional()
            .describe('Lowest finding severity that fails the step (default: never)'),
      },
      output: {
        resources: z => z.number().describe('Resources found'),
        errors: z => z.number().describe('Findings of severity error'),
        warnings: z => z.number().describe('Findings of severity warning'),
        notes: z => z.number().describe('Findings of severity note'),
        inventory: z => z.string().optional().describe('Name of the published inventory'),
        inventoryUrl: z =>
          z.string().optional().describe("The published inventory's catalog entities on plat"),
      },
    },
    async handler(ctx) {
      const { input } = ctx;
      if (!input.path === !input.env) {
        throw new Error('plat:scan: give exactly one of path and env');
      }
      const args = ['scan'];
      let inventory: string;
      if (input.path) {
        const path = resolveSafeChildPath(ctx.workspacePath, input.path);
        args.push(path);
        inventory = input.publishName ?? basename(path);
      } else {
        args.push('--env', input.env!);
        inventory = input.publishName ?? `env-${input.env}`;
      }
      args.push('--fail-on', input.failOn ?? 'never');
      // A dry run keeps nothing in plat, and an environment a dry run "created" does not exist.
      const publish = Boolean(input.publish) && !ctx.isDryRun;
      if (publish) {
        args.push('--publish', '--publish-name', inventory);
      }
      if (ctx.isDryRun && input.env) {
        ctx.logger.info(`dry run: would run plat ${args.join(' ')}`);
        for (const count of ['resources', 'errors', 'warnings', 'notes'] as const) {
          ctx.output(count, 0);
        }
        return;
      }
      const report = await plat.run<ScanReport>({
        args,
        logger: ctx.logger,
        signal: ctx.signal,
        initiator: initiatorOf(ctx),
        cwd: ctx.workspacePath,
      });
      ctx.output('resources', report.summary.resources);
      ctx.output('errors', report.summary.findings.error);
      ctx.output('warnings', report.summary.findings.warning);
      ctx.output('notes', report.summary.findings.note);
      if (publish) {
        ctx.output('inventory', inventory);
        ctx.output('inventoryUrl', plat.inventoryUrl(inventory));
      }
    },
  });
}
