// The console's shared parts: the signed-in state, the GraphQL client (HTTP and the live `orderEvents` stream), DOM
// helpers, formatting, the confirmation dialog and toasts. No rendering library: pages are small, built with
// createElement (`el`), and re-rendered whole when their data changes; a library would add a vendored file and a
// build-free JSX substitute without removing much code here.

import { ORDER_EVENTS, VIEWER } from "./queries.js";

export const TOKEN_KEY = "omniman.console.token";
export const state = { token: localStorage.getItem(TOKEN_KEY) || "", viewer: null, channels: [] };
export const $ = (id) => document.getElementById(id);

// -----------------------------------------------------------------------------------------------------------------
// DOM

export function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value == null || value === false) continue;
    if (key === "class") node.className = value;
    else if (key.startsWith("on") && typeof value === "function") node.addEventListener(key.slice(2), value);
    else if (key === "value") node.value = value;
    else node.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children.flat(Infinity)) if (child != null && child !== false) node.append(child);
  return node;
}

export function money(q, currency) {
  if (q == null) return "—";
  const sign = q < 0 ? "-" : "";
  const abs = Math.abs(q);
  return `${sign}${currency || ""} ${Math.floor(abs / 100)}.${String(abs % 100).padStart(2, "0")}`.trim();
}

export function when(iso) {
  return iso ? new Date(iso).toLocaleString([], { dateStyle: "short", timeStyle: "medium" }) : "—";
}

export function age(iso) {
  const s = Math.max(0, Math.floor((Date.now() - Date.parse(iso)) / 1000));
  if (s < 60) return s + "s";
  if (s < 3600) return Math.floor(s / 60) + "m";
  if (s < 86400) return Math.floor(s / 3600) + "h" + String(Math.floor((s % 3600) / 60)).padStart(2, "0");
  return Math.floor(s / 86400) + "d";
}

export function json(value) {
  return el("pre", { class: "json" }, JSON.stringify(value, null, 2));
}

export function section(title, ...children) {
  return el("section", { class: "card" }, el("h2", {}, title), ...children);
}

export const isAdmin = () => state.viewer && state.viewer.role === "ADMIN";

// The payload errors of a mutation, each with the path of the input it is about (`config.unknown_key`).
export function errorList(errors) {
  return el("ul", { class: "errors", role: "alert" }, errors.map((e) => {
    const path = (e.field || []).join(".");
    return el("li", { "data-code": e.code, "data-path": path },
      path ? el("code", { class: "path" }, path) : null, path ? ": " : null, e.message, " ", el("small", {}, `(${e.code})`));
  }));
}

let toastTimer = null;
export function toast(message, kind, code) {
  const node = $("toast");
  node.textContent = message;
  node.dataset.kind = kind || "info";
  node.dataset.code = code || "";
  node.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => { node.hidden = true; }, 6000);
}

// Irreversible actions ask first, in a modal the keyboard can answer (Enter confirms, Escape cancels).
export function confirmAction(message, verb) {
  const dialog = $("confirm");
  $("confirm-message").textContent = message;
  $("confirm-ok").textContent = verb || "Confirm";
  dialog.returnValue = "";
  dialog.showModal();
  $("confirm-cancel").focus();
  return new Promise((resolve) => {
    dialog.addEventListener("close", () => resolve(dialog.returnValue === "ok"), { once: true });
  });
}

// -----------------------------------------------------------------------------------------------------------------
// GraphQL over HTTP

export class AuthError extends Error {}

// Over one of the hub's rate limits (HTTP 429, top-level RATE_LIMITED): nothing was done, and the operator is told
// when to try again rather than shown a generic failure.
export class RateLimitedError extends Error {
  constructor(retryAfter) {
    const seconds = Math.max(1, Math.ceil(Number(retryAfter) || 1));
    super(`Too many requests from this token: the hub refused this one and did nothing. Try again in ${seconds} s.`);
    this.code = "RATE_LIMITED";
    this.retryAfter = seconds;
  }
}

export async function send(query, variables, token) {
  const response = await fetch("/graphql", {
    method: "POST",
    headers: { "Content-Type": "application/json", Accept: "application/json",
               Authorization: "Bearer " + (token == null ? state.token : token) },
    body: JSON.stringify({ query, variables: variables || {} }),
  });
  let body = null;
  try { body = await response.json(); } catch (_) { body = { errors: [{ message: "HTTP " + response.status }] }; }
  return body;
}

// The RATE_LIMITED error of a response, if it is one (its body is GraphQL JSON; `Retry-After` says the same).
export function rateLimited(body) {
  const first = body && body.errors && body.errors[0];
  const extensions = (first && first.extensions) || {};
  return extensions.code === "RATE_LIMITED" ? new RateLimitedError(extensions.retryAfter) : null;
}

