import type { PlatCli } from '../PlatCli';
import { createAutomationRunAction } from './automationRun';
import { createEnvDownAction } from './envDown';
import { createEnvUpAction } from './envUp';
import { createScaffoldAction } from './scaffold';
import { createScanAction } from './scan';

/**
 * Every plat action, running the plat binary through `plat`.
 * @public
 */
export function createPlatActions(plat: PlatCli) {
  return [
    createEnvUpAction(plat),
    createEnvDownAction(plat),
    createScanAction(plat),
    createAutomationRunAction(plat),
    createScaffoldAction(plat),
  ];
}
