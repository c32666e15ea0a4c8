// The player SDK's public surface, for browsers and Node. Wire types come from core/protocol (zod), never copied.
export { createCoursePlayer, type CoursePlayer, type CoursePlayerEvents, type CoursePlayerOptions, type CoursePlayerState } from './course-player.js';
export {
  createMeteringClient, MeteringClientError, completeTimeoutMs, readyTimeoutMs,
  type ClientState, type MeteringClient, type MeteringClientOptions, type WarningFrame,
} from './metering-client.js';
export { mediaElementAdapter, type MediaElementLike, type PlaybackAdapter, type PlaybackChange, type PlaybackReading } from './playback-adapter.js';
export { completionPctAt, courseEndSeconds, lectureAt, lecturesOf, type Lecture } from './lecture-map.js';
export { buildHeartbeat, parseServerFrame, wsUrlFor, type ParsedFrame, type Playback } from './protocol/index.js';
export { backoffDelayMs, reconnectCloseCodes, reconnectPolicyDefault, shouldReconnect, type ReconnectPolicy } from './protocol/reconnect-policy.js';
export { ackTimeoutMsMin, globalTimers, heartbeatPeriodMs, IntervalTracker, type Timers } from './heartbeat-schedule.js';
export { createWorkerTimers } from './worker-timers.js';
export { createRestClient, RestError, type Course, type RestClient, type TokenSource } from './rest-client.js';
export { isRefusedForNow, joinRetryPolicyDefault, retryAfterMsOf, retryDelayMs, withJoinRetry, type RetryHooks, type RetryPolicy } from './rest-retry.js';
export { createTokenKeeper, type TokenKeeper, type TokenOptions } from './token-keeper.js';
export type {
  CompleteBody, CompleteResponse, CreateSessionRequest, CreateSessionResponse, EarningsResponse, MetricsBody, MetricsResponse, RestClientOptions,
  StartSessionResponse, StatusResponse, WalletResponse,
} from './rest-client.js';
export type { AckFrame, EndedFrame, ReadyFrame, ServerFrame } from '../../core/protocol/ws.js';
