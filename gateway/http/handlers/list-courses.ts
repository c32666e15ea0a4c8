// GET /api/courses: the catalogue.
import { listCourses } from '../../store/courses.js';
import type { GatewayDeps } from '../../deps.js';
import type { HttpHandler } from '../route.js';
import { authenticate } from '../validate.js';

export const listCoursesHandler = (deps: GatewayDeps): HttpHandler => async (ctx) => {
  await authenticate(deps, ctx);
  return { status: 200, body: { courses: await listCourses(deps.pool) } };
};