// The `data` of a request; a top-level error is thrown (UNAUTHENTICATED signs out; RATE_LIMITED is also toasted,
// so that an action whose caller shows no error still tells the operator when to retry).
export async function gql(query, variables) {
  const body = await send(query, variables);
  const limited = rateLimited(body);
  if (limited) {
    toast(limited.message, "error", limited.code);
    throw limited;
  }
  const first = body.errors && body.errors[0];
  if (first) {
    const code = first.extensions && first.extensions.code;
    if (code === "UNAUTHENTICATED") {
      signOut("Your token was refused (unknown or revoked). Sign in again.");
      throw new AuthError(first.message);
    }
    throw new Error(code === "FORBIDDEN" ? "Your token may not do this: " + first.message : first.message);
  }
  return body.data;
}

// A mutation's payload: shows its errors (in `where`, else as a toast) and returns the payload.
export async function mutate(query, variables, name, where) {
  const payload = (await gql(query, variables))[name];
  if (where) where.replaceChildren(payload.errors.length ? errorList(payload.errors) : "");
  else if (payload.errors.length) toast(payload.errors.map((e) => e.message).join(" "), "error");
  return payload;
}

// -----------------------------------------------------------------------------------------------------------------
// signing in: staff and admin tokens only (display and client tokens cannot operate the console)

const REFUSED = {
  DISPLAY: "This is a display token: it can only watch orders. The console needs a staff or admin token.",
  CLIENT: "This is a client token (a till or a shop): the console needs a staff or admin token.",
};

export async function checkToken(token) {
  const body = await send(VIEWER, {}, token);
  const limited = rateLimited(body);
  if (limited) return { refused: limited.message, limited };
  const code = body.errors && body.errors[0].extensions && body.errors[0].extensions.code;
  if (code === "UNAUTHENTICATED") return { refused: "The token was refused: it is unknown or revoked." };
  if (body.errors) return { refused: "Could not check the token: " + body.errors[0].message };
  const viewer = body.data.viewer;
  if (REFUSED[viewer.role]) return { refused: REFUSED[viewer.role] };
  return { viewer };
}

export function askSignIn(reason) {
  document.body.dataset.state = "signin";
  $("signin-reason").textContent = reason || "Paste a staff or admin API token.";
  $("signin-reason").dataset.refused = reason ? "true" : "false";
  const dialog = $("signin");
  if (!dialog.open) dialog.showModal();
  $("signin-token").focus();
}

export function signOut(reason) {
  localStorage.removeItem(TOKEN_KEY);
  state.token = "";
  state.viewer = null;
  live.stop();
  askSignIn(reason);
}

// -----------------------------------------------------------------------------------------------------------------
// the live stream: one `orderEvents` subscription for the whole console, resumed from its last cursor after a
// reconnect (the graphql-ws client re-sends the same payload object, whose `after` is kept current)

export const live = {
  listeners: new Set(),
  client: null,
  dispose: null,
  on(fn) { this.listeners.add(fn); return () => this.listeners.delete(fn); },
  start() {
    this.stop();
    const setConnection = (value, label) => {
      $("connection").dataset.state = value;
      $("connection").textContent = label;
    };
    let connectedBefore = false;
    this.client = window.graphqlWs.createClient({
      url: (location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/graphql",
      connectionParams: () => ({ Authorization: "Bearer " + state.token }),
      retryAttempts: Infinity,
      shouldRetry: (event) => !(event && (event.code === 4401 || event.code === 4403)),
      retryWait: (n) => new Promise((r) => setTimeout(r, Math.min(10000, 500 * 2 ** n) * (0.5 + Math.random() / 2))),
      keepAlive: 20000,
      on: {
        connecting: () => setConnection("connecting", "Connecting…"),
        connected: () => {
          setConnection("live", "Live");
          // Back after an outage: the subscription resumes after its cursor; pages also re-read what they show,
          // which covers an outage before the first event arrived (no cursor yet).
          if (connectedBefore) document.dispatchEvent(new CustomEvent("console:reconnected"));
          connectedBefore = true;
        },
        closed: () => setConnection("offline", "Reconnecting…"),
      },
    });
    const payload = { query: ORDER_EVENTS, variables: { after: null } };
    const subscribe = () => {
      this.dispose = this.client.subscribe(payload, {
        next: (result) => {
          if (!result.data) return;
          const message = result.data.orderEvents;
          payload.variables.after = message.cursor;
          for (const fn of this.listeners) {
            try { fn(message); } catch (error) { console.warn("live listener failed", error); }
          }
        },
        // e.g. lagged: resume from the cursor a second later; refused over the read rate (an `error` message with
        // RATE_LIMITED): not before the window ends, since every refused retry would be charged too
        error: (errors) => {
          const limited = Array.isArray(errors) ? rateLimited({ errors }) : null;
          if (limited) setConnection("offline", `Rate limited: live again in ${limited.retryAfter} s`);
          setTimeout(() => { if (this.client) subscribe(); }, limited ? limited.retryAfter * 1000 : 1000);
        },
        complete: () => {},
      });
    };
    subscribe();
  },
  stop() {
    if (this.dispose) this.dispose();
    if (this.client) this.client.dispose();
    this.client = null;
    this.dispose = null;
  },
};
