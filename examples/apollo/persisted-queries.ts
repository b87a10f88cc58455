// (b) Apollo's persisted-query link against the hub: the first request sends only the hash and gets
// PERSISTED_QUERY_NOT_FOUND, the link retries with the query (the hub stores it), and from then on the hash alone is
// enough, for this client and for a brand-new one (the store is the hub's, shared by its processes).
import { gql } from "@apollo/client";

import { hubClient } from "./client";
import { check, main, report } from "../src/hub";

interface Seen { hashOnly: boolean; hasQuery: boolean; codes: string[]; ok: boolean }

function recording(log: Seen[]): typeof fetch {
  return async (input, init) => {
    const body = JSON.parse(String(init?.body ?? "{}")) as { query?: string; extensions?: { persistedQuery?: unknown } };
    const response = await fetch(input, init);
    const answer = await response.clone().json() as { data?: unknown; errors?: { extensions?: { code?: string } }[] };
    log.push({
      hashOnly: Boolean(body.extensions?.persistedQuery) && !body.query,
      hasQuery: Boolean(body.query),
      codes: (answer.errors ?? []).map((error) => error.extensions?.code ?? "?"),
      ok: Boolean(answer.data) && !answer.errors,
    });
    return response;
  };
}

main(async () => {
  // A document no one has sent before (its own alias): the hub cannot know its hash yet
  const probe = `probe_${process.pid}_${Date.now()}`;
  const text = "query ApqProbe($first: Int) { " + probe + ": __typename orders(first: $first) { edges { node { id } } } }";
  const ORDERS = gql(text);
  const first = 5;
  const firstLog: Seen[] = [];
  const one = hubClient({ fetch: recording(firstLog) });
  const a = await one.apollo.query({ query: ORDERS, variables: { first }, fetchPolicy: "network-only" });
  check(a.data, "the first query answered");
  check(firstLog.length === 2, `first run: ${JSON.stringify(firstLog)}`);
  check(firstLog[0].hashOnly && firstLog[0].codes.includes("PERSISTED_QUERY_NOT_FOUND"), JSON.stringify(firstLog[0]));
  check(firstLog[1].hasQuery && firstLog[1].ok, `the retry with the query: ${JSON.stringify(firstLog[1])}`);

  // Again from the same client: the hash alone hits
  await one.apollo.query({ query: ORDERS, variables: { first }, fetchPolicy: "network-only" });
  const again = firstLog.slice(2);
  check(again.length === 1 && again[0].hashOnly && again[0].ok, `second run: ${JSON.stringify(again)}`);

  // A brand-new client (nothing remembered) sends the hash alone and hits too
  const otherLog: Seen[] = [];
  const two = hubClient({ fetch: recording(otherLog) });
  await two.apollo.query({ query: ORDERS, variables: { first: first + 1 }, fetchPolicy: "network-only" });
  check(otherLog.length === 1 && otherLog[0].hashOnly && otherLog[0].ok, `other client: ${JSON.stringify(otherLog)}`);

  await Promise.all([one.ws.dispose(), two.ws.dispose()]);
  report({ probe, first: firstLog, other: otherLog });
});
