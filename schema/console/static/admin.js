// Admin: API tokens (create with a role and channels, the secret shown once; revoke), idempotency-key lookup, and
// the customer directory.

import { confirmAction, el, gql, isAdmin, money, mutate, section, state, toast, when } from "./core.js";
import { CREATE_TOKEN, CUSTOMERS, IDEMPOTENCY_KEY, REVOKE_TOKEN, TOKENS } from "./queries.js";

async function tokens() {
  const box = el("div");
  const out = el("div", { class: "messages" });
  const secret = el("div", { id: "token-secret", "aria-live": "polite" });
  const name = el("input", { type: "text", name: "name", required: true, placeholder: "till-2" });
  const role = el("select", { name: "role" }, ["STAFF", "CLIENT", "DISPLAY", "ADMIN"].map((r) =>
    el("option", { value: r }, r.toLowerCase())));
  const channels = el("input", { type: "text", name: "channels", placeholder: "pos, ecommerce (client and display)" });
  async function load() {
    const rows = (await gql(TOKENS)).tokens;
    box.replaceChildren(el("div", { class: "table-wrap" }, el("table", { class: "list" },
      el("thead", {}, el("tr", {}, ["Name", "Role", "Channels", "Prefix", "Created", "Revoked", ""].map((h) => el("th", {}, h)))),
      el("tbody", {}, rows.map((t) => el("tr", { "data-token": t.id, class: t.revokedAt ? "muted" : "" },
        el("td", {}, t.name), el("td", {}, t.role.toLowerCase()), el("td", {}, t.channels.join(", ") || "all"),
        el("td", {}, el("code", {}, t.prefix)), el("td", {}, when(t.createdAt)), el("td", {}, when(t.revokedAt)),
        el("td", {}, t.revokedAt || t.name === state.viewer.name ? null : el("button", { type: "button", class: "danger",
          onclick: async () => {
            if (!(await confirmAction(`Revoke token ${t.name}? Everything using it stops working at once.`, "Revoke"))) return;
            const res = await mutate(REVOKE_TOKEN, { id: t.id }, "revokeToken", out);
            if (!res.errors.length) { toast(`Token ${t.name} revoked.`); await load(); }
          } }, "Revoke"))))))));
  }
  const form = el("form", { class: "filters", onsubmit: async (event) => {
    event.preventDefault();
    const list = channels.value.split(",").map((c) => c.trim()).filter(Boolean);
    const res = await mutate(CREATE_TOKEN, { input: { name: name.value.trim(), role: role.value,
                                                      channels: list.length ? list : null } }, "createToken", out);
    if (res.errors.length) return;
    secret.replaceChildren(el("p", { class: "secret", role: "alert" }, "The new token, shown this once: ",
      el("code", { id: "new-secret" }, res.secret), " — copy it now."));
    name.value = ""; channels.value = "";
    await load();
  } }, el("label", { class: "field" }, el("span", {}, "Name"), name), el("label", { class: "field" }, el("span", {}, "Role"), role),
    el("label", { class: "field" }, el("span", {}, "Channels"), channels), el("button", { type: "submit" }, "Create token"));
  await load();
  return section("Tokens", form, secret, out, box);
}

function keyLookup() {
  const channel = el("select", { name: "channel" }, state.channels.map((c) => el("option", { value: c.code }, c.code)));
  const key = el("input", { type: "text", name: "key", required: true, placeholder: "idempotency key" });
  const result = el("div", { id: "key-result" });
  const form = el("form", { class: "filters", onsubmit: async (event) => {
    event.preventDefault();
    try {
      const info = (await gql(IDEMPOTENCY_KEY, { channelCode: channel.value, key: key.value.trim() })).idempotencyKey;
      result.replaceChildren(info ? el("dl", { class: "pairs" }, [["Key", info.key], ["Status", info.status],
        ["Order", info.orderRef ? el("a", { href: "#/orders/" + encodeURIComponent(info.orderRef) }, info.orderRef) : "—"],
        ["Session", info.sessionKey], ["First used", when(info.createdAt)], ["Kept until", when(info.expiresAt)]]
        .map(([k, v]) => [el("dt", {}, k), el("dd", {}, v)])) : el("p", { class: "muted" }, "This key was never used on this channel."));
    } catch (error) { result.replaceChildren(el("p", { class: "error" }, error.message)); }
  } }, el("label", { class: "field" }, el("span", {}, "Channel"), channel),
    el("label", { class: "field" }, el("span", {}, "Key"), key), el("button", { type: "submit" }, "Look up"));
  return section("Idempotency key", form, result);
}

function customers() {
  const search = el("input", { type: "search", name: "search", placeholder: "name, phone, e-mail or code" });
  const body = el("tbody");
  async function load() {
    const rows = (await gql(CUSTOMERS, { search: search.value.trim() || null })).customers.edges.map((e) => e.node);
    body.replaceChildren(...rows.map((c) => el("tr", { class: c.isActive ? "" : "muted" }, el("td", {}, c.code),
      el("td", {}, c.name), el("td", {}, c.phone || ""), el("td", {}, c.email || ""), el("td", {}, c.priceList || ""),
      el("td", {}, c.tags.join(", ")), el("td", { class: "num" }, String(c.ordersCount)),
      el("td", { class: "num" }, money(c.totalSpentQ)), el("td", {}, when(c.lastOrderAt)))));
  }
  const form = el("form", { class: "filters", role: "search", onsubmit: (e) => { e.preventDefault(); load(); } },
    el("label", { class: "field" }, el("span", {}, "Search"), search), el("button", { type: "submit" }, "Search"));
  load().catch((error) => body.replaceChildren(el("tr", {}, el("td", {}, error.message))));
  return section("Customers", form, el("div", { class: "table-wrap" }, el("table", { class: "list" }, el("thead", {},
    el("tr", {}, ["Code", "Name", "Phone", "E-mail", "Price list", "Tags", "Orders", "Spent", "Last order"].map((h) =>
      el("th", {}, h)))), body)));
}

export async function render(view) {
  const parts = [el("h1", {}, "Admin")];
  if (isAdmin()) parts.push(await tokens(), keyLookup());
  else parts.push(el("p", { class: "muted" }, "Tokens and idempotency keys are for admin tokens."));
  parts.push(customers());
  view.replaceChildren(...parts);
}
