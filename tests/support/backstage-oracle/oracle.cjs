#!/usr/bin/env node
// The conformance oracle for `plat scaffold`: renders with Backstage's own scaffolder code, as
// pinned in package-lock.json. Nothing here re-implements Backstage; it only wires its parts.
//
//   node oracle.cjs render TEMPLATE_DIR VALUES_JSON OUT_DIR
//     ORACLE_USER (optional, JSON {ref, entity}) is the user the template sees as `user`.
//     Runs Backstage's dry run (createDryRunner → NunjucksWorkflowRunner with isDryRun) on the
//     template, with Backstage's built-in actions plus the GitHub and GitLab modules' publish
//     actions. Writes the resulting workspace to OUT_DIR and prints {output} or {error} as JSON.
//   node oracle.cjs expressions < CASES_JSON
//     CASES_JSON is [{template, context}]. For each case prints {value} (the step-value render:
//     NunjucksWorkflowRunner.render with JSON coercion; absent when the key would be dropped)
//     and {text} or {text_error} (the plain render used for file contents).
'use strict';

const fs = require('node:fs');
const path = require('node:path');
const os = require('node:os');
const { pathToFileURL } = require('node:url');

const backendDist = path.dirname(require.resolve('@backstage/plugin-scaffolder-backend'));
const { NunjucksWorkflowRunner } = require(
  path.join(backendDist, 'scaffolder/tasks/NunjucksWorkflowRunner.cjs.js'),
);
const { createDryRunner } = require(path.join(backendDist, 'scaffolder/dryrun/createDryRunner.cjs.js'));
const backend = require('@backstage/plugin-scaffolder-backend');
const { ScmIntegrations } = require('@backstage/integration');
const { ConfigReader } = require('@backstage/config');
const nunjitsu = require('nunjitsu');

const integrations = ScmIntegrations.fromConfig(new ConfigReader({}));
const noop = () => {};
const metrics = new Proxy({}, { get: () => () => ({ add: noop, record: noop }) });
const logger = {
  info: noop,
  warn: noop,
  error: noop,
  debug: noop,
  child() {
    return logger;
  },
};

function builtinActions() {
  const reader = {
    readUrl: async () => {
      throw new Error('remote reads are not available offline');
    },
    readTree: async () => {
      throw new Error('remote reads are not available offline');
    },
  };
  const actions = [
    backend.createFetchTemplateAction({ reader, integrations }),
    backend.createFetchTemplateFileAction({ reader, integrations }),
    backend.createFetchPlainAction({ reader, integrations }),
    backend.createFetchPlainFileAction({ reader, integrations }),
    backend.createFilesystemRenameAction(),
    backend.createFilesystemDeleteAction(),
    backend.createDebugLogAction(),
    backend.createCatalogWriteAction(),
    backend.createCatalogRegisterAction({ catalogClient: {}, integrations, auth: {} }),
  ];
  const github = require('@backstage/plugin-scaffolder-backend-module-github');
  const gitlab = require('@backstage/plugin-scaffolder-backend-module-gitlab');
  const githubCredentialsProvider = { getCredentials: async () => ({ token: 'x' }) };
  const config = new ConfigReader({});
  actions.push(
    github.createPublishGithubAction({ integrations, config, githubCredentialsProvider }),
    github.createPublishGithubPullRequestAction({ integrations, githubCredentialsProvider, config }),
    gitlab.createPublishGitlabAction({ integrations, config }),
    gitlab.createPublishGitlabMergeRequestAction({ integrations }),
  );
  return actions;
}

function actionRegistry() {
  const actions = new Map(builtinActions().map(action => [action.id, action]));
  return {
    async get(id) {
      const action = actions.get(id);
      if (!action) {
        throw new Error(`Template action with ID '${id}' is not registered.`);
      }
      return action;
    },
    async list() {
      return actions;
    },
  };
}

