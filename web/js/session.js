// Who is signed in: the JWT, kept in localStorage, and what the page reads from its claims.
// The server verifies the token; the page only decodes it to show a name and notice expiry.

const KEY = "parley.token";

// { token, userId, name, exp } of a token, or null when it is not a readable JWT.
export function decode(token) {
  const parts = token.trim().split(".");
  if (parts.length !== 3) return null;
  try {
    const json = atob(parts[1].replace(/-/g, "+").replace(/_/g, "/"));
    const bytes = Uint8Array.from(json, (c) => c.charCodeAt(0));
    const claims = JSON.parse(new TextDecoder().decode(bytes));
    const userId = typeof claims.userId === "string" ? claims.userId : typeof claims.sub === "string" ? claims.sub : null;
    if (!userId) return null;
    const name = typeof claims.name === "string" && claims.name ? claims.name : userId;
    return { token: token.trim(), userId, name, exp: typeof claims.exp === "number" ? claims.exp : null };
  } catch {
    return null;
  }
}

export function expired(session) {
  return session.exp !== null && session.exp * 1000 <= Date.now();
}

export function load() {
  const token = localStorage.getItem(KEY);
  const session = token && decode(token);
  if (!session || expired(session)) {
    localStorage.removeItem(KEY);
    return null;
  }
  return session;
}

export function save(session) {
  localStorage.setItem(KEY, session.token);
}

export function clear() {
  localStorage.removeItem(KEY);
}

// Is the server's development login on? GET /api/web/config answers 200 either way (a 404 probe
// would be a console error on every load); its body is read to the end, or the browser keeps the
// request open and the page never goes idle.
export async function devLoginEnabled() {
  try {
    const res = await fetch("/api/web/config", { headers: { Accept: "application/json" } });
    const config = await res.json().catch(() => null);
    return res.ok && config?.devLogin === true;
  } catch {
    return false;
  }
}

// POST /api/dev/login { name } -> a session; throws an Error with the server's message.
export async function devLogin(name) {
  const res = await fetch("/api/dev/login", {
    method: "POST",
    headers: { "Content-Type": "application/json", Accept: "application/json" },
    body: JSON.stringify({ name }),
  });
  const body = await res.json().catch(() => ({}));
  if (!res.ok) throw new Error(body?.error?.message || `sign-in failed (${res.status})`);
  const session = decode(body.token);
  if (!session) throw new Error("the server answered an unreadable token");
  return session;
}

// Per-user settings that outlive a reload (read positions, joined public conversations).
export function userStore(userId) {
  const prefix = `parley.${userId}.`;
  return {
    get(key, fallback) {
      try {
        const v = localStorage.getItem(prefix + key);
        return v === null ? fallback : JSON.parse(v);
      } catch {
        return fallback;
      }
    },
    set(key, value) {
      try {
        localStorage.setItem(prefix + key, JSON.stringify(value));
      } catch {
        // Full or disabled storage: the page still works, it only forgets sooner.
      }
    },
  };
}
