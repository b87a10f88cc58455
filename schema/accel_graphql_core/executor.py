"""graphql-core's executor (Strawberry's, sharing subscription results) running a planned mutation by its plan."""

from __future__ import annotations

from typing import Any

from graphql import (
    DocumentNode,
    GraphQLError,
    GraphQLSchema,
    MiddlewareManager,
    OperationDefinitionNode,
    assert_valid_schema,
    default_field_resolver,
    default_type_resolver,
    get_argument_values,
)
from graphql.pyutils import Path

from ..fanout import SharingExecutor
from .plans import RootPlan, installed_plans
from .variables import coerce_planned


class PlannedExecutor(SharingExecutor):
    """graphql-core's executor (Strawberry's, sharing subscription results) that runs a planned operation by its
    plan. An operation without a plan, or any setting the plan does not mirror, runs as before."""

    @classmethod
    def build(cls, schema: GraphQLSchema, document: DocumentNode, root_value: Any = None,
              context_value: Any = None, raw_variable_values: dict[str, Any] | None = None,
              operation_name: str | None = None, field_resolver: Any = None, type_resolver: Any = None,
              subscribe_field_resolver: Any = None, max_coercion_errors: int = 50,
              enable_early_execution: bool = False, middleware: Any = None, is_awaitable: Any = None,
              is_async_iterable: Any = None, hide_suggestions: bool = False, abort_signal: Any = None,
              hooks: Any = None, **custom_args: Any) -> Any:
        """graphql-core's `build` for a document that is one planned mutation whose variables its plan coerces
        (the operation and the executor as graphql-core picks and makes them); anything else: graphql-core's."""
        variables = None
        operation = document.definitions[0] if len(document.definitions) == 1 else None
        plans = installed_plans(schema)
        if (plans is not None and isinstance(operation, OperationDefinitionNode)
                and (operation_name is None or (operation.name is not None and operation.name.value == operation_name))
                and (middleware is None or isinstance(middleware, MiddlewareManager))):
            assert_valid_schema(schema)
            planned = plans.variables(schema, operation)
            if planned is not None:
                variables = coerce_planned(planned, raw_variable_values or {})
        if variables is None:
            return super().build(
                schema, document, root_value, context_value, raw_variable_values, operation_name, field_resolver,
                type_resolver, subscribe_field_resolver, max_coercion_errors, enable_early_execution, middleware,
                is_awaitable, is_async_iterable, hide_suggestions=hide_suggestions, abort_signal=abort_signal,
                hooks=hooks, **custom_args)
        executor = cls(schema, {}, {}, root_value, context_value, operation, variables,
                       field_resolver or default_field_resolver, type_resolver or default_type_resolver,
                       subscribe_field_resolver or default_field_resolver, enable_early_execution, middleware,
                       is_awaitable, is_async_iterable, hide_suggestions=hide_suggestions,
                       abort_signal=abort_signal, hooks=hooks, **custom_args)
        refused = executor.cost_refusal()  # as SharingExecutor.build does for the operations it builds
        return [refused] if refused is not None else executor

    def execute_operation(self, serially: bool | None = None) -> Any:
        plan = self._plan() if serially is None else None
        if plan is None:
            return super().execute_operation(serially)
        return self._execute_planned(plan)

    def _plan(self) -> RootPlan | None:
        plans = installed_plans(self.schema)
        manager = self.middleware_manager
        if (plans is None or self.abort_signal is not None or self.hooks is not None
                or self.is_awaitable is not plans.is_awaitable
                or (manager is not None and manager._middleware_resolvers is not None)):
            return None
        return plans.get(self.schema, self.operation)

    def _execute_planned(self, plan: RootPlan) -> Any:
        """graphql-core's `execute_operation` → `execute_fields_serially` → `execute_field` for the one root field."""
        field_def = plan.field_def
        try:
            path = Path(None, plan.response_name, plan.root_type.name)
            info = self.build_resolve_info(field_def, [plan.node], plan.root_type, path)
            try:
                args = (get_argument_values(field_def, plan.node, self.variable_values, None, self.hide_suggestions)
                        if field_def.args or plan.node.arguments else {})
                result = field_def.resolve(self.root_value, info, **args)  # type: ignore[misc]
                if self.is_awaitable(result):
                    return self._await_planned(plan, info, path, result)
                completed = self._complete(plan, info, path, result)
                if self.is_awaitable(completed):
                    return self._await_planned(plan, info, path, completed, resolved=True)
            except Exception as raw_error:  # noqa: BLE001 - as graphql-core's execute_field
                self.handle_field_error(raw_error, field_def.type, plan.field_details, path)
                completed = None
            data = {plan.response_name: completed}
        except GraphQLError as error:
            self.collected_errors.add(error, None)
            return self.finish(self.build_response(None))
        return self.finish(self.build_response(data))

    async def _await_planned(self, plan: RootPlan, info: Any, path: Path, awaitable: Any,
                             resolved: bool = False) -> Any:
        """The root field's awaitable (graphql-core's `complete_awaitable_value`, or its `await_completed` when
        `resolved`) and the operation's response, as `execute_operation`'s `await_result` builds it."""
        try:
            try:
                if resolved:
                    completed = await awaitable
                else:
                    completed = self._complete(plan, info, path, await awaitable)
                    if self.is_awaitable(completed):
                        completed = await completed
            except Exception as raw_error:  # noqa: BLE001 - as graphql-core's complete_awaitable_value
                self.handle_field_error(raw_error, plan.field_def.type, plan.field_details, path)
                completed = None
            data = {plan.response_name: completed}
        except GraphQLError as error:
            self.collected_errors.add(error, None)
            return self.build_response(None)
        except Exception:
            await self.cancel_incremental_work()
            self.run_async_work_finished_hook()
            raise
        return self.build_response(data)

    def _complete(self, plan: RootPlan, info: Any, path: Path, result: Any) -> Any:
        """The root field's value completed by the plan, or by graphql-core when the plan gives up on it."""
        try:
            return plan.complete(result)
        except Exception:  # noqa: BLE001 - Unplanned, or a scalar that would not serialize: graphql-core's turn
            return self.complete_value(plan.field_def.type, plan.field_details, info, path, result, None)
