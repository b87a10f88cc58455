"""Accelerators that reach into Strawberry's internals, used only when `Settings.accelerate` (`OMNIMAN_ACCELERATE`).

Each is tied to the Strawberry series pinned in pyproject.toml (its tests run against Strawberry's own path too) and,
switched off, leaves Strawberry's own path: `websockets` (direct delivery and parked subscriptions), `http` (the plain
JSON POST), `documents` (parse and validate once per text, one hook), `hooks` (the extension runner), `inputs` and
`planning` (input objects and simple mutations by plan; the graphql-core half is `schema.accel_graphql_core`).
"""
