// Development sign-in: pick one of the seeded students (DEMO_MODE only; production uses the platform's login).
import { h, show } from '../dom.js';
import { formatAmount } from '../format.js';
import { listDevStudents, signInAs, type DevStudent } from '../demo-api.js';

export async function showSignIn(root: HTMLElement, onSignedIn: (student: DevStudent, token: { token: string; expiresAt: string }) => void): Promise<void> {
  const status = h('p', { class: 'hint', role: 'status' }, 'Loading students…');
  const list = h('ul', { class: 'choices', 'aria-label': 'Seeded students' });
  show(root, h('section', { class: 'card narrow' },
    h('h1', {}, 'Sign in'),
    h('p', { class: 'hint' }, 'Development sign-in: choose a seeded student. The gateway offers this only with DEMO_MODE on.'),
    list, status));
  let students: DevStudent[];
  try {
    students = await listDevStudents();
  } catch (err) {
    status.textContent = `Could not load students: ${(err as Error).message}`;
    status.classList.add('error');
    return;
  }
  status.textContent = students.length === 0 ? 'No students are seeded: run npm run seed.' : '';
  for (const s of students) {
    const button = h('button', { type: 'button', class: 'choice', 'data-testid': `student-${s.id}` },
      h('span', { class: 'choice-title' }, s.name),
      h('span', { class: 'choice-meta' }, `wallet ${formatAmount(s.wallet_balance)}`));
    button.addEventListener('click', async () => {
      button.disabled = true;
      try {
        onSignedIn(s, await signInAs(s.id));
      } catch (err) {
        status.textContent = `Sign-in failed: ${(err as Error).message}`;
        status.classList.add('error');
        button.disabled = false;
      }
    });
    list.append(h('li', {}, button));
  }
}
