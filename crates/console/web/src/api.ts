// Calls to the console API (/console/api/...). The token from signing in is kept for the
// browser session (sessionStorage) and sent as a bearer token; the API decides every right.

import type { Identity, Session } from './types.js';

const SESSION_KEY = 'switchboard-console:session';

/** A refused or failed call: the HTTP status and the API's code and message. */
export class ApiFailure extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

let signedOut: () => void = () => {};

/** What happens when the API says the token is no good (expired, revoked). */
export function onSignedOut(then: () => void): void {
  signedOut = then;
}

export function session(): Session | null {
  const kept = sessionStorage.getItem(SESSION_KEY);
  if (!kept) return null;
  try {
    return JSON.parse(kept) as Session;
  } catch {
    sessionStorage.removeItem(SESSION_KEY);
    return null;
  }
}

export function keepSession(kept: Session): void {
  sessionStorage.setItem(SESSION_KEY, JSON.stringify(kept));
}

export function forgetSession(): void {
  sessionStorage.removeItem(SESSION_KEY);
}

export function me(): Identity | null {
  return session()?.identity ?? null;
}

/** Whether the signed-in person holds `right` (e.g. `conversations.assign`). */
export function may(right: string): boolean {
  return me()?.rights.includes(right) ?? false;
}

/** The bearer header, when signed in. */
export function authorization(): Record<string, string> {
  const kept = session();
  return kept ? { authorization: `Bearer ${kept.token}` } : {};
}

/** Reads the API's error body (JSON `{code, message}`, or text from the HTTP layer). */
export async function failure(response: Response): Promise<ApiFailure> {
  const text = await response.text();
  try {
    const body = JSON.parse(text) as { code?: string; message?: string };
    return new ApiFailure(response.status, body.code ?? 'unknown', body.message ?? text);
  } catch {
    return new ApiFailure(response.status, 'unknown', text || response.statusText);
  }
}

/** Calls `path` (under /console/api/) and returns its JSON; throws an ApiFailure otherwise. */
export async function call<T>(method: string, path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = { ...authorization(), accept: 'application/json' };
  const init: RequestInit = { method, headers };
  if (body !== undefined) {
    headers['content-type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  const response = await fetch(`api/${path}`, init);
  if (!response.ok) {
    const failed = await failure(response);
    if (failed.status === 401 && session()) {
      forgetSession();
      signedOut();
    }
    throw failed;
  }
  return (await response.json()) as T;
}

/** A query string of the parameters that are set. */
export function query(params: Record<string, string | number | undefined>): string {
  const search = new URLSearchParams();
  for (const [name, value] of Object.entries(params)) {
    if (value !== undefined && value !== '') search.set(name, String(value));
  }
  const text = search.toString();
  return text ? `?${text}` : '';
}

/** A fresh key, so that a retried send is sent once. */
export function idempotencyKey(): string {
  // getRandomValues, unlike randomUUID, works on plain http too.
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (byte) => byte.toString(16).padStart(2, '0')).join('');
}
