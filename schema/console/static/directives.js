// Directives (admin): filter by status and topic; retry a failed one, run a queued or failed one now. The table is
// also the order page's directives ledger.

import { age, el, gql, isAdmin, json, mutate, toast } from "./core.js";
import { DIRECTIVES, RETRY, RUN_NOW } from "./queries.js";

const STATUSES = ["QUEUED", "RUNNING", "DONE", "FAILED"];

async function act(directive, kind, refresh) {
  const query = kind === "retry" ? RETRY : RUN_NOW;
  const name = kind === "retry" ? "retryDirective" : "runDirectiveNow";
  const payload = await mutate(query, { id: directive.id }, name);
  if (!payload.errors.length) toast(`Directive ${directive.id} (${directive.topic}) queued to run now.`);
  await refresh();
  document.dispatchEvent(new CustomEvent("console:directives-changed"));
}

export function directiveTable(rows, refresh) {
  if (!rows.length) return el("p", { class: "muted" }, "No directives.");
  return el("div", { class: "table-wrap" }, el("table", { class: "list directives" },
    el("thead", {}, el("tr", {}, ["Id", "Topic", "Status", "Attempts", "Order", "Last error", "Updated", ""].map(
      (h) => el("th", {}, h)))),
    el("tbody", {}, rows.map((d) => el("tr", { "data-directive": d.id, "data-status": d.status },
      el("td", {}, d.id),
      el("td", {}, el("code", {}, d.topic)),
      el("td", {}, el("span", { class: "status", "data-status": d.status.toLowerCase() }, d.status)),
      el("td", { class: "num" }, String(d.attempts)),
      el("td", {}, d.orderRef ? el("a", { href: "#/orders/" + encodeURIComponent(d.orderRef) }, d.orderRef) : ""),
      el("td", { class: "wrap" }, d.lastError || ""),
      el("td", { title: d.updatedAt }, age(d.updatedAt)),
      el("td", { class: "actions" },
        d.status === "FAILED" ? el("button", { type: "button", "data-action": "retry",
          onclick: () => act(d, "retry", refresh) }, "Retry") : null,
        d.status === "QUEUED" || d.status === "FAILED" ? el("button", { type: "button", "data-action": "run-now",
          onclick: () => act(d, "run", refresh) }, "Run now") : null,
        el("details", {}, el("summary", {}, "Payload"), json(d.payload))))))));
}

export async function render(view, _parts, params) {
  if (!isAdmin()) {
    view.replaceChildren(el("h1", {}, "Directives"),
      el("p", { class: "muted" }, "Directives are for admin tokens. The banner above still tells you when some fail."));
    return null;
  }
  const status = el("select", { name: "status" }, el("option", { value: "" }, "Any status"),
    STATUSES.map((s) => el("option", { value: s }, s.toLowerCase())));
  status.value = params.get("status") || "";
  const topic = el("input", { type: "text", name: "topic", placeholder: "e.g. payment.capture",
                              value: params.get("topic") || "" });
  const results = el("div", { id: "directives-results" });
  const more = el("button", { type: "button", hidden: true }, "Load more");
  let rows = [];
  let end = null;

  async function load(after) {
    const data = (await gql(DIRECTIVES, { status: status.value || null, topic: topic.value.trim() || null,
                                          after })).directives;
    rows = after ? rows.concat(data.edges.map((e) => e.node)) : data.edges.map((e) => e.node);
    end = data.pageInfo.endCursor;
    more.hidden = !data.pageInfo.hasNextPage;
    results.replaceChildren(directiveTable(rows, () => load(null)));
  }
  const form = el("form", { class: "filters", role: "search", onsubmit: (e) => { e.preventDefault(); load(null); } },
    el("label", { class: "field" }, el("span", {}, "Status"), status),
    el("label", { class: "field" }, el("span", {}, "Topic"), topic),
    el("button", { type: "submit" }, "Apply"));
  status.addEventListener("change", () => form.requestSubmit());
  more.addEventListener("click", () => load(end));
  view.replaceChildren(el("h1", {}, "Directives"), form, results, more);
  await load(null);
  const timer = setInterval(() => load(null).catch(() => {}), 5000);  // running ones finish: keep the page current
  return () => clearInterval(timer);
}
