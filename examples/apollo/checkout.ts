// A point-of-sale checkout with Apollo: open a tab, add two coffees and a croissant (the hub prices them), commit
// with an idempotency key (retrying the commit with the same key never makes a second order).
import type { ApolloClient } from "@apollo/client";

import { check } from "../src/hub";
import { COMMIT_SESSION, MODIFY_SESSION, OPEN_SESSION } from "../src/operations";

/** Returns the new order's ref. */
export async function checkout(apollo: ApolloClient, sessionKey: string, channelCode = "pos"): Promise<string> {
  const session = { channelCode, sessionKey };
  const opened = await apollo.mutate({ mutation: OPEN_SESSION, variables: { input: { ...session } } });
  check(opened.data?.openSession.errors.length === 0, `openSession: ${JSON.stringify(opened.data)}`);
  const modified = await apollo.mutate({
    mutation: MODIFY_SESSION,
    variables: { input: { ...session, ops: [{ addLine: { sku: "COFFEE", qty: "2" } },
                                            { addLine: { sku: "CROISSANT", qty: "1" } }] } },
  });
  check(modified.data?.modifySession.errors.length === 0, `modifySession: ${JSON.stringify(modified.data)}`);
  const committed = await apollo.mutate({
    mutation: COMMIT_SESSION, variables: { input: { ...session, idempotencyKey: `${sessionKey}-checkout` } },
  });
  const result = committed.data?.commitSession;
  check(result?.errors.length === 0 && result.result, `commitSession: ${JSON.stringify(committed.data)}`);
  return result.result.orderRef;
}
