import type { LoggerService } from '@backstage/backend-plugin-api';
import type { PlatConfig, PlatCredentials } from '@plat/backstage-plugin-plat-node';
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

/** plat's documented exit codes (`plat help exit-codes`) that an action explains. */
const EXIT_CHECK_FAILED = 3;
const EXIT_CREDENTIALS = 4;
const EXIT_PERMISSION = 5;
const EXIT_QUOTA = 6;
const EXIT_CANCELLED = 130;

/** plat's error document, printed on stderr with `-o json`. */
type PlatErrorDetail = { code?: string; message?: string; hint?: string };

/**
 * A plat command that failed, with plat's own message and hint.
 * @public
 */
export class PlatCommandError extends Error {
  constructor(
    message: string,
    readonly exitCode: number | null,
    readonly detail?: PlatErrorDetail,
  ) {
    super(message);
    this.name = 'PlatCommandError';
  }
}

/** Who started the task: plat applies this user's rules when the service may act for users. */
export type PlatInitiator = { ref?: string; email?: string };

export type PlatRunOptions = {
  args: string[];
  logger: LoggerService;
  signal?: AbortSignal;
  /** The Backstage user the task runs for. */
  initiator?: PlatInitiator;
  /** Working directory, e.g. the task's workspace. */
  cwd?: string;
};

/**
 * Runs the plat binary as the configured service identity: `--no-input -o json`, stderr lines
 * into the task log as they come, stdout parsed as plat's JSON answer. Its environment is built
 * from app-config.yaml alone (plus PATH), in a private config and data directory.
 * @public
 */
export class PlatCli {
  constructor(
    private readonly config: PlatConfig,
    private readonly credentials: PlatCredentials,
  ) {}

  async run<T = unknown>(options: PlatRunOptions): Promise<T> {
    const home = await mkdtemp(join(tmpdir(), 'plat-backstage-'));
    try {
      const env = await this.environment(home, options.initiator);
      return await this.spawnPlat<T>(options, env);
    } finally {
      await rm(home, { recursive: true, force: true });
    }
  }

  /** The inventory's catalog URL on the server, for a task's links. */
  inventoryUrl(name: string): string {
    return `${this.config.server}/api/v1/inventories/${encodeURIComponent(name)}/entities`;
  }

  private async environment(
    home: string,
    initiator: PlatInitiator | undefined,
  ): Promise<NodeJS.ProcessEnv> {
    const configDir = join(home, 'config');
    const dataDir = join(home, 'data');
    await mkdir(configDir, { recursive: true });
    await mkdir(dataDir, { recursive: true });
    await writeFile(
      join(configDir, 'config.yaml'),
      `current_context: backstage\ncontexts:\n- name: backstage\n  server: ${JSON.stringify(
        this.config.server,
      )}\n`,
    );
    const env: NodeJS.ProcessEnv = {
      PATH: process.env.PATH,
      HOME: home,
      PLAT_CONFIG_DIR: configDir,
      PLAT_DATA_DIR: dataDir,
      PLAT_TOKEN: await this.credentials.token(),
      PLAT_NO_PROGRESS: '1',
      NO_COLOR: '1',
      ...this.config.environment,
    };
    if (this.config.account) {
      env.PLAT_ACCOUNT = this.config.account;
    }
    if (this.config.actOnBehalfOfUser && initiator?.ref) {
      if (!initiator.email) {
        throw new PlatCommandError(
          `plat: cannot act for ${initiator.ref}: its catalog entity has no spec.profile.email, ` +
            'which names the user in plat (or set plat.actOnBehalfOfUser: false to act as the service)',
          null,
        );
      }
      env.PLAT_ON_BEHALF_OF = initiator.email;
    }
    return env;
  }

  private spawnPlat<T>(options: PlatRunOptions, env: NodeJS.ProcessEnv): Promise<T> {
    const args = [...options.args, '--no-input', '-o', 'json'];
    const { logger, signal } = options;
    if (signal?.aborted) {
      return Promise.reject(new PlatCommandError('plat was cancelled before it started', null));
    }
    logger.info(`plat ${args.join(' ')}`);
    return new Promise<T>((resolve, reject) => {
      const child = spawn(this.config.binary, args, {
        cwd: options.cwd,
        env,
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      const cancel = () => child.kill('SIGINT');
      signal?.addEventListener('abort', cancel, { once: true });
      let stdout = '';
      let errorDetail: PlatErrorDetail | undefined;
      child.stdout.setEncoding('utf8').on('data', chunk => {
        stdout += chunk;
      });
      const stderrLines = createInterface({ input: child.stderr });
      stderrLines.on('line', line => {
        const detail = parseErrorLine(line);
        if (detail) {
          errorDetail = detail;
        } else if (line.trim()) {
          logger.info(line);
        }
      });
      const stderrDone = new Promise(done => stderrLines.once('close', done));
      child.once('error', err => {
        signal?.removeEventListener('abort', cancel);
        reject(
          new PlatCommandError(
            `plat: cannot run ${this.config.binary} (plat.binary): ${err.message}`,
            null,
          ),
        );
      });
      child.once('close', async code => {
        signal?.removeEventListener('abort', cancel);
        await stderrDone;
        if (code === 0) {
          try {
            resolve((stdout.trim() ? JSON.parse(stdout) : {}) as T);
          } catch (err) {
            reject(new PlatCommandError(`plat printed no JSON: ${err}`, code));
          }
          return;
        }
        reject(failure(code, signal?.aborted ?? false, errorDetail));
      });
    });
  }
}

function parseErrorLine(line: string): PlatErrorDetail | undefined {
  if (!line.startsWith('{"error"')) {
    return undefined;
  }
  try {
    return (JSON.parse(line) as { error?: PlatErrorDetail }).error;
  } catch {
    return undefined;
  }
}

function failure(
  code: number | null,
  cancelled: boolean,
  detail: PlatErrorDetail | undefined,
): PlatCommandError {
  const said = detail?.message ?? 'no error message';
  const hint = detail?.hint ? ` (hint: ${detail.hint})` : '';
  if (cancelled || code === EXIT_CANCELLED) {
    return new PlatCommandError(`plat was cancelled: ${said}`, code, detail);
  }
  switch (code) {
    case EXIT_CHECK_FAILED:
      return new PlatCommandError(`plat: the check failed: ${said}${hint}`, code, detail);
    case EXIT_CREDENTIALS:
      return new PlatCommandError(
        `plat rejected the service credentials (plat.token or plat.oidc in app-config.yaml): ${said}${hint}`,
        code,
        detail,
      );
    case EXIT_PERMISSION:
      return new PlatCommandError(`plat denied permission: ${said}${hint}`, code, detail);
    case EXIT_QUOTA:
      return new PlatCommandError(
        `plat refused: quota or policy limit reached: ${said}${hint}`,
        code,
        detail,
      );
    default:
      return new PlatCommandError(`plat failed (exit ${code}): ${said}${hint}`, code, detail);
  }
}
