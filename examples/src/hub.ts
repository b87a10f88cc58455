// Where the hub is and who we are: OMNIMAN_URL (default http://127.0.0.1:8000) and OMNIMAN_TOKEN (an API token,
// `omniman token create`). Plus the small helpers the example scripts share.
export const HUB_URL = (process.env.OMNIMAN_URL ?? "http://127.0.0.1:8000").replace(/\/$/, "");
export const GRAPHQL_URL = `${HUB_URL}/graphql`;
export const WS_URL = GRAPHQL_URL.replace(/^http/, "ws");
export const TOKEN = process.env.OMNIMAN_TOKEN ?? "";
export const AUTH = { Authorization: `Bearer ${TOKEN}` };

if (!TOKEN) {
  console.error("Set OMNIMAN_TOKEN to an API token (`omniman token create --role staff`).");
  process.exit(2);
}

/** Fail the script (a test) with a message. */
export function check(condition: unknown, message: string): asserts condition {
  if (!condition) throw new Error(`check failed: ${message}`);
}

/** Resolve when `condition()` holds, or fail after `timeoutMs` saying `what` did not happen. */
export async function until(condition: () => boolean, what: string, timeoutMs = 20000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`${what} did not happen within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** The one line a driver (tests/ops/test_examples_node.py) reads: `RESULT {json}`. */
export function report(result: unknown): void {
  console.log(`RESULT ${JSON.stringify(result)}`);
}

/** Lines a driver writes to our stdin, one at a time (`await next()`). */
export function stdinLines(): () => Promise<string> {
  const queued: string[] = [];
  const waiting: ((line: string) => void)[] = [];
  let buffer = "";
  process.stdin.setEncoding("utf8");
  process.stdin.on("data", (chunk: string) => {
    buffer += chunk;
    let newline: number;
    while ((newline = buffer.indexOf("\n")) >= 0) {
      const line = buffer.slice(0, newline).trim();
      buffer = buffer.slice(newline + 1);
      const waiter = waiting.shift();
      if (waiter) waiter(line);
      else queued.push(line);
    }
  });
  return () => {
    const line = queued.shift();
    return line !== undefined ? Promise.resolve(line) : new Promise((resolve) => waiting.push(resolve));
  };
}

/** Run a script's main: exit 0 when it returns, 1 with the error when it throws. */
export function main(run: () => Promise<void>): void {
  run().then(() => process.exit(0), (error: unknown) => {
    console.error(error instanceof Error ? error.stack ?? error.message : error);
    process.exit(1);
  });
}

/** A subscription "from now" starts when the hub has registered it, which no message confirms: commit (`attempt`)
 * until one of the commits is seen on the stream (`seen`), and return that one's ref. */
export async function whenLive(attempt: () => Promise<string>, seen: (ref: string) => boolean,
                               { tries = 5, waitMs = 3000 } = {}): Promise<string> {
  for (let tried = 1; ; tried += 1) {
    const ref = await attempt();
    try {
      await until(() => seen(ref), "the order's event", waitMs);
      return ref;
    } catch (error) {
      if (tried >= tries) throw error;
    }
  }
}
