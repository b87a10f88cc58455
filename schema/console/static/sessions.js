// Sessions: the open ones per channel (handle, refs, total, age, check state, blocking issues); a session's page with
// its items, refs (attach, detach), checks and issues, "run checks now", the issues' actions, and abandon.

import { age, confirmAction, el, gql, json, money, mutate, section, state, toast, when } from "./core.js";
import { ABANDON, ATTACH_REF, DETACH_REF, REF_TYPES, RESOLVE_ISSUE, RUN_CHECKS, SESSION, SESSIONS } from "./queries.js";

function checkState(s) {
  const checks = Object.keys(s.checks || {});
  const stale = checks.filter((c) => s.checks[c] && s.checks[c].rev !== s.rev);
  if (!checks.length) return "none";
  return stale.length ? `stale: ${stale.join(", ")}` : `ok: ${checks.join(", ")}`;
}

const refText = (r) => `${r.type} ${r.value}`;

function sessionHref(s) {
  return `#/sessions/${encodeURIComponent(s.channelCode)}/${encodeURIComponent(s.sessionKey)}`;
}

async function list(view, params) {
  const channel = el("select", { name: "channel" }, el("option", { value: "" }, "All channels"),
    state.channels.map((c) => el("option", { value: c.code }, `${c.name} (${c.code})`)));
  channel.value = params.get("channel") || "";
  const body = el("tbody");
  const more = el("button", { type: "button", hidden: true }, "Load more");
  let end = null;
  async function load(after) {
    const data = (await gql(SESSIONS, { channelCode: channel.value || null, after })).sessions;
    if (!after) body.replaceChildren();
    for (const { node: s } of data.edges) {
      const blocking = s.issues.filter((i) => i.blocking).length;
      body.append(el("tr", { "data-session": s.sessionKey },
        el("td", {}, el("a", { href: sessionHref(s) }, s.sessionKey)), el("td", {}, s.channelCode),
        el("td", {}, s.handleType ? `${s.handleType} ${s.handleRef}` : ""),
        el("td", { class: "refs" }, s.refs.filter((r) => r.isActive).map(refText).join(", ")),
        el("td", { class: "num" }, money(s.totalQ)), el("td", { class: "num" }, String(s.itemsCount)),
        el("td", { title: s.openedAt }, age(s.openedAt)), el("td", {}, checkState(s)),
        el("td", { class: blocking ? "warn" : "" }, blocking ? `${blocking} blocking` : "—")));
    }
    end = data.pageInfo.endCursor;
    more.hidden = !data.pageInfo.hasNextPage;
  }
  channel.addEventListener("change", () => load(null));
  more.addEventListener("click", () => load(end));
  view.replaceChildren(el("h1", {}, "Open sessions"),
    el("form", { class: "filters", onsubmit: (e) => { e.preventDefault(); load(null); } },
      el("label", { class: "field" }, el("span", {}, "Channel"), channel), el("button", { type: "submit" }, "Refresh")),
    el("div", { class: "table-wrap" }, el("table", { class: "list" }, el("thead", {}, el("tr", {},
      ["Session", "Channel", "Handle", "Refs", "Total", "Items", "Age", "Checks", "Issues"].map((h) => el("th", {}, h)))), body)),
    more);
  await load(null);
}

