// One order: items, totals, payment (refund), refs and ticket, customer, the event timeline, fulfilments (create,
// advance), the transitions its flow allows, and (admin) the directives ledger. Re-read whenever the live stream
// says the order changed.

import { confirmAction, el, gql, isAdmin, json, live, money, mutate, section, toast, when } from "./core.js";
import { directiveTable } from "./directives.js";
import { CREATE_FULFILLMENT, ORDER, ORDER_DIRECTIVES, REFUND, TRANSITION, UPDATE_FULFILLMENT } from "./queries.js";

const IRREVERSIBLE = { cancelled: "Cancel this order? Stock and payment follow the channel's rules; it cannot be undone.",
                       returned: "Mark this order as returned? It cannot be undone." };
const VERBS = { confirmed: "Confirm", processing: "Start", ready: "Ready", dispatched: "Dispatch",
                delivered: "Delivered", completed: "Complete", cancelled: "Cancel", returned: "Returned" };
const NEXT_FULFILLMENT = { PENDING: "IN_PROGRESS", IN_PROGRESS: "SHIPPED", SHIPPED: "DELIVERED" };

function items(o) {
  return el("table", { class: "list" },
    el("thead", {}, el("tr", {}, ["SKU", "Name", "Qty", "Unit", "Total"].map((h) => el("th", {}, h)))),
    el("tbody", {}, o.items.map((i) => el("tr", {}, el("td", {}, el("code", {}, i.sku)), el("td", {}, i.name),
      el("td", { class: "num" }, i.qty), el("td", { class: "num" }, money(i.unitPriceQ, o.currency)),
      el("td", { class: "num" }, money(i.lineTotalQ, o.currency))))),
    el("tfoot", {}, el("tr", {}, el("th", { colspan: "4" }, "Total"),
      el("th", { class: "num", id: "order-total" }, money(o.totalQ, o.currency)))));
}

function dl(pairs) {
  return el("dl", { class: "pairs" }, pairs.filter(([, v]) => v != null && v !== "").map(([k, v]) =>
    [el("dt", {}, k), el("dd", {}, v)]));
}

