// An Apollo Client 4 for the hub: queries and mutations over HTTP through Apollo's persisted-query link (hash first,
// the full query only when the hub does not know it yet), subscriptions over graphql-ws that resume after the last
// delivered event when graphql-ws reconnects by itself, and a plain `new InMemoryCache()`: the hub's types carry a
// global `id`, so no typePolicies are needed for the cache to update what it already shows.
import { createHash } from "node:crypto";

import { ApolloClient, ApolloLink, HttpLink, InMemoryCache } from "@apollo/client";
import { PersistedQueryLink } from "@apollo/client/link/persisted-queries";
import { GraphQLWsLink } from "@apollo/client/link/subscriptions";
import { isSubscriptionOperation } from "@apollo/client/utilities";
import { createClient, type Client } from "graphql-ws";
import WebSocket from "ws";

import { AUTH, GRAPHQL_URL, WS_URL } from "../src/hub";
import { resumingClient } from "../src/resuming";

export interface HubClient {
  apollo: ApolloClient;
  ws: Client;
}

/** A websocket client that reconnects by itself, forever, with a little backoff (a browser would omit
 * `webSocketImpl`). `connectionParams` is read on every connect: the token goes in `connection_init`. */
export function wsClient(): Client {
  return createClient({
    url: WS_URL,
    webSocketImpl: WebSocket,
    connectionParams: () => AUTH,
    lazy: true,
    retryAttempts: Infinity,
    shouldRetry: () => true,
    retryWait: (retries) => new Promise((resolve) => setTimeout(resolve, Math.min(2000, 100 * 2 ** retries))),
  });
}

/** `fetch` for the HTTP link (default: the global one); the examples pass a counting one. */
export function hubClient(options: { fetch?: typeof fetch; persistedQueries?: boolean } = {}): HubClient {
  const ws = wsClient();
  const http = new HttpLink({ uri: GRAPHQL_URL, headers: AUTH, fetch: options.fetch ?? fetch });
  const sha256 = (text: string) => createHash("sha256").update(text).digest("hex");
  const overHttp = options.persistedQueries === false ? http : new PersistedQueryLink({ sha256 }).concat(http);
  const link = ApolloLink.split(({ query }) => isSubscriptionOperation(query),
                                new GraphQLWsLink(resumingClient(ws)), overHttp);
  return { apollo: new ApolloClient({ link, cache: new InMemoryCache() }), ws };
}
