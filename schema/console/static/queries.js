// Every GraphQL document the console sends, in one place. The console talks only to the public API.
//
// Issue 19's fields (`Order.ticket`, `Order.refs`, `Session.refs`, `orders(search:)`) may be absent from the hub
// this page is served by. `detectExtras()` sends one probe document that uses them: if it validates, the documents
// below include them (EXTRAS); if not, they are left out and the search box is hidden. A probe works with
// introspection turned off, which an introspection query would not.

export const EXTRAS = { on: false };

const PROBE = `query ConsoleProbe { orders(first: 1, search: "") { edges { node { ticket refs { type value } } } } }`;

export async function detectExtras(send) {
  const body = await send(PROBE, {});
  EXTRAS.on = !(body.errors && body.errors.length);
  return EXTRAS.on;
}

const orderExtras = () => (EXTRAS.on ? "ticket refs { type value scope isActive }" : "");
const sessionExtras = () => (EXTRAS.on ? "refs { type value scope isActive }" : "");
const ERRORS = "errors { code message field context }";

export const VIEWER = `query ConsoleViewer { viewer { name role channels } }`;
export const ALERTS = `query ConsoleAlerts { directiveAlerts { alerting failedCount overdueCount oldestDueSince thresholdMinutes } }`;
export const CHANNELS = `query ConsoleChannels { channels { code name currency isActive } }`;

const ROW = `ref channelCode status totalQ currency itemsCount createdAt updatedAt handleType handleRef externalRef`;

export const orders = () => `
  query ConsoleOrders($channelCode: String, $status: String, $createdAfter: DateTime, $createdBefore: DateTime,
                      ${EXTRAS.on ? "$search: String," : ""} $after: String) {
    orders(channelCode: $channelCode, status: $status, createdAfter: $createdAfter, createdBefore: $createdBefore,
           ${EXTRAS.on ? "search: $search," : ""} first: 50, after: $after) {
      edges { node { ${ROW} ${orderExtras()} } } pageInfo { hasNextPage endCursor }
    }
  }`;

export const orderEvents = () => `
  subscription ConsoleOrderEvents($after: String) {
    orderEvents(after: $after) { cursor type order { ${ROW} ${orderExtras()} } }
  }`;

const ORDER_FIELDS = () => `
  ${ROW} ${orderExtras()} sessionKey snapshot allowedTransitions
  items { lineId sku name qty unitPriceQ lineTotalQ meta }
  payment { status intentId method amountQ capturedQ refundedQ lastError }
  customer { code name phone email }
  events { id type actor payload createdAt }
  fulfillments { ref status carrier trackingCode items { lineId qty } createdAt updatedAt }`;

export const order = () => `query ConsoleOrder($ref: String!) { order(ref: $ref) { ${ORDER_FIELDS()} } }`;

const DIRECTIVE = "id topic status payload orderRef attempts availableAt lastError createdAt startedAt updatedAt";
export const ORDER_DIRECTIVES = `query ConsoleOrderDirectives($ref: String!) { order(ref: $ref) { directives { ${DIRECTIVE} } } }`;

export const transition = () => `mutation ConsoleTransition($input: TransitionOrderInput!) {
  transitionOrder(input: $input) { order { ${ORDER_FIELDS()} } ${ERRORS} } }`;
export const REFUND = `mutation ConsoleRefund($input: RefundPaymentInput!) {
  refundPayment(input: $input) { order { ref } ${ERRORS} } }`;
export const CREATE_FULFILLMENT = `mutation ConsoleCreateFulfillment($input: CreateFulfillmentInput!) {
  createFulfillment(input: $input) { fulfillment { ref status } ${ERRORS} } }`;
export const UPDATE_FULFILLMENT = `mutation ConsoleUpdateFulfillment($input: UpdateFulfillmentInput!) {
  updateFulfillment(input: $input) { fulfillment { ref status } ${ERRORS} } }`;

