// Who is signed in. The token lives in localStorage (one per browser profile, shared by its
// tabs, which follow each other's sign-in and sign-out); the user comes from /api/auth/me.
import { api, configureApi } from './api.js';
import { realtime } from './realtime.js';
import { createStore, useStore } from './store.js';

export interface User {
  id: string;
  name: string;
  email: string;
  roles: string[];
  reputation: number;
}

export interface Session {
  status: 'loading' | 'anonymous' | 'signed-in';
  token: string | null;
  user: User | null;
  /** Why the last session ended, when the server ended it. */
  notice: string | null;
}

const TOKEN_KEY = 'gavel.token';
const stored = readToken();
export const session = createStore<Session>({ status: stored ? 'loading' : 'anonymous', token: stored, user: null, notice: null });

export function useSession(): Session {
  return useStore(session);
}

function readToken(): string | null {
  try {
    return window.localStorage.getItem(TOKEN_KEY);
  } catch {
    return null;
  }
}

function writeToken(token: string | null): void {
  try {
    if (token) window.localStorage.setItem(TOKEN_KEY, token);
    else window.localStorage.removeItem(TOKEN_KEY);
  } catch {
    // private mode without storage: the session lasts as long as the tab
  }
}

configureApi({ token: () => session.get().token, unauthorized: () => endLocally('Your session has ended. Please sign in again.') });
realtime.onSessionEnded = () => endLocally('Your session has ended. Please sign in again.');

function endLocally(notice: string | null): void {
  if (session.get().token === null) return;
  writeToken(null);
  session.set({ status: 'anonymous', token: null, user: null, notice });
  realtime.setToken(null);
}

/** At start: open the socket and check the stored token (it may have expired). */
export async function restoreSession(): Promise<void> {
  const token = session.get().token;
  realtime.start(token);
  if (token) await loadUser(token);
}

async function loadUser(token: string): Promise<void> {
  try {
    const user = await api<User>('GET', '/api/auth/me', { token });
    if (session.get().token === token) session.set({ status: 'signed-in', token, user, notice: null });
  } catch {
    if (session.get().token === token) endLocally(null);
  }
}

export async function signIn(email: string, password: string): Promise<User> {
  const { token } = await api<{ token: string }>('POST', '/api/auth/login', { body: { email, password } });
  const user = await api<User>('GET', '/api/auth/me', { token });
  writeToken(token);
  session.set({ status: 'signed-in', token, user, notice: null });
  realtime.setToken(token);
  return user;
}

export async function register(input: { name: string; email: string; password: string; seller?: boolean }): Promise<User> {
  await api('POST', '/api/auth/register', { body: { name: input.name, email: input.email, password: input.password, ...(input.seller && { roles: ['bidder', 'seller'] }) } });
  return signIn(input.email, input.password);
}

export async function signOut(): Promise<void> {
  try {
    await api('POST', '/api/auth/logout');
  } catch {
    // the session ends here either way
  }
  endLocally(null);
}

// Another tab signed in or out.
window.addEventListener('storage', (e) => {
  if (e.key !== TOKEN_KEY) return;
  if (!e.newValue) return endLocally(null);
  if (e.newValue === session.get().token) return;
  session.set({ status: 'loading', token: e.newValue, user: null, notice: null });
  realtime.setToken(e.newValue);
  void loadUser(e.newValue);
});
