// Kitchen display: open orders as tickets, live over the `orderEvents` subscription (graphql-transport-ws through
// the vendored graphql-ws client), with buttons that move an order along its channel's flow (`transitionOrder`).
//
// Consistency: every ticket is an order as some response saw it; a newer `updatedAt` always wins, so the initial
// load, live events, button answers and re-syncs can arrive in any order. The subscription starts before the initial
// load (events from then on are not missed) and resumes after a reconnect from the last cursor it received (the hub's
// /static/omniman-live.js keeps the `after` that graphql-ws re-sends at the last delivered cursor).
"use strict";

(function () {
  const TOKEN_KEY = "omniman.kds.token";
  const RESYNC_AFTER_CONNECT_MS = 5000;  // covers a subscription that registered after the first load ran
  const RESYNC_EVERY_MS = 120000;        // a safety net: the stream is the source, this only repairs
  const PAGE = 100;
  const MAX_PAGES = 5;
  const WARN_AFTER_S = 5 * 60;
  const LATE_AFTER_S = 10 * 60;
  const DEFAULT_TRANSITIONS = {
    new: ["confirmed", "cancelled"], confirmed: ["processing", "ready", "cancelled"],
    processing: ["ready", "cancelled"], ready: ["dispatched", "completed"], dispatched: ["delivered", "returned"],
    delivered: ["completed", "returned"], returned: ["completed"],
  };
  const DEFAULT_TERMINAL = ["completed", "cancelled"];
  const VERBS = {
    confirmed: "Confirm", processing: "Start", ready: "Ready", dispatched: "Dispatch", delivered: "Delivered",
    completed: "Complete", cancelled: "Cancel", returned: "Returned",
  };
  const DESTRUCTIVE = new Set(["cancelled", "returned"]);

  const TICKET = `
    fragment Ticket on Order {
      ref ticket channelCode status createdAt updatedAt handleType handleRef externalRef totalQ currency
      allowedTransitions snapshot items { lineId sku name qty meta } payment { status lastError }
    }`;
  const CHANNELS = `query KdsChannels { channels { code name config } }`;
  const OPEN_ORDERS = `
    query KdsOpenOrders($channelCode: String, $status: String, $after: String) {
      orders(channelCode: $channelCode, status: $status, first: ${PAGE}, after: $after) {
        edges { node { ...Ticket } } pageInfo { hasNextPage endCursor }
      }
    }` + TICKET;
  const TRANSITION = `
    mutation KdsTransition($input: TransitionOrderInput!) {
      transitionOrder(input: $input) { order { ...Ticket } errors { code message } }
    }` + TICKET;
  const EVENTS = `
    subscription KdsOrderEvents($channelCodes: [String!], $after: String) {
      orderEvents(channelCodes: $channelCodes, after: $after) { cursor type order { ...Ticket } }
    }` + TICKET;

  const params = new URLSearchParams(location.search);
  const filter = (params.get("channels") || "").split(",").map((c) => c.trim()).filter(Boolean);
  const tickets = new Map();  // ref -> {order, element}
  const channelNames = {};
  const capturing = new Set();  // channels whose orders are paid by a `payment.capture` after commit
  const PAID = new Set(["CAPTURED", "PARTIALLY_REFUNDED", "REFUNDED"]);
  const $ = (id) => document.getElementById(id);
  let token = takeToken();
  let client = null;
  let subscription = null;  // omnimanLive.subscribeResuming's {dispose, cursor}
  let firstLoadDone = false;
  let resyncTimer = null;

  // ---------------------------------------------------------------------------------------------------------------
  // token: ?token= (then kept in localStorage and removed from the address bar), else localStorage, else ask once

  function takeToken() {
    const given = params.get("token");
    if (given) {
      localStorage.setItem(TOKEN_KEY, given);
      params.delete("token");
      const query = params.toString();
      history.replaceState(null, "", location.pathname + (query ? "?" + query : "") + location.hash);
      return given;
    }
    return localStorage.getItem(TOKEN_KEY) || "";
  }

  function askToken(reason) {
    setState("signin", "Sign in needed");
    const dialog = $("signin");
    if (reason) $("signin-reason").textContent = reason;
    if (!dialog.open) dialog.showModal();
  }

  $("signin-form").addEventListener("submit", () => {
    token = $("signin-token").value.trim();
    localStorage.setItem(TOKEN_KEY, token);
    $("signin-token").value = "";
    restart();
  });

  function authHeaders() {
    return token ? { Authorization: "Bearer " + token } : {};
  }

  function isAuthError(errors) {
    return (errors || []).some((e) => ["UNAUTHENTICATED", "FORBIDDEN"].includes(e && e.extensions && e.extensions.code));
  }

  // ---------------------------------------------------------------------------------------------------------------
  // HTTP

  async function gql(query, variables) {
    const response = await fetch("/graphql", {
      method: "POST",
      headers: { "Content-Type": "application/json", Accept: "application/json", ...authHeaders() },
      body: JSON.stringify({ query, variables: variables || {} }),
    });
    let body = null;
    try { body = await response.json(); } catch (_) { /* not JSON: reported below */ }
    const code = body && body.errors && body.errors[0].extensions && body.errors[0].extensions.code;
    if (code === "UNAUTHENTICATED") {
      askToken("The token was refused (missing, unknown or revoked). Paste a valid one.");
      throw new Error("not signed in");
    }
    if (code === "FORBIDDEN") {  // e.g. a `display` token pressing a button: say so, keep showing the tickets
      throw new Error("this token may not do that (moving orders needs a staff token)");
    }
    if (!body || body.errors) {
      throw new Error((body && body.errors && body.errors[0].message) || "HTTP " + response.status);
    }
    return body.data;
  }

  // ---------------------------------------------------------------------------------------------------------------
  // open orders: every non-terminal status of the channels shown, newest first, a bounded number of pages each

  function openStatuses(config) {
    const flow = (config && config.order_flow) || {};
    const transitions = flow.transitions || DEFAULT_TRANSITIONS;
    const terminal = new Set(flow.terminal_statuses || DEFAULT_TERMINAL);
    const statuses = new Set(Object.keys(transitions));
    statuses.add(flow.initial_status || "new");
    return [...statuses].filter((s) => !terminal.has(s));
  }

  async function loadOpenOrders() {
    const started = Date.now();
    const data = await gql(CHANNELS);
    const shown = data.channels.filter((c) => !filter.length || filter.includes(c.code));
    for (const c of data.channels) {
      channelNames[c.code] = c.name;
      const topics = (c.config && c.config.post_commit_directives) || [];
      if (topics.includes("payment.capture")) capturing.add(c.code); else capturing.delete(c.code);
    }
    renderFilters(shown);
    const queries = [];
    for (const channel of shown) {
      for (const status of openStatuses(channel.config)) queries.push({ channelCode: channel.code, status });
    }
    const pages = await Promise.all(queries.map(loadAll));
    const seen = new Set();
    for (const orders of pages) {
      for (const order of orders) { seen.add(order.ref); upsert(order); }
    }
    // A ticket the load did not return, and that nothing has touched since the load began, is no longer open.
    for (const [ref, entry] of tickets) {
      if (!seen.has(ref) && Date.parse(entry.order.updatedAt) < started) remove(ref);
    }
  }

  async function loadAll(variables) {
    const orders = [];
    let after = null;
    for (let page = 0; page < MAX_PAGES; page++) {
      const data = await gql(OPEN_ORDERS, { ...variables, after });
      const connection = data.orders;
      for (const edge of connection.edges) orders.push(edge.node);
      if (!connection.pageInfo.hasNextPage) break;
      after = connection.pageInfo.endCursor;
    }
    return orders;
  }

  // ---------------------------------------------------------------------------------------------------------------
  // the live stream

  function wsUrl() {
    return (location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/graphql";
  }

  function connect() {
    client = graphqlWs.createClient({
      url: wsUrl(),
      connectionParams: () => authHeaders(),
      retryAttempts: Infinity,
      shouldRetry: (event) => !(event && (event.code === 4401 || event.code === 4403)),
      retryWait: (retries) => new Promise((resolve) =>
        setTimeout(resolve, Math.min(10000, 500 * 2 ** retries) * (0.5 + Math.random() / 2))),
      keepAlive: 20000,
      on: {
        connecting: () => setState(firstLoadDone ? "reconnecting" : "connecting",
                                   firstLoadDone ? "Reconnecting…" : "Connecting…"),
        connected: () => onConnected(),
        closed: (event) => {
          if (event && (event.code === 4401 || event.code === 4403)) {
            askToken(event.code === 4403 ? "This token may not watch these channels. Paste another one."
                                         : "The token was refused (missing, unknown or revoked). Paste a valid one.");
          } else if (document.body.dataset.state !== "signin") {
            setState("reconnecting", "Reconnecting…");
          }
        },
      },
    });
    subscribe();
  }

  function subscribe() {
    const after = subscription ? subscription.cursor() : null;
    const request = { query: EVENTS, variables: { channelCodes: filter.length ? filter : null, after: null } };
    const current = omnimanLive.subscribeResuming(client, request, {
      next: (result) => {
        if (result.errors) return;  // a GraphQL error ends the operation: error() follows
        upsert(result.data.orderEvents.order);
      },
      error: (error) => {
        const errors = Array.isArray(error) ? error : [];
        if (isAuthError(errors)) return askToken("This token may not watch these channels.");
        // e.g. SUBSCRIBER_LAGGED: subscribe again from the last cursor
        setTimeout(() => { if (subscription === current) subscribe(); }, 1000);
      },
      complete: () => {},
    }, { after });
    subscription = current;
  }

  async function onConnected() {
    if (firstLoadDone) { setState("live", "Live"); return; }
    try {
      await loadOpenOrders();
      firstLoadDone = true;
      refreshCount();
      setState("live", "Live");
      clearTimeout(resyncTimer);
      resyncTimer = setTimeout(resync, RESYNC_AFTER_CONNECT_MS);
    } catch (error) {
      if (document.body.dataset.state !== "signin") toast("Could not load the open orders: " + error.message);
    }
  }

  async function resync() {
    try { await loadOpenOrders(); } catch (_) { /* the next one will */ }
    resyncTimer = setTimeout(resync, RESYNC_EVERY_MS);
  }

  function restart() {
    if (subscription) subscription.dispose();
    subscription = null;
    if (client) client.dispose();
    firstLoadDone = false;
    connect();
  }

  // ---------------------------------------------------------------------------------------------------------------
  // tickets

  function upsert(order) {
    if (filter.length && !filter.includes(order.channelCode)) return;
    const existing = tickets.get(order.ref);
    if (existing && Date.parse(existing.order.updatedAt) > Date.parse(order.updatedAt)) return;  // stale
    if (!order.allowedTransitions.length) { remove(order.ref); return; }  // terminal: off the screen
    const element = render(order);
    if (existing) {
      existing.element.replaceWith(element);
    } else {
      element.classList.add("arriving");  // only new tickets slide in; updates replace in place
      const later = [...tickets.values()].filter((t) => t.order.createdAt > order.createdAt)
        .sort((a, b) => (a.order.createdAt < b.order.createdAt ? -1 : 1))[0];
      $("tickets").insertBefore(element, later ? later.element : null);
    }
    tickets.set(order.ref, { order, element });
    refreshCount();
  }

  function remove(ref) {
    const entry = tickets.get(ref);
    if (!entry) return;
    tickets.delete(ref);
    entry.element.dataset.gone = "true";
    entry.element.classList.add("leaving");
    setTimeout(() => entry.element.remove(), 400);
    refreshCount();
  }

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (key === "class") node.className = value;
      else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
      else node.setAttribute(key, value);
    }
    for (const child of children) if (child != null) node.append(child);
    return node;
  }

  function shortRef(ref) {
    return "#" + ref.slice(-4);
  }

  function who(order) {
    const data = (order.snapshot && order.snapshot.data) || {};
    if (order.handleType && order.handleRef) {
      const kind = order.handleType.charAt(0).toUpperCase() + order.handleType.slice(1);
      return kind + " " + order.handleRef;
    }
    if (data.customer && data.customer.name) return String(data.customer.name);
    if (order.externalRef) return order.externalRef;
    return null;
  }

  // An order of a channel that captures payment, not captured yet: the kitchen should not cook it blind.
  function paymentBadge(order) {
    const payment = order.payment || {};
    if (!capturing.has(order.channelCode) || PAID.has(payment.status)) return null;
    const failed = payment.status === "FAILED";
    return el("span", { class: failed ? "badge failed" : "badge unpaid", "data-payment": payment.status || "",
                        title: failed ? payment.lastError || "payment failed" : "payment not captured yet" },
      failed ? "FAILED" : "UNPAID");
  }

  function render(order) {
    const data = (order.snapshot && order.snapshot.data) || {};
    const person = who(order);
    const lines = order.items.map((item) => {
      const note = item.meta && (item.meta.notes || item.meta.note);
      return el("li", {},
        el("span", { class: "qty" }, item.qty + "×"),
        el("span", { class: "name" }, item.name || item.sku, note ? el("span", { class: "note" }, String(note)) : null));
    });
    const buttons = order.allowedTransitions.map((status) => {
      const destructive = DESTRUCTIVE.has(status);
      const button = el("button", {
        type: "button", "data-status": status, class: destructive ? "secondary" : "",
        title: "Move to " + status, onclick: (event) => move(order.ref, status, event.currentTarget),
      }, VERBS[status] || status.charAt(0).toUpperCase() + status.slice(1));
      if (!destructive) button.style.setProperty("--next-colour", `var(--${status}, var(--other))`);
      return button;
    });
    return el("article", { class: "ticket", "data-ref": order.ref, "data-status": order.status,
                           "data-channel": order.channelCode },
      el("header", {},
        // The pickup number is what the counter calls out: the largest thing on the card when there is one.
        order.ticket ? el("span", { class: "pickup", "data-ticket": order.ticket, title: "Ticket " + order.ticket },
                          order.ticket) : null,
        el("span", { class: "ref", title: order.ref }, shortRef(order.ref)),
        el("span", { class: "age", "data-created": order.createdAt }, age(order.createdAt))),
      el("div", { class: "meta" },
        el("span", { class: "status" }, order.status),
        paymentBadge(order),
        el("span", {}, channelNames[order.channelCode] || order.channelCode),
        person ? el("span", { class: "who" }, person) : null),
      el("ul", {}, ...lines),
      typeof data.notes === "string" && data.notes ? el("p", { class: "notes" }, data.notes) : null,
      el("footer", {}, ...buttons));
  }

  async function move(ref, status, button) {
    if (DESTRUCTIVE.has(status) && !button.classList.contains("armed")) {
      button.classList.add("armed");  // a second click within 3 s confirms (no blocking dialog on a kitchen screen)
      button.textContent = "Sure? " + (VERBS[status] || status);
      setTimeout(() => { button.classList.remove("armed"); button.textContent = VERBS[status] || status; }, 3000);
      return;
    }
    const footer = button.parentElement;
    footer.querySelectorAll("button").forEach((b) => { b.disabled = true; });
    try {
      const data = await gql(TRANSITION, { input: { ref, status } });
      const payload = data.transitionOrder;
      if (payload.errors.length) toast(payload.errors[0].message);
      if (payload.order) upsert(payload.order);
    } catch (error) {
      toast("Could not move " + shortRef(ref) + ": " + error.message);
    } finally {
      footer.querySelectorAll("button").forEach((b) => { b.disabled = false; });
    }
  }

  // ---------------------------------------------------------------------------------------------------------------
  // chrome: state, clock, ages, count, filters, toasts

  function setState(state, label) {
    document.body.dataset.state = state;
    document.querySelector("#connection .label").textContent = label;
  }

  function age(createdAt) {
    const seconds = Math.max(0, Math.floor((Date.now() - Date.parse(createdAt)) / 1000));
    const minutes = Math.floor(seconds / 60);
    return minutes >= 60 ? Math.floor(minutes / 60) + "h" + String(minutes % 60).padStart(2, "0")
                         : minutes + ":" + String(seconds % 60).padStart(2, "0");
  }

  function tick() {
    $("clock").textContent = new Date().toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
    document.querySelectorAll(".ticket .age").forEach((node) => {
      const seconds = (Date.now() - Date.parse(node.dataset.created)) / 1000;
      node.textContent = age(node.dataset.created);
      node.classList.toggle("warn", seconds >= WARN_AFTER_S && seconds < LATE_AFTER_S);
      node.classList.toggle("late", seconds >= LATE_AFTER_S);
    });
  }

  function refreshCount() {
    const n = tickets.size;
    $("count").textContent = n === 1 ? "1 open order" : n + " open orders";
    $("empty").hidden = n > 0 || !firstLoadDone;
  }

  function renderFilters(shown) {
    $("filters").replaceChildren(...(filter.length ? shown : []).map((c) => el("span", { class: "chip" }, c.name)));
  }

  let toastTimer = null;
  function toast(message) {
    const node = $("toast");
    node.textContent = message;
    node.hidden = false;
    clearTimeout(toastTimer);
    toastTimer = setTimeout(() => { node.hidden = true; }, 5000);
  }

  setInterval(tick, 1000);
  tick();
  if (!token) {
    askToken(null);
  } else {
    connect();
  }
})();
