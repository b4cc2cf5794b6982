/**
 * Shared by plat's Backstage modules: the `plat` block of app-config.yaml and the service
 * credentials it names.
 *
 * @packageDocumentation
 */

export { readPlatConfig } from './config';
export type { PlatConfig, PlatOidcConfig } from './config';
export { PlatCredentials } from './credentials';
export { PlatApiError, platFetch } from './api';
