// (a) A watched `orders` list follows `transitionOrder` through a plain `new InMemoryCache()`: the mutation's answer
// carries the order's `id`, the cache updates the object the list points at, and the list re-renders with no refetch.
import { hubClient } from "./client";
import { checkout } from "./checkout";
import { check, main, report, until } from "../src/hub";
import { ORDERS, TRANSITION_ORDER } from "../src/operations";

main(async () => {
  // The list's requests the hub answered with data (the persisted-query link's hash-only miss is not one)
  const listFetches: string[] = [];
  const counting: typeof fetch = async (input, init) => {
    const body = typeof init?.body === "string" ? JSON.parse(init.body) as { operationName?: string } : {};
    const response = await fetch(input, init);
    const answer = await response.clone().json() as { data?: unknown };
    if (body.operationName === "LiveOrders" && answer.data) listFetches.push(body.operationName);
    return response;
  };
  const { apollo, ws } = hubClient({ fetch: counting });
  const ref = await checkout(apollo, `APOLLO-CACHE-${Date.now()}`);

  // The order list, as a screen would watch it (cache-first: answered from the network once, then from the cache)
  const seen: Record<string, string>[] = [];
  const watched = apollo.watchQuery({ query: ORDERS, variables: { channelCode: "pos", first: 20 } });
  const subscription = watched.subscribe(({ data, dataState }) => {
    if (dataState === "complete") seen.push(Object.fromEntries(data.orders.edges.map(({ node }) => [node.ref, node.status])));
  });
  await until(() => seen.length > 0 && seen[seen.length - 1][ref] === "new", "the list showing the new order");

  // Move the order: only the mutation goes to the hub
  const moved = await apollo.mutate({ mutation: TRANSITION_ORDER, variables: { input: { ref, status: "confirmed" } } });
  check(moved.data?.transitionOrder.errors.length === 0, `transitionOrder: ${JSON.stringify(moved.data)}`);
  await until(() => seen[seen.length - 1][ref] === "confirmed", "the watched list updating from the cache", 5000);
  check(listFetches.length === 1, `the list was fetched ${listFetches.length} times: the cache should have updated it`);
  const cached = apollo.cache.extract() as Record<string, { __typename?: string }>;
  const orderKeys = Object.keys(cached).filter((key) => cached[key].__typename === "Order");
  check(orderKeys.every((key) => key.startsWith("Order:")), `orders normalised by id: ${orderKeys.join(", ")}`);

  subscription.unsubscribe();
  await ws.dispose();
  report({ ref, statuses: seen.map((list) => list[ref]), listFetches: listFetches.length, orderKeys: orderKeys.length });
});
