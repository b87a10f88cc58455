"""The `Node` interface and its global ids: base64url of `Type:key` (key parts percent-encoded), opaque to clients."""

import base64
import binascii
from urllib.parse import quote, unquote

import strawberry

MAX_GLOBAL_ID = 512  # longer than any id the hub makes (a session key and a channel code, encoded)


def global_id(type_name: str, *parts: str) -> strawberry.ID:
    """The global id of the `type_name` object whose key is `parts` (each may hold any character)."""
    text = ":".join((type_name, *(quote(part, safe="") for part in parts)))
    return strawberry.ID(base64.urlsafe_b64encode(text.encode()).decode().rstrip("="))


def parse_global_id(value: str) -> tuple[str, list[str]] | None:
    """(type name, key parts) of a global id; None when it is not one this hub could have made."""
    if not value or len(value) > MAX_GLOBAL_ID:
        return None
    try:
        text = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)).decode()
        type_name, _, rest = text.partition(":")
        parts = [unquote(part, errors="strict") for part in rest.split(":")]
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    return (type_name, parts) if type_name and rest else None


@strawberry.interface(description="An object with a global id: `node(id:)` fetches it again, and normalised caches "
                                  "(Apollo, urql) key it by `__typename` and `id` without any configuration.")
class Node:
    @strawberry.field(description="Global id: opaque and stable; give it to `node(id:)` to fetch this object again.")
    def id(self) -> strawberry.ID:
        return global_id(type(self).__name__, *self.node_key())  # each Python class is named as its GraphQL type

    def node_key(self) -> tuple[str, ...]:
        """The parts of the key `node(id:)` looks the object up by."""
        raise NotImplementedError
