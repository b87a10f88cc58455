// Types of omniman-live.js (the resuming subscriber): see that file and docs/frontends.md.
import type { Client, ExecutionResult, Sink, SubscribePayload } from "graphql-ws";

export interface ResumingOptions {
  /** A cursor to start after (e.g. one kept from a previous page); default: the request's own variable. */
  after?: string | null;
  /** The name of the cursor variable in the request; default `"after"`. */
  variable?: string;
  /** Where a message's cursor is; default: the `cursor` of the first top-level field that has one. */
  cursorOf?: (data: Record<string, unknown>) => string | null;
}

export interface ResumingSubscription {
  dispose(): void;
  /** The cursor of the last message handed to the sink (what a re-subscribe sends), or null before the first. */
  cursor(): string | null;
}

export function subscribeResuming<Data = Record<string, unknown>>(
  client: Client, request: SubscribePayload, sink: Sink<ExecutionResult<Data>>, options?: ResumingOptions,
): ResumingSubscription;

export function firstCursor(data: Record<string, unknown> | null | undefined): string | null;
