// Course reads. The catalogue is small and read-mostly.
import type { Pool } from '../../core/pg/pool.js';
import { numericToMinor, minorToAmount } from '../../core/money.js';

export interface CourseRow {
  id: string;
  teacher_id: string;
  title: string;
  description: string;
  price_per_minute: string;
  content_structure: { lectures?: { id: number }[] };
}

export async function listCourses(pool: Pool) {
  const { rows } = await pool.query<CourseRow>(
    'SELECT id, teacher_id, title, description, price_per_minute, content_structure FROM courses ORDER BY title');
  return rows.map((c) => ({
    id: c.id,
    title: c.title,
    description: c.description,
    teacher_id: c.teacher_id,
    price_per_minute: minorToAmount(numericToMinor(c.price_per_minute)),
    content_structure: c.content_structure,
  }));
}

export function lectureIdsOf(content: CourseRow['content_structure']): number[] {
  return (content.lectures ?? []).map((l) => l.id).filter((id) => Number.isSafeInteger(id));
}
