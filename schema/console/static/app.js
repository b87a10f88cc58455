// The console's shell: sign-in, the navigation, the `#/…` router, the directive alert banner on every page, and
// keyboard shortcuts (1–5 switch pages, `/` focuses the current page's first filter).

import { $, askSignIn, checkToken, el, gql, live, state, TOKEN_KEY, toast } from "./core.js";
import { ALERTS, CHANNELS } from "./queries.js";
import * as ordersPage from "./orders.js";
import * as orderPage from "./order.js";
import * as sessionsPage from "./sessions.js";
import * as directivesPage from "./directives.js";
import * as channelsPage from "./channels.js";
import * as adminPage from "./admin.js";

const ALERT_EVERY_MS = 3000;
const PAGES = [
  { path: "orders", label: "Orders", render: ordersPage.render },
  { path: "sessions", label: "Sessions", render: sessionsPage.render },
  { path: "directives", label: "Directives", render: directivesPage.render },
  { path: "channels", label: "Channels", render: channelsPage.render },
  { path: "admin", label: "Admin", render: adminPage.render },
];
let cleanup = null;
let alertTimer = null;

function renderNav() {
  $("nav").replaceChildren(...PAGES.map((page, i) =>
    el("a", { href: "#/" + page.path, "data-page": page.path, title: `${page.label} (key ${i + 1})` }, page.label)));
  $("who").textContent = `${state.viewer.name} · ${state.viewer.role.toLowerCase()}`;
}

async function route() {
  if (!state.viewer) return;
  const [path, query] = location.hash.replace(/^#\/?/, "").split("?");
  const parts = path.split("/").filter(Boolean).map(decodeURIComponent);
  const params = new URLSearchParams(query || "");
  const name = parts[0] || "orders";
  for (const link of document.querySelectorAll("#nav a")) {
    if (link.dataset.page === name) link.setAttribute("aria-current", "page"); else link.removeAttribute("aria-current");
  }
  if (cleanup) { cleanup(); cleanup = null; }
  // Each visit renders into a fresh container: a read the previous page still had in flight (a live re-read, a
  // mutation's reload) lands in its own detached container instead of overwriting this page.
  const view = el("div", { class: "page" }, el("p", { class: "muted" }, "Loading…"));
  $("view").replaceChildren(view);
  $("view").dataset.page = name;
  try {
    let result;
    if (name === "orders" && parts[1]) result = await orderPage.render(view, parts[1]);
    else {
      const page = PAGES.find((p) => p.path === name) || PAGES[0];
      result = await page.render(view, parts.slice(1), params);
    }
    cleanup = typeof result === "function" ? result : null;
  } catch (error) {
    if (state.viewer) view.replaceChildren(el("p", { class: "error", role: "alert", "data-code": error.code || null },
      "Could not load: " + error.message));
  }
}

// The banner: failed directives, or queued ones due for longer than the server's threshold.
export async function refreshAlerts() {
  clearTimeout(alertTimer);
  if (!state.viewer) return;
  try {
    const a = (await gql(ALERTS)).directiveAlerts;
    const banner = $("banner");
    banner.hidden = !a.alerting;
    banner.dataset.failed = String(a.failedCount);
    banner.dataset.overdue = String(a.overdueCount);
    const parts = [];
    if (a.failedCount) parts.push(`${a.failedCount} directive${a.failedCount === 1 ? "" : "s"} failed`);
    if (a.overdueCount) parts.push(`${a.overdueCount} queued for more than ${a.thresholdMinutes} min (is a worker running?)`);
    banner.replaceChildren(el("strong", {}, "Side effects need attention: "), parts.join("; ") + ". ",
      el("a", { href: a.failedCount ? "#/directives?status=FAILED" : "#/directives?status=QUEUED" }, "Open directives"));
  } catch (error) {
    // the next poll tries again, not before a rate limit's window ends (polling would only extend the refusal)
    if (error.retryAfter) { alertTimer = setTimeout(refreshAlerts, error.retryAfter * 1000); return; }
  }
  alertTimer = setTimeout(refreshAlerts, ALERT_EVERY_MS);
}

async function start(viewer) {
  if ($("signin").open) $("signin").close();
  state.viewer = viewer;
  document.body.dataset.state = "ready";
  renderNav();
  try {
    state.channels = (await gql(CHANNELS)).channels;
  } catch (error) {
    toast("Could not load the channels: " + error.message, "error");
  }
  live.start();
  refreshAlerts();
  await route();
}

$("signin-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const token = $("signin-token").value.trim();
  if (!token) return;
  const checked = await checkToken(token);
  if (checked.refused) {
    $("signin-reason").textContent = checked.refused;
    $("signin-reason").dataset.refused = "true";
    return;  // nothing kept: a refused token is not stored
  }
  $("signin-token").value = "";
  state.token = token;
  localStorage.setItem(TOKEN_KEY, token);
  $("signin").close();
  await start(checked.viewer);
});
$("signin").addEventListener("cancel", (event) => event.preventDefault());  // no way around signing in
$("signout").addEventListener("click", () => {
  localStorage.removeItem(TOKEN_KEY);
  location.hash = "";
  location.reload();
});
window.addEventListener("hashchange", route);
document.addEventListener("keydown", (event) => {
  const typing = /^(INPUT|TEXTAREA|SELECT)$/.test(event.target.tagName) || document.querySelector("dialog[open]");
  if (typing || event.ctrlKey || event.metaKey || event.altKey) return;
  const n = Number(event.key);
  if (n >= 1 && n <= PAGES.length) { location.hash = "#/" + PAGES[n - 1].path; event.preventDefault(); }
  if (event.key === "/") {
    const first = $("view").querySelector("input, select");
    if (first) { first.focus(); event.preventDefault(); }
  }
});

async function boot() {
  if (!state.token) { askSignIn(null); return; }
  const checked = await checkToken(state.token);
  if (checked.limited) {  // the token may be fine: kept, and checked again once the window ends
    askSignIn(checked.refused);
    setTimeout(() => { if (!state.viewer) boot(); }, checked.limited.retryAfter * 1000);
    return;
  }
  if (checked.refused) {
    localStorage.removeItem(TOKEN_KEY);
    state.token = "";
    askSignIn(checked.refused);
    return;
  }
  await start(checked.viewer);
}
boot();