async function page(view, channelCode, sessionKey) {
  const out = el("div", { class: "messages" });
  const input = { channelCode, sessionKey };
  // the types a session may hold (TABLE, TAB…), for the attach form; read once per visit
  const types = (await gql(REF_TYPES)).refTypes.filter((t) => t.target !== "order");

  // The session's refs: each active one can be detached (after a confirmation); an open session can get another.
  function refs(s, open) {
    const active = s.refs.filter((r) => r.isActive);
    const list = active.length ? el("ul", { class: "refs", id: "session-refs" }, active.map((r) => el("li", {
      "data-ref-type": r.type, "data-ref-value": r.value }, el("code", {}, r.type), " ", el("strong", {}, r.value), " ",
      el("button", { type: "button", class: "danger", "data-detach": refText(r), onclick: async () => {
        if (!(await confirmAction(`Detach ${refText(r)} from ${sessionKey}? The value is free for another session.`,
                                  "Detach"))) return;
        const res = await mutate(DETACH_REF, { input: { channelCode, type: r.type, value: r.value } }, "detachRef", out);
        if (!res.errors.length) { toast(`${refText(r)} detached.`); await load(); }
      } }, "Detach")))) : el("p", { class: "muted", id: "session-refs" }, "No refs.");
    if (!open) return list;
    const type = el("select", { name: "ref-type", "aria-label": "Ref type" },
      types.map((t) => el("option", { value: t.code }, `${t.label} (${t.code})`)));
    const value = el("input", { type: "text", name: "ref-value", required: true, maxlength: "200", size: "8",
                                placeholder: "5, ANA…", "aria-label": "Ref value" });
    return [list, el("form", { class: "inline", id: "attach-ref", onsubmit: async (event) => {
      event.preventDefault();
      const res = await mutate(ATTACH_REF, { input: { ...input, type: type.value, value: value.value.trim() } },
                               "attachRef", out);
      if (!res.errors.length) { toast(`${refText(res.ref)} attached.`); await load(); }
    } }, type, value, el("button", { type: "submit" }, "Attach"))];
  }

  function show(s) {
    if (!s) { view.replaceChildren(el("h1", {}, sessionKey), el("p", { class: "error" }, "No such session.")); return; }
    const open = s.state === "OPEN";
    view.replaceChildren(
      el("p", {}, el("a", { href: "#/sessions" }, "← Sessions")),
      el("h1", { "data-state": s.state }, `${s.sessionKey} `, el("span", { class: "status" }, s.state.toLowerCase()),
        ` rev ${s.rev}`),
      el("div", { class: "toolbar" },
        open ? el("button", { type: "button", class: "primary", id: "run-checks", onclick: async () => {
          const res = await mutate(RUN_CHECKS, { input }, "runChecks", out);
          if (!res.errors.length) { toast("Checks queued; results appear here when they arrive."); show(res.session); }
        } }, "Run checks now") : null,
        open ? el("button", { type: "button", class: "danger", id: "abandon", onclick: async () => {
          if (!(await confirmAction(`Abandon session ${sessionKey}? Its lines are dropped and it cannot be reopened.`,
                                    "Abandon"))) return;
          const res = await mutate(ABANDON, { input }, "abandonSession", out);
          if (!res.errors.length) show(res.session);
        } }, "Abandon") : null,
        el("button", { type: "button", onclick: () => load() }, "Reload"),
        s.order ? el("a", { href: "#/orders/" + encodeURIComponent(s.order.ref) }, `Order ${s.order.ref}`) : null),
      out,
      el("div", { class: "grid" },
        section("Items", el("table", { class: "list" },
          el("thead", {}, el("tr", {}, ["SKU", "Name", "Qty", "Unit", "Total"].map((h) => el("th", {}, h)))),
          el("tbody", {}, s.items.map((i) => el("tr", {}, el("td", {}, el("code", {}, i.sku)), el("td", {}, i.name),
            el("td", { class: "num" }, i.qty), el("td", { class: "num" }, money(i.unitPriceQ)),
            el("td", { class: "num" }, money(i.lineTotalQ))))),
          el("tfoot", {}, el("tr", {}, el("th", { colspan: "4" }, "Total"), el("th", { class: "num" }, money(s.totalQ)))))),
        section("Session", el("dl", { class: "pairs" },
          [["Channel", s.channelCode], ["Handle", s.handleType ? `${s.handleType} ${s.handleRef}` : "—"],
           ["Customer", s.customer ? `${s.customer.name} (${s.customer.code})` : "—"], ["Opened", when(s.openedAt)],
           ["Updated", when(s.updatedAt)]].map(([k, v]) => [el("dt", {}, k), el("dd", {}, v)]))),
        section("Refs", refs(s, open)),
        section("Checks", Object.keys(s.checks || {}).length ? json(s.checks) : el("p", { class: "muted" }, "No results yet.")),
        section("Issues", s.issues.length ? el("ul", { class: "issues" }, s.issues.map((issue) => el("li", {
          "data-issue": issue.id, class: issue.blocking ? "blocking" : "" },
          el("strong", {}, issue.code), issue.blocking ? " (blocking) " : " ", issue.message,
          el("div", { class: "toolbar" }, issue.actions.map((a) => el("button", { type: "button", disabled: !open,
            onclick: async () => {
              const res = await mutate(RESOLVE_ISSUE, { input: { ...input, issueId: issue.id, actionId: a.id } },
                                       "resolveIssue", out);
              if (!res.errors.length) show(res.session);
            } }, a.label || a.id)))))) : el("p", { class: "muted" }, "No issues.")),
        section("Data", json(s.data))));
  }

  async function load() {
    show((await gql(SESSION, input)).session);
  }
  await load();
  const timer = setInterval(() => load().catch(() => {}), 5000);  // check results arrive asynchronously
  return () => clearInterval(timer);
}

export async function render(view, parts, params) {
  if (parts.length >= 2) return page(view, parts[0], parts[1]);
  return list(view, params);
}
