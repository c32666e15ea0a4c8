// GET /openapi.json (no token): the OpenAPI 3.1 document of this API (core/protocol/openapi.ts), built once when the
// gateway starts and served from memory. It equals the committed docs/openapi.json (README "OpenAPI").
import { buildOpenApiDocument } from '../../../core/protocol/openapi.js';
import type { HttpHandler } from '../route.js';

export function openApiDocument(): HttpHandler {
  const text = JSON.stringify(buildOpenApiDocument());
  return async () => ({ status: 200, contentType: 'application/json', text });
}
