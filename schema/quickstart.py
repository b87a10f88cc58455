"""The quick start as GraphQL operations: GraphiQL opens with it, and a test runs it as written."""

QUICK_START = '''# Omniman GQL: the quick start.
# First paste your API token into the "API token" box at the top right and press "Use"
# (`omniman serve` printed an admin token the first time it ran; `omniman token create`
# makes more). This browser remembers it. Then run the operations top to bottom with
# the ▶ button (it asks which one). A channel, a session with two lines, then a commit:
# run the commit twice and you get the same order back with `replayed: true`.

mutation CreateChannel {
  upsertChannel(input: {code: "pos", name: "Point of sale"}) {
    channel { code pricingPolicy currency }
    errors { code message field }
  }
}

mutation OpenSession {
  openSession(input: {channelCode: "pos", sessionKey: "DEMO-001"}) {
    session { sessionKey rev state }
    errors { code message field }
  }
}

mutation AddLines {
  modifySession(input: {channelCode: "pos", sessionKey: "DEMO-001", ops: [
    {addLine: {sku: "COFFEE", qty: "2", unitPriceQ: 550}},
    {addLine: {sku: "CROISSANT", qty: "1", unitPriceQ: 850}}
  ]}) {
    session { rev totalQ items { lineId sku qty unitPriceQ lineTotalQ } }
    errors { code message field }
  }
}

mutation Commit {
  commitSession(input: {channelCode: "pos", sessionKey: "DEMO-001", idempotencyKey: "DEMO-CHECKOUT-001"}) {
    result { orderRef status totalQ itemsCount }
    replayed
    errors { code message field }
  }
}

query RecentOrders {
  orders(first: 5) {
    edges { node { ref status totalQ allowedTransitions items { sku qty } events { type actor createdAt } } }
    pageInfo { hasNextPage endCursor }
  }
}
'''

OPERATIONS = ("CreateChannel", "OpenSession", "AddLines", "Commit", "RecentOrders")
