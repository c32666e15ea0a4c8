// Checks of the REST answers by hand, of the fields the SDK and its callers read, instead of the zod schemas in
// core/protocol/rest.ts: zod is about 95 % of a bundle that parses with it, past the SDK's size budget
// (player/sdk/README.md "Size"); zod/mini for these answers measured 7.1 KB gzipped, the whole REST client with these checks 2.4 KB.
// The types still come from those schemas (`import type`), and each shape must name every field of its type
// (`ShapeOf`), so a field added to or renamed in a schema is a compile error here rather than a silent gap.
import type {
  CompleteResponse, Course, CourseContentStructure, CourseLecture, CreateSessionResponse, EarningsResponse, MetricsResponse,
  StartSessionResponse, StatusResponse, WalletResponse,
} from '../../core/protocol/rest.js';

/** What a field must be. `?` allows it to be absent; `[shape]` is an array of objects of that shape. */
export type Check =
  | 'string' | 'number' | 'boolean' | 'object'
  | 'string?' | 'number?' | 'string|null' | 'number|null'
  | Shape | readonly [Shape];
export interface Shape { readonly [field: string]: Check }

/** The named (not index-signature) keys of T: a loose object's schema type allows any other key too. */
type NamedKeys<T> = keyof { [K in keyof T as string extends K ? never : number extends K ? never : K]: T[K] };
/** A shape that names every field of T, each with some check. */
export type ShapeOf<T> = { readonly [K in NamedKeys<T>]-?: Check };

const typeChecks: Record<string, (v: unknown) => boolean> = {
  'string': (v) => typeof v === 'string',
  'number': (v) => typeof v === 'number' && Number.isFinite(v),
  'boolean': (v) => typeof v === 'boolean',
  'object': (v) => isRecord(v),
  'string?': (v) => v === undefined || typeof v === 'string',
  'number?': (v) => v === undefined || (typeof v === 'number' && Number.isFinite(v)),
  'string|null': (v) => v === null || typeof v === 'string',
  'number|null': (v) => v === null || (typeof v === 'number' && Number.isFinite(v)),
};

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Where `value` first differs from `shape` (`courses[2].price_per_minute: not number`), or null when it fits. */
export function shapeProblem(value: unknown, shape: Shape, at = ''): string | null {
  if (!isRecord(value)) return `${at || 'the answer'}: not an object`;
  for (const [field, check] of Object.entries(shape)) {
    const path = at ? `${at}.${field}` : field;
    const v = value[field];
    if (typeof check === 'string') {
      if (!typeChecks[check]!(v)) return `${path}: not ${check}`;
    } else if (Array.isArray(check)) {
      if (!Array.isArray(v)) return `${path}: not an array`;
      for (let i = 0; i < v.length; i++) {
        const problem = shapeProblem(v[i], (check as readonly [Shape])[0], `${path}[${i}]`);
        if (problem) return problem;
      }
    } else {
      const problem = shapeProblem(v, check as Shape, path);
      if (problem) return problem;
    }
  }
  return null;
}

export const createSessionAnswer = {
  session_id: 'string', status: 'string', locked_amount: 'number', price_per_minute: 'number', max_billable_seconds: 'number',
} as const satisfies ShapeOf<CreateSessionResponse>;

export const startSessionAnswer = { session_id: 'string', status: 'string', start_time: 'string' } as const satisfies ShapeOf<StartSessionResponse>;

export const metricsAnswer = {
  duration_seconds: 'number', cost: 'number', remaining: 'number', completion_pct: 'number', current_lecture: 'number|null',
} as const satisfies ShapeOf<MetricsResponse>;

export const completeAnswer = {
  session_id: 'string', status: 'string', end_reason: 'string', duration_seconds: 'number', cost: 'number', refund: 'number',
  teacher_earning: 'number',
} as const satisfies ShapeOf<CompleteResponse>;

export const statusAnswer = {
  session_id: 'string', status: 'string', end_reason: 'string|null', duration_seconds: 'number', cost: 'number',
  remaining: 'number', locked_amount: 'number', completion_pct: 'number', current_lecture: 'number|null', content_progress: 'object',
} as const satisfies ShapeOf<StatusResponse>;

const lectureShape = {
  id: 'number', title: 'string?', duration_minutes: 'number?', video_timestamp_start: 'number?', video_timestamp_end: 'number?',
} as const satisfies ShapeOf<CourseLecture>;

const contentStructureShape = { lectures: [lectureShape], video_url: 'string?' } as const satisfies ShapeOf<CourseContentStructure>;

const courseShape = {
  id: 'string', title: 'string', description: 'string', teacher_id: 'string', price_per_minute: 'number',
  content_structure: contentStructureShape,
} as const satisfies ShapeOf<Course>;

export const coursesAnswer = { courses: [courseShape] } as const satisfies Shape;

export const walletAnswer = { student_id: 'string', wallet_balance: 'number', locked_balance: 'number' } as const satisfies ShapeOf<WalletResponse>;

export const earningsAnswer = { teacher_id: 'string', total_earnings: 'number' } as const satisfies ShapeOf<EarningsResponse>;