export const DIRECTIVES = `query ConsoleDirectives($status: DirectiveStatus, $topic: String, $after: String) {
  directives(status: $status, topic: $topic, first: 50, after: $after) {
    edges { node { ${DIRECTIVE} } } pageInfo { hasNextPage endCursor } } }`;
export const RETRY = `mutation ConsoleRetry($id: ID!) { retryDirective(id: $id) { directive { ${DIRECTIVE} } ${ERRORS} } }`;
export const RUN_NOW = `mutation ConsoleRunNow($id: ID!) { runDirectiveNow(id: $id) { directive { ${DIRECTIVE} } ${ERRORS} } }`;

// The list asks for little per session: a page's cost (OMNIMAN_MAX_QUERY_COST) grows with every nested list.
const SESSION_ROW = `sessionKey channelCode handleType handleRef state rev totalQ itemsCount openedAt updatedAt checks
  issues { blocking }`;
export const sessions = () => `query ConsoleSessions($channelCode: String, $after: String) {
  sessions(channelCode: $channelCode, state: OPEN, first: 25, after: $after) {
    edges { node { ${SESSION_ROW} } } pageInfo { hasNextPage endCursor } } }`;
const SESSION_FIELDS = () => `${SESSION_ROW.replace("issues { blocking }", "")} ${sessionExtras()}
  issues { id source code blocking message actions { id label } } pricingPolicy editPolicy data committedAt
  items { lineId sku name qty unitPriceQ lineTotalQ meta } order { ref status } customer { code name phone }`;
export const session = () => `query ConsoleSession($channelCode: String!, $sessionKey: String!) {
  session(channelCode: $channelCode, sessionKey: $sessionKey) { ${SESSION_FIELDS()} } }`;
export const runChecks = () => `mutation ConsoleRunChecks($input: SessionRefInput!) {
  runChecks(input: $input) { session { ${SESSION_FIELDS()} } ${ERRORS} } }`;
export const resolveIssue = () => `mutation ConsoleResolveIssue($input: ResolveIssueInput!) {
  resolveIssue(input: $input) { session { ${SESSION_FIELDS()} } ${ERRORS} } }`;
export const abandon = () => `mutation ConsoleAbandon($input: SessionRefInput!) {
  abandonSession(input: $input) { session { ${SESSION_FIELDS()} } ${ERRORS} } }`;

const CHANNEL = "code name pricingPolicy editPolicy currency displayOrder isActive config";
export const CHANNEL_PAGE = `query ConsoleChannel($code: String!, $history: Boolean!) {
  channel(code: $code) { ${CHANNEL} history(first: 25) @include(if: $history) { at actor before after } } }`;
export const CHANNEL_LIST = `query ConsoleChannelList { channels { ${CHANNEL} } }`;
export const UPSERT_CHANNEL = `mutation ConsoleUpsertChannel($input: ChannelInput!) {
  upsertChannel(input: $input) { channel { ${CHANNEL} } ${ERRORS} } }`;

export const TOKENS = `query ConsoleTokens { tokens(includeRevoked: true) { id name role channels prefix createdAt revokedAt } }`;
export const CREATE_TOKEN = `mutation ConsoleCreateToken($input: CreateTokenInput!) {
  createToken(input: $input) { secret token { id name role channels } ${ERRORS} } }`;
export const REVOKE_TOKEN = `mutation ConsoleRevokeToken($id: ID!) { revokeToken(id: $id) { token { id revokedAt } ${ERRORS} } }`;
export const IDEMPOTENCY_KEY = `query ConsoleKey($channelCode: String!, $key: String!) {
  idempotencyKey(channelCode: $channelCode, key: $key) { key status orderRef sessionKey createdAt expiresAt } }`;
export const CUSTOMERS = `query ConsoleCustomers($search: String) { customers(search: $search, first: 50) {
  edges { node { code name phone email priceList tags isActive ordersCount totalSpentQ lastOrderAt } } } }`;
