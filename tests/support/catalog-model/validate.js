// Reads a JSON array of Backstage entities on stdin and checks each one the way the catalog
// does: the envelope policies (namespace, field formats, no foreign root fields, schema) and
// the kind's own validator. Entity refs must be unique per kind and namespace (case-insensitive).
// Prints `ok N` and exits 0, or prints every problem and exits 1.
const {
  EntityPolicies,
  DefaultNamespaceEntityPolicy,
  FieldFormatEntityPolicy,
  NoForeignRootFieldsEntityPolicy,
  SchemaValidEntityPolicy,
  resourceEntityV1alpha1Validator,
  systemEntityV1alpha1Validator,
  componentEntityV1alpha1Validator,
  locationEntityV1alpha1Validator,
  stringifyEntityRef,
} = require('@backstage/catalog-model');

const policy = EntityPolicies.allOf([
  new DefaultNamespaceEntityPolicy(),
  new NoForeignRootFieldsEntityPolicy(),
  new FieldFormatEntityPolicy(),
  new SchemaValidEntityPolicy(),
]);
const validators = [
  resourceEntityV1alpha1Validator,
  systemEntityV1alpha1Validator,
  componentEntityV1alpha1Validator,
  locationEntityV1alpha1Validator,
];

async function main() {
  const chunks = [];
  for await (const chunk of process.stdin) chunks.push(chunk);
  const entities = JSON.parse(Buffer.concat(chunks).toString('utf8'));
  const problems = [];
  const seen = new Map();
  for (const entity of entities) {
    const label = `${entity.kind}:${entity.metadata && entity.metadata.name}`;
    try {
      const checked = await policy.enforce(entity);
      let matched = false;
      for (const validator of validators) {
        if (await validator.check(checked)) matched = true;
      }
      if (!matched) problems.push(`${label}: no validator accepts kind ${entity.kind}`);
      const ref = stringifyEntityRef(checked).toLocaleLowerCase('en-US');
      if (seen.has(ref)) problems.push(`${label}: duplicate entity ref ${ref}`);
      seen.set(ref, true);
    } catch (error) {
      problems.push(`${label}: ${error.message}`);
    }
  }
  if (problems.length) {
    console.log(problems.join('\n'));
    process.exit(1);
  }
  console.log(`ok ${entities.length}`);
}

main().catch((error) => {
  console.error(error);
  process.exit(2);
});
