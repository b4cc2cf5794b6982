import { coreServices, createBackendModule } from '@backstage/backend-plugin-api';
import { scaffolderActionsExtensionPoint } from '@backstage/plugin-scaffolder-node';
import { PlatCredentials, readPlatConfig } from '@plat/backstage-plugin-plat-node';
import { createPlatActions } from './actions';
import { PlatCli } from './PlatCli';

/**
 * Adds the plat actions to the scaffolder: plat:env:up, plat:env:down, plat:scan,
 * plat:automation:run and plat:scaffold.
 * @public
 */
export const scaffolderModulePlat = createBackendModule({
  pluginId: 'scaffolder',
  moduleId: 'plat',
  register(reg) {
    reg.registerInit({
      deps: {
        scaffolder: scaffolderActionsExtensionPoint,
        config: coreServices.rootConfig,
      },
      async init({ scaffolder, config }) {
        const plat = readPlatConfig(config);
        scaffolder.addActions(
          ...createPlatActions(new PlatCli(plat, new PlatCredentials(plat))),
        );
      },
    });
  },
});
