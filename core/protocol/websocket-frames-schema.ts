// The WebSocket frames (ws.ts) as one JSON Schema 2020-12 document: every client frame and every server frame under
// `$defs`, `ClientFrame` and `ServerFrame` as the `oneOf` of each side, the document itself the `oneOf` of the two.
// Client frames are read as input (what the gateway accepts), server frames as output (what it sends). `npm run docs`
// writes it to docs/websocket-frames.schema.json; a test fails when that file drifts from the schemas.
import { z } from 'zod';
import { jsonSchemaDialect, type JsonObject } from './openapi.js';
import {
  ackFrame, clientFrame, closeCodeTokenExpired, completeFrame, endedFrame, errorFrame, heartbeatFrame, readyFrame, refreshedFrame, refreshFrame,
  serverFrame, tokenExpiringFrame, warningFrame,
} from './ws.js';

const defsPath = '#/$defs/';

const clientFrames = { HeartbeatFrame: heartbeatFrame, CompleteFrame: completeFrame, RefreshFrame: refreshFrame, ClientFrame: clientFrame };
const serverFrames = {
  ReadyFrame: readyFrame, AckFrame: ackFrame, WarningFrame: warningFrame, EndedFrame: endedFrame, ErrorFrame: errorFrame,
  TokenExpiringFrame: tokenExpiringFrame, RefreshedFrame: refreshedFrame, ServerFrame: serverFrame,
};

function defsOf(frames: Record<string, z.ZodType>, io: 'input' | 'output'): Record<string, JsonObject> {
  const registry = z.registry<{ id: string }>();
  for (const [id, schema] of Object.entries(frames)) registry.add(schema, { id });
  const { schemas } = z.toJSONSchema(registry, { target: 'draft-2020-12', io, uri: (id) => `${defsPath}${id}` });
  const out: Record<string, JsonObject> = {};
  for (const id of Object.keys(frames)) {
    const { $schema: _dialect, $id: _id, ...schema } = schemas[id] as JsonObject;
    out[id] = schema;
  }
  return out;
}

export function buildWebsocketFramesSchema(): JsonObject {
  return {
    $schema: jsonSchemaDialect,
    title: 'metering-gateway WebSocket frames, protocol version 1',
    description: 'Every frame is one JSON text message on /ws/sessions/{id}. The client sends ClientFrame, the gateway '
      + `ServerFrame. A socket whose token expires without a refresh is closed with code ${closeCodeTokenExpired}.`,
    oneOf: [{ $ref: `${defsPath}ClientFrame` }, { $ref: `${defsPath}ServerFrame` }],
    $defs: { ...defsOf(clientFrames, 'input'), ...defsOf(serverFrames, 'output') },
  };
}
