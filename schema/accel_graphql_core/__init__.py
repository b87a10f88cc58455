"""Planned execution of simple mutations: graphql-core's walk over the selection made once per operation.

An accelerator: it drives graphql-core's executor from the inside (its resolve info, error handling, variable values
and the middleware manager's resolvers), so it is tied to the graphql-core series pinned in pyproject.toml and used
only when `Settings.accelerate` (schema.build installs it through `accel_strawberry.planning`, which also tells it
which fields are Strawberry's plain attributes). Otherwise every operation runs through graphql-core's own executor.

A checkout's mutation (`openSession(input: $input) { session { sessionKey rev } errors { code message } }`) spends
most of its execution in machinery graphql-core repeats for every field of every request: collecting the selection,
a resolve info, a path and a type dispatch per field, and Strawberry's basic-field resolver around a `getattr`. For
an operation of a simple shape (`plan_operation` says which) that walk is planned once, and `PlannedExecutor` runs:

- the root field exactly as graphql-core does: the executor's own resolve info and argument values, the field's
  Strawberry resolver, and graphql-core's own error handling (`handle_field_error`, the null at the root,
  `build_response`), in the same order;
- the completion of the value the resolver returned by the plan, which knows only the happy path: the first value
  it does not expect (a null in a non-null field, an exception or awaitable as a value, a list of another kind, a
  scalar that does not serialize…) abandons what the plan built, and graphql-core's own `complete_value` completes
  the same value again. Completion only reads attributes and serializes scalars, so doing it twice changes nothing
  else; every error, message, path and null in a result comes from graphql-core.

The variables of a planned mutation are coerced by a plan too (`plan_variables`): graphql-core's
`coerce_input_value` written out once per variable type, which returns a value or Undefined exactly as graphql-core's
does; any Undefined (a value graphql-core refuses) or a missing variable with a default builds the executor through
graphql-core, which coerces again and reports the errors.

Everything else (queries, subscriptions, fragments, directives, abort signals, execution hooks, resolver middleware)
runs through graphql-core as before. tests/api/test_planned_execution*.py compare both paths over many documents.

The package: `plans` (which operations qualify, and how their values complete), `variables` (how their variables
are coerced) and `executor` (graphql-core's executor running a plan).
"""

from .executor import PlannedExecutor
from .plans import OperationPlans, install_plans, installed_plans, plan_operation
from .variables import coerce_planned, plan_variables

__all__ = ["OperationPlans", "PlannedExecutor", "coerce_planned", "install_plans", "installed_plans",
           "plan_operation", "plan_variables"]
