// What a valid OpenAPI 3.1 document and a valid JSON Schema 2020-12 look like, as far as this project writes them:
// zod schemas of their structure (strict, so an unknown or misspelt keyword fails), plus the checks a schema cannot
// express: every `$ref` resolves inside its document, operationIds are unique, path parameters are declared both ways,
// security requirements name a declared scheme. No validator package: the project adds no dependency for a test.
import { z } from 'zod';

const dialect = 'https://json-schema.org/draft/2020-12/schema';
const typeName = z.enum(['null', 'boolean', 'object', 'array', 'number', 'integer', 'string']);

/** A regular expression as JSON Schema reads it: ECMA-262, which the `u` flag holds to the standard's syntax. */
const ecmaPattern = z.string().refine((p) => {
  try { new RegExp(p, 'u'); return true; } catch { return false; }
}, 'not an ECMA-262 regular expression');

type JsonSchema = boolean | { [keyword: string]: unknown };

/** A JSON Schema 2020-12 (the keywords zod's output uses; anything else fails, so a draft-04 habit shows up). */
export const jsonSchema: z.ZodType<JsonSchema> = z.lazy(() => z.union([
  z.boolean(),
  z.strictObject({
    $schema: z.literal(dialect).optional(),
    $ref: z.string().optional(),
    $defs: z.record(z.string(), jsonSchema).optional(),
    title: z.string().optional(),
    description: z.string().optional(),
    default: z.unknown().optional(),
    type: z.union([typeName, z.array(typeName).min(1)]).optional(),
    enum: z.array(z.unknown()).min(1).optional(),
    const: z.unknown().optional(),
    allOf: z.array(jsonSchema).min(1).optional(),
    anyOf: z.array(jsonSchema).min(1).optional(),
    oneOf: z.array(jsonSchema).min(1).optional(),
    not: jsonSchema.optional(),
    properties: z.record(z.string(), jsonSchema).optional(),
    required: z.array(z.string()).optional(),
    additionalProperties: jsonSchema.optional(),
    propertyNames: jsonSchema.optional(),
    // 2020-12: `items` is one schema; a tuple is `prefixItems` (an array under `items` is draft 7 and earlier).
    items: jsonSchema.optional(),
    prefixItems: z.array(jsonSchema).min(1).optional(),
    minItems: z.int().min(0).optional(),
    maxItems: z.int().min(0).optional(),
    // Numbers in 2020-12 (booleans modifying minimum/maximum in draft 4).
    minimum: z.number().optional(),
    maximum: z.number().optional(),
    exclusiveMinimum: z.number().optional(),
    exclusiveMaximum: z.number().optional(),
    multipleOf: z.number().positive().optional(),
    minLength: z.int().min(0).optional(),
    maxLength: z.int().min(0).optional(),
    pattern: ecmaPattern.optional(),
    format: z.string().optional(),
  }).superRefine((s, ctx) => {
    for (const name of s.required ?? []) {
      if (!s.properties || !(name in s.properties)) ctx.addIssue({ code: 'custom', message: `required ${name} is not a property` });
    }
  }),
]));

const reference = z.strictObject({ $ref: z.string() });
const parameter = z.union([reference, z.strictObject({
  name: z.string().min(1),
  in: z.enum(['path', 'query', 'header', 'cookie']),
  required: z.boolean().optional(),
  description: z.string().optional(),
  schema: jsonSchema,
})]);
const content = z.record(z.string().regex(/^[a-z]+\/[a-z0-9.+-]+$/), z.strictObject({ schema: jsonSchema }));
const response = z.strictObject({
  description: z.string().min(1),
  headers: z.record(z.string(), z.strictObject({ description: z.string().optional(), schema: jsonSchema })).optional(),
  content: content.optional(),
});
const securityRequirement = z.record(z.string(), z.array(z.string()));
const operation = z.strictObject({
  operationId: z.string().regex(/^[a-z][a-z0-9_]*$/),
  summary: z.string().min(1),
  description: z.string().optional(),
  externalDocs: z.strictObject({ description: z.string().optional(), url: z.string().min(1) }).optional(),
  security: z.array(securityRequirement).optional(),
  parameters: z.array(parameter).optional(),
  requestBody: z.strictObject({ required: z.boolean().optional(), content }).optional(),
  responses: z.record(z.string().regex(/^(?:[1-5]\d\d|default)$/), response)
    .refine((r) => Object.keys(r).length > 0, 'an operation needs at least one response'),
});
const methods = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'] as const;
const pathItem = z.strictObject(Object.fromEntries(methods.map((m) => [m, operation.optional()])) as Record<(typeof methods)[number], z.ZodOptional<typeof operation>>);
const securityScheme = z.union([
  z.strictObject({ type: z.literal('http'), scheme: z.string(), bearerFormat: z.string().optional(), description: z.string().optional() }),
  z.strictObject({ type: z.literal('apiKey'), in: z.enum(['query', 'header', 'cookie']), name: z.string(), description: z.string().optional() }),
]);

