/*
 * Both plat modules in a real Backstage backend: the scaffolder and catalog plugins from npm,
 * started by startTestBackend, against a real `plat server` with users and a service identity
 * that tests/cli/backstage.rs set up (it runs this file and passes the PLAT_E2E_* variables).
 */
import {
  coreServices,
  createBackendModule,
  type LoggerService,
  type SchedulerService,
} from '@backstage/backend-plugin-api';
import {
  mockCredentials,
  mockServices,
  startTestBackend,
} from '@backstage/backend-test-utils';
import catalogPlugin from '@backstage/plugin-catalog-backend';
import catalogModuleScaffolderEntityModel from '@backstage/plugin-catalog-backend-module-scaffolder-entity-model';
import scaffolderPlugin from '@backstage/plugin-scaffolder-backend';
import catalogModulePlat, {
  PlatEntityProvider,
} from '@plat/backstage-plugin-catalog-backend-module-plat';
import { PlatCredentials } from '@plat/backstage-plugin-plat-node';
import scaffolderModulePlat, {
  PlatCli,
  PlatCommandError,
} from '@plat/backstage-plugin-scaffolder-backend-module-plat';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import request from 'supertest';

jest.setTimeout(600_000);

function required(name: string): string {
  const value = process.env[name];
  if (!value) {
    throw new Error(`${name} is not set: run this test through cargo test --test cli backstage::`);
  }
  return value;
}

const plat = {
  server: required('PLAT_E2E_SERVER'),
  binary: required('PLAT_E2E_BINARY'),
  token: required('PLAT_E2E_TOKEN'),
  account: required('PLAT_E2E_ACCOUNT'),
  iacBin: required('PLAT_E2E_IAC_BIN'),
};

/** The scheduler the catalog was given, so the test can run the provider when it wants. */
let catalogScheduler: SchedulerService | undefined;
const captureScheduler = createBackendModule({
  pluginId: 'catalog',
  moduleId: 'e2e-scheduler',
  register(reg) {
    reg.registerInit({
      deps: { scheduler: coreServices.scheduler },
      async init({ scheduler }) {
        catalogScheduler = scheduler;
      },
    });
  },
});

type Backend = Awaited<ReturnType<typeof startTestBackend>>;
type TaskEvent = { type: string; body: { message?: string; output?: any; status?: string } };

async function until<T>(what: string, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + 120_000;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`gave up waiting for ${what}`);
    await new Promise(done => setTimeout(done, 250));
  }
}

