"""Live stream tests: pub/sub, order-event and session feeds, subscriptions over websockets."""
