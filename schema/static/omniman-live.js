// omniman-live.js: resume an Omniman live stream (`orderEvents`) across reconnects with a stock graphql-ws client.
//
// graphql-ws (`createClient` with `retryAttempts`) reconnects by itself after the hub restarts and sends the
// subscription again, but it sends the payload you first gave it: with your old `after`, the hub would replay from
// there (duplicates) or, with `after: null`, start "from now" (events committed while it was down are lost).
// `subscribeResuming` keeps that payload's `after` at the cursor of the last message it handed to you, before your
// handler runs, so every re-subscribe (graphql-ws re-sends this same payload object on each retry) continues right
// after the last delivered event: nothing lost, nothing twice, in order. The cursor lives in the client, so it
// survives a hub restart (a server-side memory would not); `cursor()` lets you keep it across page reloads too.
//
// In a page: <script src="/static/omniman-live.js"></script> then `omnimanLive.subscribeResuming(...)`.
// In Node or a bundler: `require`/`import` this file (CommonJS). Types: omniman-live.d.ts next to it.
// Docs: docs/frontends.md ("Live streams that survive a restart").
(function (root) {
  "use strict";

  // The cursor of a message: the `cursor` of the first top-level field that has one (`orderEvents { cursor … }`).
  function firstCursor(data) {
    for (const key of Object.keys(data || {})) {
      const value = data[key];
      if (value && typeof value.cursor === "string") return value.cursor;
    }
    return null;
  }

  // client: a graphql-ws Client; request: {query, variables?, operationName?, extensions?}; sink: {next, error,
  // complete}; options: {after?: a cursor to start after (e.g. kept from a previous page), variable?: "after",
  // cursorOf?: (data) => cursor}. Returns {dispose(), cursor()}. The query must declare the cursor variable
  // (`subscription ($after: String) { orderEvents(after: $after) { cursor … } }`) and select `cursor`.
  function subscribeResuming(client, request, sink, options) {
    const opts = options || {};
    const variable = opts.variable || "after";
    const cursorOf = opts.cursorOf || firstCursor;
    const payload = Object.assign({}, request, { variables: Object.assign({}, request.variables) });
    if (opts.after != null) payload.variables[variable] = opts.after;
    const dispose = client.subscribe(payload, {
      next(result) {
        const cursor = result && result.data ? cursorOf(result.data) : null;
        if (cursor) payload.variables[variable] = cursor;  // what the next (re)subscribe will send
        sink.next(result);
      },
      error(error) { sink.error(error); },
      complete() { if (sink.complete) sink.complete(); },
    });
    return { dispose, cursor: () => payload.variables[variable] == null ? null : payload.variables[variable] };
  }

  if (typeof module === "object" && module && module.exports) {  // CommonJS; ES modules import these names too
    module.exports.subscribeResuming = subscribeResuming;
    module.exports.firstCursor = firstCursor;
  } else {
    root.omnimanLive = { subscribeResuming, firstCursor };
  }
})(typeof globalThis !== "undefined" ? globalThis : this);