describe('plat modules in a Backstage backend', () => {
  let backend: Backend;

  beforeAll(async () => {
    backend = await startTestBackend({
      features: [
        mockServices.rootConfig.factory({
          data: {
            catalog: {
              rules: [{ allow: ['User', 'Template', 'System', 'Resource', 'Component', 'Location'] }],
              locations: [
                { type: 'file', target: resolve(__dirname, '../fixtures/catalog.yaml') },
              ],
            },
            plat: {
              server: plat.server,
              binary: plat.binary,
              token: plat.token,
              environment: { PLAT_IAC_BIN: plat.iacBin },
              catalog: { accounts: [plat.account] },
            },
          },
        }),
        catalogPlugin,
        catalogModuleScaffolderEntityModel,
        scaffolderPlugin,
        scaffolderModulePlat,
        catalogModulePlat,
        captureScheduler,
      ],
    });
    // The users and the template come from a file location, processed in the background.
    const known = (ref: string) =>
      until(ref, async () => {
        const res = await request(backend.server).get(`/api/catalog/entities/by-name/${ref}`);
        return res.status === 200 ? true : undefined;
      }).catch(async err => {
        // Why the catalog did not take it: the location's processing errors.
        const locations = await request(backend.server)
          .get('/api/catalog/entities')
          .query({ filter: 'kind=location' });
        throw new Error(`${err.message}: ${JSON.stringify(locations.body.map((l: any) => l.status))}`);
      });
    await Promise.all(
      [
        'user/default/alice',
        'user/default/carol',
        'user/default/nomail',
        'template/default/plat-env-lifecycle',
        'template/default/plat-env-teardown',
        'template/default/plat-automation',
      ].map(known),
    );
  });

  afterAll(async () => {
    await backend?.stop();
  });

  async function runTask(user: string, values: Record<string, unknown>, template = 'plat-env-lifecycle') {
    const created = await request(backend.server)
      .post('/api/scaffolder/v2/tasks')
      .set('Authorization', mockCredentials.user.header(`user:default/${user}`))
      .send({ templateRef: `template:default/${template}`, values });
    expect(created.status).toBe(201);
    const taskId: string = created.body.id;
    const status = await until(`task ${taskId}`, async () => {
      const res = await request(backend.server).get(`/api/scaffolder/v2/tasks/${taskId}`);
      return ['completed', 'failed', 'cancelled'].includes(res.body.status) ? res.body.status : undefined;
    });
    const events: TaskEvent[] = (
      await request(backend.server).get(`/api/scaffolder/v2/tasks/${taskId}/events`)
    ).body;
    const log = events.filter(e => e.type === 'log').map(e => e.body.message ?? '');
    const completion = events.find(e => e.type === 'completion');
    return { status: status as string, log, output: completion?.body.output, completion };
  }

  const cliWith = (token: string) =>
    new PlatCli(
      {
        server: plat.server,
        binary: plat.binary,
        token,
        actOnBehalfOfUser: true,
        environment: { PLAT_IAC_BIN: plat.iacBin },
      },
      new PlatCredentials({ token }),
    );
  /** A task logger that hands each line to `onLine`. */
  const logger = (onLine: (line: string) => void = () => {}): LoggerService => {
    const log: LoggerService = {
      info: onLine,
      warn: onLine,
      error: onLine,
      debug: () => {},
      child: () => log,
    };
    return log;
  };

  async function refreshCatalog() {
    await catalogScheduler!.triggerTask(PlatEntityProvider.taskId);
  }

  async function entity(ref: string) {
    const res = await request(backend.server).get(`/api/catalog/entities/by-name/${ref}`);
    return res.status === 200 ? res.body : undefined;
  }

  it('lists the five plat actions with their schemas', async () => {
    const res = await request(backend.server).get('/api/scaffolder/v2/actions');
    const actions = res.body.filter((a: { id: string }) => a.id.startsWith('plat:'));
    expect(actions.map((a: { id: string }) => a.id).sort()).toEqual([
      'plat:automation:run',
      'plat:env:down',
      'plat:env:up',
      'plat:scaffold',
      'plat:scan',
    ]);
    const up = actions.find((a: { id: string }) => a.id === 'plat:env:up');
    expect(up.schema.input.required).toEqual(['name']);
    expect(Object.keys(up.schema.output.properties).sort()).toEqual(['expiresAt', 'name', 'outputs']);
    expect(up.examples[0].example).toContain('action: plat:env:up');
  });

  it('provisions, scans and publishes for the user; the entities reach the catalog through the provider', async () => {
    const task = await runTask('alice', { name: 'bs-kept', keep: true });
    expect(task.log.join('\n')).toContain('Ready environment bs-kept');
    expect(task.status).toBe('completed');
    expect(task.output.text[0].content).toMatch(/^bs-kept expires \d{4}-\d\d-\d\dT.* with 4 resources$/);
    expect(task.output.links[0].url).toBe(`${plat.server}/api/v1/inventories/env-bs-kept/entities`);

    await refreshCatalog();
    const system = await until('env-bs-kept in the catalog', () => entity('system/default/env-bs-kept'));
    const location = `url:${plat.server}/api/v1/inventories/env-bs-kept/entities`;
    expect(system.metadata.annotations['backstage.io/managed-by-location']).toBe(location);
    expect(system.metadata.annotations['backstage.io/managed-by-origin-location']).toBe(location);
    const resources = await request(backend.server)
      .get('/api/catalog/entities/by-query')
      .query({ filter: 'kind=resource,metadata.annotations.appgear.io/workspace-id=bs-kept' });
    expect(resources.body.items).toHaveLength(4);
  });

  it('removes the entities once the environment is down and the provider runs again', async () => {
    const task = await runTask('alice', { name: 'bs-kept' }, 'plat-env-teardown');
    expect(task.status).toBe('completed');
    expect(task.output.text[0].content).toBe('bs-kept destroyed');
    await refreshCatalog();
    await until('env-bs-kept to leave the catalog', async () =>
      (await entity('system/default/env-bs-kept')) ? undefined : true,
    );
  });

  it('runs up, scan with publish and down in one task', async () => {
    const task = await runTask('alice', { name: 'bs-life' });
    expect(task.status).toBe('completed');
    const log = task.log.join('\n');
    expect(log).toContain('Published inventory');
    expect(log).toContain('Destroyed environment bs-life');
    expect(task.output.text[0].content).toMatch(/^bs-life expires .* with 4 resources$/);
    await refreshCatalog();
    expect(await entity('system/default/env-bs-life')).toBeUndefined();
  });

  it("refuses over the user's quota with plat's message (exit 6)", async () => {
    const task = await runTask('alice', { name: 'bs-over' });
    expect(task.status).toBe('failed');
    const log = task.log.join('\n');
    expect(log).toContain(
      'plat refused: quota or policy limit reached: environment quota reached: 2/2 used today',
    );
    expect(log).toContain('(hint: destroyed environments still count');
  });

  it("refuses a user without envs:write with plat's message (exit 5)", async () => {
    const task = await runTask('carol', { name: 'bs-carol' });
    expect(task.status).toBe('failed');
    expect(task.log.join('\n')).toContain(
      "plat denied permission: carol@acme.test lacks the permission 'envs:write' in account 'acme'",
    );
  });

  it('refuses to act for a user whose entity names no e-mail', async () => {
    const task = await runTask('nomail', { name: 'bs-nomail' });
    expect(task.status).toBe('failed');
    expect(task.log.join('\n')).toContain('cannot act for user:default/nomail');
  });

  it("runs an automation of the user's account and hands back the run", async () => {
    const task = await runTask('alice', { who: 'backstage' }, 'plat-automation');
    expect(task.status).toBe('completed');
    expect(task.output.text[0].content).toMatch(/^succeeded [0-9a-z]{26}$/);
  });

  it('dry-runs a template: plat:env:up describes itself, plat:scaffold renders without writing', async () => {
    const template = {
      apiVersion: 'scaffolder.backstage.io/v1beta3',
      kind: 'Template',
      metadata: { name: 'plat-dry-run' },
      spec: {
        owner: 'user:default/alice',
        type: 'service',
        parameters: [],
        steps: [
          { id: 'env', action: 'plat:env:up', input: { name: 'bs-dry' } },
          {
            id: 'docs',
            action: 'plat:scaffold',
            input: { template: 'docs-site', targetPath: 'docs', values: { name: 'handbook', owner: 'group:default/platform' } },
          },
        ],
        output: { text: [{ title: 'files', content: '${{ steps.docs.output.files | length }}' }] },
      },
    };
    const res = await request(backend.server)
      .post('/api/scaffolder/v2/dry-run')
      .set('Authorization', mockCredentials.user.header('user:default/alice'))
      .send({ template, values: {}, secrets: {}, directoryContents: [] });
    expect(res.status).toBe(200);
    const log = res.body.log.map((l: { body: { message: string } }) => l.body.message).join('\n');
    expect(log).toContain('dry run: would run plat env up bs-dry');
    expect(log).toContain('--dry-run');
    expect(Number(res.body.output.text[0].content)).toBeGreaterThan(0);
    // Nothing was provisioned: plat never heard of bs-dry.
    const envs = await cliWith(plat.token).run<Array<{ name: string }>>({
      args: ['env', 'list', '--all'],
      logger: logger(),
    });
    expect(envs.map(e => e.name)).not.toContain('bs-dry');
  });

  describe('the plat runner', () => {
    it('names the service credentials when plat rejects them (exit 4)', async () => {
      const failure = cliWith('not-a-token').run({ args: ['env', 'list'], logger: logger() });
      await expect(failure).rejects.toThrow(
        /^plat rejected the service credentials \(plat\.token or plat\.oidc in app-config\.yaml\): .+/,
      );
      await expect(failure).rejects.toMatchObject({ exitCode: 4 });
    });

    it("fails a scan with findings at or above failOn with plat's message (exit 3)", async () => {
      const dir = await mkdtemp(join(tmpdir(), 'plat-e2e-scan-'));
      await writeFile(
        join(dir, 'web.yaml'),
        'apiVersion: apps/v1\nkind: Deployment\nmetadata: { name: web }\nspec:\n  template:\n    spec:\n      containers:\n        - { name: web, image: nginx:latest }\n',
      );
      const lines: string[] = [];
      const failure = cliWith(plat.token).run({
        args: ['scan', dir, '--fail-on', 'warning'],
        logger: logger(line => lines.push(line)),
      });
      await expect(failure).rejects.toThrow(
        /^plat: the check failed: scan found \d+ findings at or above --fail-on warning \(hint: /,
      );
      expect(lines.join('\n')).toMatch(/Scanned 1 resources/);
      await rm(dir, { recursive: true, force: true });
    });

    it('passes cancellation on to plat as SIGINT', async () => {
      const controller = new AbortController();
      // Cancel once Terraform runs (plat then stops it and exits 130): no clock involved.
      const run = cliWith(plat.token).run({
        args: ['env', 'up', `bs-cancel-${process.pid}`, '--template', 'demo'],
        logger: logger(line => line.startsWith('Running terraform') && controller.abort()),
        signal: controller.signal,
      });
      const error: PlatCommandError = await run.then(
        () => {
          throw new Error('plat env up finished despite the cancellation');
        },
        err => err,
      );
      expect(error.message).toMatch(/^plat was cancelled: /);
      expect(error.exitCode).toBe(130);
    });
  });
});