/** The OpenAPI 3.1 structure this project writes. */
export const openApi31 = z.strictObject({
  openapi: z.string().regex(/^3\.1\.\d+$/),
  jsonSchemaDialect: z.literal(dialect).optional(),
  info: z.strictObject({
    title: z.string().min(1),
    version: z.string().min(1),
    summary: z.string().optional(),
    description: z.string().optional(),
    license: z.strictObject({ name: z.string(), identifier: z.string().optional() }).optional(),
  }),
  paths: z.record(z.string().regex(/^\//), pathItem),
  components: z.strictObject({
    schemas: z.record(z.string().regex(/^[A-Za-z0-9._-]+$/), jsonSchema),
    parameters: z.record(z.string(), parameter).optional(),
    securitySchemes: z.record(z.string(), securityScheme).optional(),
  }),
});
export type OpenApi31 = z.infer<typeof openApi31>;

/** Every `$ref` value in `doc`, with where it sits. */
function refsIn(value: unknown, at: string, out: Array<{ at: string; ref: string }>): void {
  if (Array.isArray(value)) value.forEach((v, i) => refsIn(v, `${at}/${i}`, out));
  else if (value !== null && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) {
      if (k === '$ref' && typeof v === 'string') out.push({ at, ref: v });
      else refsIn(v, `${at}/${k}`, out);
    }
  }
}

/** `$ref`s that do not resolve inside `doc` (a local JSON Pointer, RFC 6901). */
export function unresolvedRefs(doc: unknown): string[] {
  const refs: Array<{ at: string; ref: string }> = [];
  refsIn(doc, '#', refs);
  const bad: string[] = [];
  for (const { at, ref } of refs) {
    if (!ref.startsWith('#/')) { bad.push(`${at}: ${ref} is not local`); continue; }
    let node: unknown = doc;
    for (const raw of ref.slice(2).split('/')) {
      const key = raw.replace(/~1/g, '/').replace(/~0/g, '~');
      node = node !== null && typeof node === 'object' && Object.hasOwn(node, key) ? (node as Record<string, unknown>)[key] : undefined;
    }
    if (node === undefined) bad.push(`${at}: ${ref} does not resolve`);
  }
  return bad;
}

/** Every problem with `doc` as an OpenAPI 3.1 document; empty when it is valid. */
export function openApiProblems(doc: unknown): string[] {
  const parsed = openApi31.safeParse(doc);
  if (!parsed.success) return parsed.error.issues.slice(0, 10).map((i) => `${i.path.join('.')}: ${i.message}`);
  const d = parsed.data;
  const problems = unresolvedRefs(doc);
  const ids = new Set<string>();
  const schemes = new Set(Object.keys(d.components.securitySchemes ?? {}));
  for (const [path, item] of Object.entries(d.paths)) {
    const templated = [...path.matchAll(/\{([^}]+)\}/g)].map((m) => m[1]!);
    for (const method of methods) {
      const op = item[method];
      if (!op) continue;
      const where = `${method.toUpperCase()} ${path}`;
      if (ids.has(op.operationId)) problems.push(`${where}: operationId ${op.operationId} used twice`);
      ids.add(op.operationId);
      const declared = (op.parameters ?? []).flatMap((p) => ('in' in p && p.in === 'path' ? [p] : []));
      for (const name of templated) {
        if (!declared.some((p) => p.name === name && p.required === true)) problems.push(`${where}: path parameter ${name} not declared as required`);
      }
      for (const p of declared) if (!templated.includes(p.name)) problems.push(`${where}: path parameter ${p.name} is not in the path`);
      for (const requirement of op.security ?? []) {
        for (const name of Object.keys(requirement)) if (!schemes.has(name)) problems.push(`${where}: unknown security scheme ${name}`);
      }
    }
  }
  return problems;
}
