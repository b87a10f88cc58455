"""The live stream: order-event feeds and session feeds for subscriptions, their pub/sub, and token revocations."""
