/**
 * Catalog module for plat: the inventories that `plat scan --publish` keeps in plat become
 * catalog entities.
 *
 * @packageDocumentation
 */

export { catalogModulePlat as default } from './module';
export { PlatEntityProvider } from './PlatEntityProvider';
