// (c) A live order list that survives a hub restart: subscribe to `orderEvents` through Apollo (graphql-ws
// reconnecting by itself, resumed by src/resuming.ts), then let the driver restart the hub and commit orders while it
// is down and right after it is back. A last order committed here after the driver says GO marks the end: events
// arrive in order, so everything before it has arrived too. Prints READY when live; reports what it received.
// OMNIMAN_EXAMPLE_RESUME=off uses the plain GraphQLWsLink instead (to show what the helper is for).
import { ApolloClient, ApolloLink, HttpLink, InMemoryCache } from "@apollo/client";
import { GraphQLWsLink } from "@apollo/client/link/subscriptions";
import { isSubscriptionOperation } from "@apollo/client/utilities";

import { checkout } from "./checkout";
import { hubClient, wsClient } from "./client";
import { AUTH, GRAPHQL_URL, main, report, stdinLines, whenLive } from "../src/hub";
import { ORDER_EVENTS } from "../src/operations";

function plainClient(): ReturnType<typeof hubClient> {
  const ws = wsClient();
  const link = ApolloLink.split(({ query }) => isSubscriptionOperation(query), new GraphQLWsLink(ws),
                                new HttpLink({ uri: GRAPHQL_URL, headers: AUTH }));
  return { apollo: new ApolloClient({ link, cache: new InMemoryCache() }), ws };
}

main(async () => {
  const resume = process.env.OMNIMAN_EXAMPLE_RESUME !== "off";
  const { apollo, ws } = resume ? hubClient() : plainClient();
  const nextLine = stdinLines();
  const received: { ref: string; type: string; eventId: string }[] = [];
  const errors: string[] = [];
  let reconnects = 0;
  ws.on("connected", (_socket, _payload, wasRetry) => { if (wasRetry) reconnects += 1; });

  const live = apollo.subscribe({ query: ORDER_EVENTS, variables: { channelCodes: ["pos"], after: null } })
    .subscribe({
      next: ({ data, error }) => {
        if (error) errors.push(String(error));
        const message = data?.orderEvents;
        if (message) received.push({ ref: message.order.ref, type: message.type, eventId: message.event.id });
      },
      error: (error: unknown) => { errors.push(String(error)); },
    });

  // Live: an order committed now shows up (the subscription is registered on the hub)
  const seen = (ref: string) => received.some((m) => m.ref === ref && m.type === "created");
  const first = await whenLive(() => checkout(apollo, `RESTART-FIRST-${Date.now()}`), seen);
  console.log(`READY ${first}`);

  // The driver restarts the hub and commits orders meanwhile; then the last one, from here
  const go = await nextLine();
  if (go !== "GO") throw new Error(`expected GO, got ${go}`);
  // Resuming, the first one must arrive (after everything before it). Without the helper, the stream restarts "from
  // now" whenever the hub took the new subscribe, so commit until one shows up
  let last: string;
  try {
    last = await whenLive(() => checkout(apollo, `RESTART-LAST-${Date.now()}`), seen,
                          resume ? { tries: 1, waitMs: 30000 } : { tries: 10, waitMs: 3000 });
  } catch (error) {
    console.error(JSON.stringify({ reconnects, errors, received }));
    throw error;
  }

  live.unsubscribe();
  await ws.dispose();
  report({ resume, first, last, reconnects, errors, received });
});
