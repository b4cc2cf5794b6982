import { coreServices, createBackendModule } from '@backstage/backend-plugin-api';
import { catalogProcessingExtensionPoint } from '@backstage/plugin-catalog-node';
import { PlatCredentials, readPlatConfig } from '@plat/backstage-plugin-plat-node';
import { PlatEntityProvider } from './PlatEntityProvider';

/**
 * Adds the plat entity provider to the catalog: published inventories, read on a schedule.
 * @public
 */
export const catalogModulePlat = createBackendModule({
  pluginId: 'catalog',
  moduleId: 'plat',
  register(reg) {
    reg.registerInit({
      deps: {
        catalog: catalogProcessingExtensionPoint,
        config: coreServices.rootConfig,
        logger: coreServices.logger,
        scheduler: coreServices.scheduler,
      },
      async init({ catalog, config, logger, scheduler }) {
        const plat = readPlatConfig(config);
        const catalogConfig = config.getOptionalConfig('plat.catalog');
        const accounts = catalogConfig?.getOptionalStringArray('accounts') ?? [
          plat.account,
        ];
        const provider = new PlatEntityProvider({
          config: plat,
          credentials: new PlatCredentials(plat),
          accounts,
          logger,
        });
        catalog.addEntityProvider(provider);
        const frequency = catalogConfig?.getOptional<object>('schedule.frequency') ?? {
          minutes: 5,
        };
        const timeout = catalogConfig?.getOptional<object>('schedule.timeout') ?? {
          minutes: 3,
        };
        await scheduler.scheduleTask({
          id: PlatEntityProvider.taskId,
          frequency,
          timeout,
          fn: () => provider.refresh(),
        });
      },
    });
  },
});
