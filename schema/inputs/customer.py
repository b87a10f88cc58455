"""Input of upsertCustomer."""

from typing import Any

import strawberry


@strawberry.input(description="A customer to create or update. With a `code` that exists: the fields given change "
                              "(null or absent: unchanged; \"\" clears an optional text). Without a code: the "
                              "customer holding the same phone (by its digits) is updated, else one is created.")
class CustomerInput:
    code: str | None = strawberry.field(default=None, description="Customer code (1–64 of A-Z a-z 0-9 . _ -); "
                                                                  "generated when creating without one.")
    name: str | None = strawberry.field(default=None, description="Name (at most 200 characters).")
    phone: str | None = strawberry.field(default=None, description="Phone: 8 to 15 digits, with spaces, (), -, . "
                                                                   "or a leading + (e.g. \"(11) 98765-4321\").")
    email: str | None = strawberry.field(default=None, description="E-mail address (kept in lower case).")
    tax_id: str | None = strawberry.field(default=None, description="Tax id (at most 32 characters).")
    price_list: str | None = strawberry.field(default=None, description="Price list, e.g. `staff` (lower-case "
                                                                        "letters, digits, _ or -).")
    notes: str | None = strawberry.field(default=None, description="Free notes (at most 2000 characters).")
    tags: list[str] | None = strawberry.field(default=None, description="Tags (at most 20, 40 characters each); "
                                                                        "replace the customer's tags.")
    is_active: bool | None = strawberry.field(default=None, description="False: no longer nameable on sessions.")

    def to_fields(self) -> dict[str, Any]:
        return {name: value for name, value in vars(self).items() if value is not None}
