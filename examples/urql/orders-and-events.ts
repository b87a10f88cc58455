// urql (@urql/core) against the hub: the order list over HTTP, a checkout, and its `created` event over graphql-ws
// (the same resuming client as the Apollo example, through urql's subscriptionExchange).
import { Client, cacheExchange, fetchExchange, subscriptionExchange } from "@urql/core";
import { pipe, subscribe } from "wonka";

import { wsClient } from "../apollo/client";
import { AUTH, GRAPHQL_URL, check, main, report, whenLive } from "../src/hub";
import { COMMIT_SESSION, MODIFY_SESSION, OPEN_SESSION, ORDERS, ORDER_EVENTS } from "../src/operations";
import { resumingClient } from "../src/resuming";

main(async () => {
  const ws = resumingClient(wsClient());
  const client = new Client({
    url: GRAPHQL_URL,
    fetchOptions: { headers: AUTH },
    exchanges: [
      cacheExchange,
      fetchExchange,
      subscriptionExchange({
        forwardSubscription: (request) => ({
          subscribe: (sink) => ({ unsubscribe: ws.subscribe({ ...request, query: request.query ?? "" }, sink) }),
        }),
      }),
    ],
  });

  const events: { ref: string; type: string }[] = [];
  const { unsubscribe } = pipe(
    client.subscription(ORDER_EVENTS, { channelCodes: ["pos"], after: null }),
    subscribe((result) => {
      const message = result.data?.orderEvents;
      if (message) events.push({ ref: message.order.ref, type: message.type });
    }),
  );

  // Checkout through urql mutations, until the stream shows the order (it delivers from when the hub registered it)
  const checkout = async (): Promise<string> => {
    const session = { channelCode: "pos", sessionKey: `URQL-${Date.now()}` };
    const opened = await client.mutation(OPEN_SESSION, { input: session }).toPromise();
    check(opened.data?.openSession.errors.length === 0, `openSession: ${JSON.stringify(opened)}`);
    const modified = await client.mutation(MODIFY_SESSION, {
      input: { ...session, ops: [{ addLine: { sku: "COFFEE", qty: "1" } }] },
    }).toPromise();
    check(modified.data?.modifySession.errors.length === 0, `modifySession: ${JSON.stringify(modified)}`);
    const committed = await client.mutation(COMMIT_SESSION, {
      input: { ...session, idempotencyKey: `${session.sessionKey}-1` },
    }).toPromise();
    const ref = committed.data?.commitSession.result?.orderRef;
    check(ref, `commitSession: ${JSON.stringify(committed)}`);
    return ref;
  };
  const ref = await whenLive(checkout, (made) => events.some((e) => e.ref === made && e.type === "created"));
  const listed = await client.query(ORDERS, { channelCode: "pos", first: 10 }, { requestPolicy: "network-only" })
    .toPromise();
  const refs = listed.data?.orders.edges.map(({ node }) => node.ref) ?? [];
  check(refs.includes(ref), `the order list: ${JSON.stringify(listed)}`);

  unsubscribe();
  await ws.dispose();
  report({ ref, events: events.length, listed: refs.length });
});
