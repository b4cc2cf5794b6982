import type { LoggerService } from '@backstage/backend-plugin-api';
import {
  ANNOTATION_LOCATION,
  ANNOTATION_ORIGIN_LOCATION,
  type Entity,
} from '@backstage/catalog-model';
import type {
  DeferredEntity,
  EntityProvider,
  EntityProviderConnection,
} from '@backstage/plugin-catalog-node';
import {
  type PlatConfig,
  type PlatCredentials,
  platFetch,
} from '@plat/backstage-plugin-plat-node';
import { parseAllDocuments } from 'yaml';

type Inventory = { name: string; account: string; env?: string | null };
type Env = { name: string };

/**
 * Reads every inventory published in the configured plat accounts and hands the catalog the
 * whole set each time (a full mutation), so what plat no longer has leaves the catalog. An
 * inventory of an environment that is gone is no longer plat's: it is left out.
 * @public
 */
export class PlatEntityProvider implements EntityProvider {
  static readonly taskId = 'plat-entity-provider:refresh';
  private connection?: EntityProviderConnection;

  constructor(
    private readonly options: {
      config: Pick<PlatConfig, 'server'>;
      credentials: PlatCredentials;
      /** `undefined` stands for the service identity's own account. */
      accounts: Array<string | undefined>;
      logger: LoggerService;
    },
  ) {}

  getProviderName(): string {
    return 'plat';
  }

  async connect(connection: EntityProviderConnection): Promise<void> {
    this.connection = connection;
  }

  async refresh(): Promise<void> {
    if (!this.connection) {
      throw new Error('plat: the entity provider is not connected to the catalog yet');
    }
    const entities: DeferredEntity[] = [];
    for (const account of this.options.accounts) {
      entities.push(...(await this.readAccount(account)));
    }
    await this.connection.applyMutation({ type: 'full', entities });
    this.options.logger.info(
      `plat: ${entities.length} entities from ${this.options.accounts.length} account(s)`,
    );
  }

  private async readAccount(account: string | undefined): Promise<DeferredEntity[]> {
    const { config, credentials } = this.options;
    const get = (path: string) => platFetch(config, credentials, path, account);
    const inventories = (await (await get('/inventories')).json()) as Inventory[];
    const liveEnvs = new Set(
      ((await (await get('/envs')).json()) as Env[]).map(env => env.name),
    );
    const entities: DeferredEntity[] = [];
    for (const inventory of inventories) {
      if (inventory.env && !liveEnvs.has(inventory.env)) {
        continue;
      }
      const path = `/inventories/${encodeURIComponent(inventory.name)}/entities`;
      const location = `url:${config.server}/api/v1${path}`;
      const text = await (await get(path)).text();
      for (const entity of parseEntities(text, location)) {
        entities.push({
          entity: withLocation(entity, location),
          locationKey: `plat:${inventory.account}/${inventory.name}`,
        });
      }
    }
    return entities;
  }
}

function parseEntities(text: string, location: string): Entity[] {
  const entities: Entity[] = [];
  for (const document of parseAllDocuments(text)) {
    if (document.errors.length > 0) {
      throw new Error(`plat: ${location} is not valid YAML: ${document.errors[0].message}`);
    }
    const value = document.toJSON();
    if (value) {
      entities.push(value as Entity);
    }
  }
  return entities;
}

/** Without both location annotations the catalog never shows an entity. */
function withLocation(entity: Entity, location: string): Entity {
  return {
    ...entity,
    metadata: {
      ...entity.metadata,
      annotations: {
        ...entity.metadata.annotations,
        [ANNOTATION_LOCATION]: location,
        [ANNOTATION_ORIGIN_LOCATION]: location,
      },
    },
  };
}
