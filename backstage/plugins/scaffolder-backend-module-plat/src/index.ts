/**
 * Scaffolder actions that run the plat CLI.
 *
 * @packageDocumentation
 */

export { scaffolderModulePlat as default } from './module';
export { createPlatActions } from './actions';
export { PlatCli, PlatCommandError } from './PlatCli';
export type { PlatInitiator, PlatRunOptions } from './PlatCli';