function listFiles(dir, base = dir) {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap(entry => {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) return listFiles(full, base);
    return [path.relative(base, full)];
  });
}

async function render(templateDir, valuesFile, outDir) {
  const yaml = require('yaml');
  const template = yaml.parse(fs.readFileSync(path.join(templateDir, 'template.yaml'), 'utf8'));
  const values = JSON.parse(fs.readFileSync(valuesFile, 'utf8'));
  const workingDirectory = fs.mkdtempSync(path.join(os.tmpdir(), 'backstage-oracle-'));
  const contentsPath = path.join(workingDirectory, 'dry-run-content');
  const dryRun = createDryRunner({
    actionRegistry: actionRegistry(),
    integrations,
    logger,
    workingDirectory,
    metrics,
  });
  // As the router's POST /v2/dry-run does.
  const steps = (template.spec.steps ?? []).map((step, index) => ({
    ...step,
    id: step.id ?? `step-${index + 1}`,
    name: step.name ?? step.action,
  }));
  try {
    const result = await dryRun({
      spec: {
        apiVersion: template.apiVersion,
        steps,
        output: template.spec.output ?? {},
        parameters: values,
        // The signed-in user, as the router passes it; the test gives the one plat runs as.
        user: process.env.ORACLE_USER
          ? JSON.parse(process.env.ORACLE_USER)
          : { entity: undefined, ref: undefined },
      },
      templateInfo: {
        // What a real run records (the router's dry run says template:default/dry-run).
        entityRef: `template:${(template.metadata.namespace ?? 'default').toLocaleLowerCase('en-US')}/${template.metadata.name}`,
        entity: { metadata: template.metadata },
        baseUrl: pathToFileURL(path.join(contentsPath, 'template.yaml')).toString(),
      },
      directoryContents: listFiles(templateDir).map(file => ({
        path: file,
        content: fs.readFileSync(path.join(templateDir, file)),
      })),
      secrets: {},
      credentials: undefined,
    });
    for (const file of result.directoryContents) {
      const target = path.join(outDir, file.path);
      fs.mkdirSync(path.dirname(target), { recursive: true });
      fs.writeFileSync(target, file.content);
    }
    process.stdout.write(JSON.stringify({ output: result.output }));
  } catch (error) {
    process.stdout.write(JSON.stringify({ error: String(error && error.message) }));
  } finally {
    fs.rmSync(workingDirectory, { recursive: true, force: true });
  }
}

function expressions() {
  const cases = JSON.parse(fs.readFileSync(0, 'utf8'));
  // The runner's own filters and render method, and the renderer built as its execute() does.
  const runner = new NunjucksWorkflowRunner({
    actionRegistry: actionRegistry(),
    integrations,
    logger,
    workingDirectory: os.tmpdir(),
    metrics,
  });
  const renderer = nunjitsu.createTemplateRenderer({
    allowRegexExecution: true,
    filters: { ...runner.defaultTemplateCapabilities.filters },
    globals: { always: () => true, failure: () => false },
  });
  const results = cases.map(({ template, context }) => {
    const prepared = renderer.prepareContext(context);
    const result = {};
    const rendered = runner.render({ v: template }, prepared, renderer);
    if (rendered && Object.prototype.hasOwnProperty.call(rendered, 'v')) result.value = rendered.v;
    try {
      result.text = renderer.render(template, prepared);
    } catch (error) {
      result.text_error = String(error && error.message);
    }
    return result;
  });
  process.stdout.write(JSON.stringify(results));
}

const [mode, ...args] = process.argv.slice(2);
if (mode === 'render') {
  render(...args).catch(error => {
    process.stdout.write(JSON.stringify({ error: String(error && error.stack) }));
  });
} else if (mode === 'expressions') {
  expressions();
} else {
  process.stderr.write('usage: oracle.cjs render TEMPLATE_DIR VALUES_JSON OUT_DIR | expressions\n');
  process.exit(2);
}
