// The documented way to keep a live stream gap-free across reconnects (docs/frontends.md): the hub's own
// /static/omniman-live.js, wrapped so any graphql-ws consumer (Apollo's GraphQLWsLink, urql) gets it.
import type { Client } from "graphql-ws";

import { subscribeResuming } from "../../schema/static/omniman-live.js";

/** `client`, except that each subscription re-sends, on every automatic reconnect, the cursor of the last message it
 * delivered as `after` (instead of the variables it started with). Queries and mutations are unaffected. */
export function resumingClient(client: Client): Client {
  return {
    ...client,
    subscribe: (payload, sink) => subscribeResuming(client, payload, sink).dispose,
  };
}
