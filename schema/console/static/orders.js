// Orders: a live list with filters (channel, status, date range, customer, free-text search, all combined). New
// orders appear at the top and changed ones are updated in place from the `orderEvents` stream; a newer `updatedAt`
// always wins.

import { age, el, gql, live, money, state } from "./core.js";
import { ORDERS } from "./queries.js";

const STATUSES = ["new", "confirmed", "processing", "ready", "dispatched", "delivered", "completed", "cancelled", "returned"];
const filters = { channelCode: "", status: "", from: "", to: "", customerCode: "", search: "" };

function variables(after) {
  return {
    channelCode: filters.channelCode || null, status: filters.status || null,
    createdAfter: filters.from ? new Date(filters.from + "T00:00:00").toISOString() : null,
    createdBefore: filters.to ? new Date(filters.to + "T23:59:59.999").toISOString() : null,
    customerCode: filters.customerCode || null, search: filters.search || null, after,
  };
}

// Whether a live order belongs in the list as filtered (a search is the server's to judge: only rows already shown
// are updated while one is active).
function matches(order) {
  if (filters.channelCode && order.channelCode !== filters.channelCode) return false;
  if (filters.status && order.status !== filters.status) return false;
  const created = Date.parse(order.createdAt);
  if (filters.from && created < Date.parse(filters.from + "T00:00:00")) return false;
  if (filters.to && created > Date.parse(filters.to + "T23:59:59.999")) return false;
  if (filters.customerCode && !(order.customer && order.customer.code === filters.customerCode)) return false;
  return !filters.search;
}

function who(order) {
  const parts = [order.handleType && order.handleRef ? `${order.handleType} ${order.handleRef}` : order.externalRef,
                 order.customer ? order.customer.name || order.customer.code : null];
  return parts.filter(Boolean).join(" · ");
}

function row(order) {
  return el("tr", { "data-ref": order.ref, "data-status": order.status, "data-updated": order.updatedAt },
    el("td", {}, el("a", { href: "#/orders/" + encodeURIComponent(order.ref) }, order.ref)),
    el("td", { class: "ticket-cell", "data-ticket": order.ticket || "" }, order.ticket || ""),
    el("td", {}, order.channelCode),
    el("td", {}, el("span", { class: "status", "data-status": order.status }, order.status)),
    el("td", {}, who(order)),
    el("td", { class: "num" }, money(order.totalQ, order.currency)),
    el("td", { class: "num" }, String(order.itemsCount)),
    el("td", { title: order.createdAt, "data-created": order.createdAt }, age(order.createdAt)));
}

function field(label, control) {
  return el("label", { class: "field" }, el("span", {}, label), control);
}

export async function render(view) {
  const body = el("tbody", { id: "orders-body" });
  const more = el("button", { type: "button", hidden: true }, "Load more");
  const count = el("span", { class: "muted", "aria-live": "polite" });
  let endCursor = null;

  const channel = el("select", { name: "channel", "aria-label": "Channel" },
    el("option", { value: "" }, "All channels"),
    state.channels.map((c) => el("option", { value: c.code }, `${c.name} (${c.code})`)));
  channel.value = filters.channelCode;
  const status = el("select", { name: "status" }, el("option", { value: "" }, "Any status"),
    STATUSES.map((s) => el("option", { value: s }, s)));
  status.value = filters.status;
  const from = el("input", { type: "date", name: "from", value: filters.from });
  const to = el("input", { type: "date", name: "to", value: filters.to });
  const customer = el("input", { type: "text", name: "customer", value: filters.customerCode, size: "12",
                                 maxlength: "200", placeholder: "customer code" });
  const search = el("input", { type: "search", name: "search", value: filters.search, maxlength: "200",
                               placeholder: "ref, ticket, table, phone, name…", "aria-label": "Search orders" });
  const problem = el("p", { class: "error", role: "alert", id: "orders-error", hidden: true });
  const form = el("form", { class: "filters", role: "search" },
    field("Search", search), field("Channel", channel), field("Status", status), field("From", from), field("To", to),
    field("Customer", customer),
    el("button", { type: "submit" }, "Apply"));

  function upsert(order, { live: isLive } = {}) {
    const existing = body.querySelector(`tr[data-ref="${CSS.escape(order.ref)}"]`);
    if (existing) {
      if (Date.parse(existing.dataset.updated) > Date.parse(order.updatedAt)) return;  // stale
      existing.replaceWith(row(order));
      return;
    }
    if (isLive && !matches(order)) return;
    const fresh = row(order);
    if (isLive) { fresh.classList.add("arriving"); body.prepend(fresh); } else body.append(fresh);
  }

  // `data-state` on the form says whether the last read is running, done or failed (a test waits on it).
  async function load(after) {
    form.dataset.state = "loading";
    let data;
    try { data = (await gql(ORDERS, variables(after))).orders; } catch (error) { form.dataset.state = "failed"; throw error; }
    form.dataset.state = "done";
    problem.hidden = true;
    if (!after) body.replaceChildren();
    data.edges.forEach((e) => upsert(e.node));
    endCursor = data.pageInfo.endCursor;
    more.hidden = !data.pageInfo.hasNextPage;
    count.textContent = `${body.children.length} shown`;
  }

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    Object.assign(filters, { channelCode: channel.value, status: status.value, from: from.value, to: to.value,
                             customerCode: customer.value.trim(), search: search.value.trim() });
    load(null).catch(showProblem);
  });
  for (const control of [channel, status, from, to]) control.addEventListener("change", () => form.requestSubmit());
  more.addEventListener("click", () => load(endCursor).catch(showProblem));
  // A refused read (e.g. RATE_LIMITED with its retry time, or a search over 200 characters) leaves the rows shown.
  function showProblem(error) {
    problem.textContent = "Could not load the orders: " + error.message;
    problem.dataset.code = error.code || "";
    problem.hidden = false;
  }

  view.replaceChildren(
    el("h1", {}, "Orders ", count),
    form,
    problem,
    el("div", { class: "table-wrap" }, el("table", { class: "list", id: "orders" },
      el("thead", {}, el("tr", {}, el("th", {}, "Order"), el("th", {}, "Ticket"),
        el("th", {}, "Channel"), el("th", {}, "Status"), el("th", {}, "Who"), el("th", { class: "num" }, "Total"),
        el("th", { class: "num" }, "Items"), el("th", {}, "Age"))),
      body)),
    more);
  await load(null);
  const ages = setInterval(() => body.querySelectorAll("td[data-created]").forEach((td) => {
    td.textContent = age(td.dataset.created);
  }), 5000);
  const off = live.on((message) => {
    upsert(message.order, { live: true });
    count.textContent = `${body.children.length} shown`;
  });
  const reload = () => load(null).catch(showProblem);
  document.addEventListener("console:reconnected", reload);
  return () => { off(); clearInterval(ages); document.removeEventListener("console:reconnected", reload); };
}
