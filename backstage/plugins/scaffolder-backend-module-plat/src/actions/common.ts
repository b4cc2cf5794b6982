import type { PlatInitiator } from '../PlatCli';

/** The fields of the action context that tell who started the task. */
type TaskUser = { user?: { ref?: string; entity?: { spec?: { profile?: { email?: string } } } } };

/** The Backstage user a task runs for, named in plat by the e-mail of their catalog entity. */
export function initiatorOf(ctx: TaskUser): PlatInitiator | undefined {
  if (!ctx.user?.ref) {
    return undefined;
  }
  return { ref: ctx.user.ref, email: ctx.user.entity?.spec?.profile?.email };
}

/** `--flag KEY=VALUE` for each parameter, in a stable order. */
export function keyValueArgs(flag: string, params: Record<string, unknown> | undefined): string[] {
  return Object.entries(params ?? {})
    .sort(([a], [b]) => a.localeCompare(b))
    .flatMap(([key, value]) => [
      flag,
      `${key}=${typeof value === 'string' ? value : JSON.stringify(value)}`,
    ]);
}