export async function render(view, ref) {
  let current = null;
  const out = el("div", { class: "messages" });

  async function load() {
    const o = (await gql(ORDER, { ref })).order;
    if (!o) { view.replaceChildren(el("h1", {}, ref), el("p", { class: "error" }, "No such order.")); return; }
    current = o;
    const directives = isAdmin() ? (await gql(ORDER_DIRECTIVES, { ref })).order.directives : null;
    view.replaceChildren(
      el("p", {}, el("a", { href: "#/orders" }, "← Orders")),
      el("div", { class: "order-head" },
        // the pickup number is what the counter calls out and the customer holds: the largest thing on the page
        o.ticket ? el("p", { class: "ticket", id: "order-ticket", "data-ticket": o.ticket, title: "Ticket" },
          el("small", {}, "Ticket"), o.ticket) : null,
        el("h1", { id: "order-title", "data-ref": o.ref, "data-status": o.status },
          o.ref, " ", el("span", { class: "status", "data-status": o.status, id: "order-status" }, o.status))),
      el("div", { class: "toolbar", id: "transitions" }, o.allowedTransitions.map((s) => el("button", {
        type: "button", "data-transition": s, class: IRREVERSIBLE[s] ? "danger" : "primary",
        onclick: () => move(s) }, VERBS[s] || s)), o.allowedTransitions.length ? null :
        el("span", { class: "muted" }, "No further status: the order is closed.")),
      out,
      el("div", { class: "grid" },
        section("Items", items(o)),
        section("Order", dl([["Channel", o.channelCode], ["Session", o.sessionKey],
          ["Handle", o.handleType ? `${o.handleType} ${o.handleRef}` : null], ["External ref", o.externalRef],
          ["Created", when(o.createdAt)], ["Updated", when(o.updatedAt)]])),
        section("Payment", payment(o)),
        section("Customer", customer(o)),
        section("Refs", refs(o)),
        section("Fulfilments", fulfillments(o)),
        section("Timeline", el("ol", { class: "timeline", id: "timeline" }, o.events.map((e) => el("li", {
          "data-type": e.type }, el("time", { datetime: e.createdAt }, when(e.createdAt)), " ", el("strong", {}, e.type),
          " by ", e.actor, Object.keys(e.payload || {}).length ? el("details", {}, el("summary", {}, "Details"),
            json(e.payload)) : null)))),
        directives ? section("Directives", directiveTable(directives, load)) : null));
  }

  function payment(o) {
    const p = o.payment;
    const left = p.capturedQ - p.refundedQ;
    const amount = el("input", { type: "number", min: "1", max: String(left), step: "1", value: String(left),
                                 "aria-label": "Refund amount (minor units)" });
    const reason = el("input", { type: "text", placeholder: "Reason", "aria-label": "Refund reason" });
    return [dl([["Status", p.status], ["Method", p.method], ["Intent", p.intentId],
      ["Amount", money(p.amountQ, o.currency)], ["Captured", money(p.capturedQ, o.currency)],
      ["Refunded", money(p.refundedQ, o.currency)], ["Last error", p.lastError]]),
      left > 0 ? el("form", { class: "inline", onsubmit: async (event) => {
        event.preventDefault();
        const q = Number(amount.value);
        if (!(await confirmAction(`Refund ${money(q, o.currency)} of ${o.ref}? A refund cannot be undone.`, "Refund"))) return;
        const res = await mutate(REFUND, { input: { orderRef: o.ref, amountQ: q, reason: reason.value || null } },
                                 "refundPayment", out);
        if (!res.errors.length) { toast("Refund requested."); await load(); }
      } }, amount, reason, el("button", { type: "submit", class: "danger" }, "Refund")) : null];
  }

  function customer(o) {
    const c = o.customer || (o.snapshot && o.snapshot.data && o.snapshot.data.customer);
    if (!c) return el("p", { class: "muted" }, "No customer.");
    return dl([["Name", c.name], ["Code", c.code], ["Phone", c.phone], ["E-mail", c.email]]);
  }

  function refs(o) {
    if (!o.refs.length) return el("p", { class: "muted" }, "No refs.");
    return el("ul", { class: "refs", id: "order-refs" }, o.refs.map((r) => el("li", {
      class: r.isActive ? "" : "muted", "data-ref-type": r.type, "data-ref-value": r.value },
      el("code", {}, r.type), " ", el("strong", {}, r.value), ` (${r.scope}${r.isActive ? "" : ", ended"})`)));
  }

  function fulfillments(o) {
    const list = el("ul", { class: "fulfillments" }, o.fulfillments.map((f) => el("li", { "data-fulfillment": f.ref },
      el("strong", {}, f.ref), " ", el("span", { class: "status" }, f.status.toLowerCase()), " ",
      f.items.map((i) => `${i.qty}× ${i.lineId}`).join(", "), " ",
      NEXT_FULFILLMENT[f.status] ? el("button", { type: "button", onclick: () => advance(f, NEXT_FULFILLMENT[f.status]) },
        "Move to " + NEXT_FULFILLMENT[f.status].toLowerCase().replace("_", " ")) : null,
      NEXT_FULFILLMENT[f.status] ? el("button", { type: "button", class: "danger",
        onclick: () => advance(f, "CANCELLED") }, "Cancel") : null)));
    const qty = o.items.map((i) => el("input", { type: "text", inputmode: "decimal", value: i.qty, size: "4",
                                                 "aria-label": `Quantity of ${i.name || i.sku}`, "data-line": i.lineId }));
    const form = el("form", { class: "inline", onsubmit: async (event) => {
      event.preventDefault();
      const lines = qty.filter((q) => q.value.trim() && Number(q.value) > 0)
        .map((q) => ({ lineId: q.dataset.line, qty: q.value.trim() }));
      const res = await mutate(CREATE_FULFILLMENT, { input: { orderRef: o.ref, items: lines } }, "createFulfillment", out);
      if (!res.errors.length) { toast(`Fulfilment ${res.fulfillment.ref} created.`); await load(); }
    } }, el("details", {}, el("summary", {}, "New fulfilment"), o.items.map((i, n) =>
      el("label", { class: "field" }, el("span", {}, i.name || i.sku), qty[n])),
      el("button", { type: "submit" }, "Create")));
    return [o.fulfillments.length ? list : el("p", { class: "muted" }, "None yet."), form];
  }

  async function advance(f, status) {
    if (status === "CANCELLED" && !(await confirmAction(`Cancel fulfilment ${f.ref}? It cannot be undone.`, "Cancel it"))) return;
    const res = await mutate(UPDATE_FULFILLMENT, { input: { ref: f.ref, status } }, "updateFulfillment", out);
    if (!res.errors.length) await load();
  }

  async function move(status) {
    if (IRREVERSIBLE[status] && !(await confirmAction(IRREVERSIBLE[status], VERBS[status] || status))) return;
    const res = await mutate(TRANSITION, { input: { ref, status } }, "transitionOrder", out);
    if (!res.errors.length) { toast(`${ref} is now ${status}.`); await load(); }
  }

  await load();
  const off = live.on((message) => {
    if (message.order.ref === ref && current && message.order.updatedAt !== current.updatedAt) load();
  });
  const onDirectives = () => load();
  document.addEventListener("console:directives-changed", onDirectives);
  return () => { off(); document.removeEventListener("console:directives-changed", onDirectives); };
}
