// Every GraphQL document the console sends, in one place. The console talks only to the public API, and only to the
// hub that serves it: the documents use every field of that hub's schema directly (no probing for optional ones).

const REF = "type value scope isActive";
const ERRORS = "errors { code message field context }";

export const VIEWER = `query ConsoleViewer { viewer { name role channels } }`;
export const ALERTS = `query ConsoleAlerts { directiveAlerts { alerting failedCount overdueCount oldestDueSince thresholdMinutes } }`;
export const CHANNELS = `query ConsoleChannels { channels { code name currency isActive } }`;

const ROW = `ref ticket channelCode status totalQ currency itemsCount createdAt updatedAt handleType handleRef externalRef
  customer { code name }`;

// Every filter is combined (AND) by the server: a search within a channel, a status, a date range and a customer.
export const ORDERS = `
  query ConsoleOrders($channelCode: String, $status: String, $createdAfter: DateTime, $createdBefore: DateTime,
                      $customerCode: String, $search: String, $after: String) {
    orders(channelCode: $channelCode, status: $status, createdAfter: $createdAfter, createdBefore: $createdBefore,
           customerCode: $customerCode, search: $search, first: 50, after: $after) {
      edges { node { ${ROW} } } pageInfo { hasNextPage endCursor }
    }
  }`;

export const ORDER_EVENTS = `
  subscription ConsoleOrderEvents($after: String) {
    orderEvents(after: $after) { cursor type order { ${ROW} } }
  }`;

const ORDER_FIELDS = `
  ${ROW} refs { ${REF} } sessionKey snapshot allowedTransitions
  items { lineId sku name qty unitPriceQ lineTotalQ meta }
  payment { status intentId method amountQ capturedQ refundedQ lastError }
  customer { code name phone email }
  events { id type actor payload createdAt }
  fulfillments { ref status carrier trackingCode items { lineId qty } createdAt updatedAt }`;

export const ORDER = `query ConsoleOrder($ref: String!) { order(ref: $ref) { ${ORDER_FIELDS} } }`;

const DIRECTIVE = "id topic status payload orderRef attempts availableAt lastError createdAt startedAt updatedAt";
export const ORDER_DIRECTIVES = `query ConsoleOrderDirectives($ref: String!) { order(ref: $ref) { directives { ${DIRECTIVE} } } }`;

export const TRANSITION = `mutation ConsoleTransition($input: TransitionOrderInput!) {
  transitionOrder(input: $input) { order { ${ORDER_FIELDS} } ${ERRORS} } }`;
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
const SESSION_ROW = `sessionKey channelCode handleType handleRef state rev totalQ itemsCount openedAt updatedAt checks`;
export const SESSIONS = `query ConsoleSessions($channelCode: String, $after: String) {
  sessions(channelCode: $channelCode, state: OPEN, first: 25, after: $after) {
    edges { node { ${SESSION_ROW} issues { blocking } refs { type value isActive } } }
    pageInfo { hasNextPage endCursor } } }`;
const SESSION_FIELDS = `${SESSION_ROW} refs { ${REF} }
  issues { id source code blocking message actions { id label } } pricingPolicy editPolicy data committedAt
  items { lineId sku name qty unitPriceQ lineTotalQ meta } order { ref status } customer { code name phone }`;
export const SESSION = `query ConsoleSession($channelCode: String!, $sessionKey: String!) {
  session(channelCode: $channelCode, sessionKey: $sessionKey) { ${SESSION_FIELDS} } }`;
export const RUN_CHECKS = `mutation ConsoleRunChecks($input: SessionRefInput!) {
  runChecks(input: $input) { session { ${SESSION_FIELDS} } ${ERRORS} } }`;
export const RESOLVE_ISSUE = `mutation ConsoleResolveIssue($input: ResolveIssueInput!) {
  resolveIssue(input: $input) { session { ${SESSION_FIELDS} } ${ERRORS} } }`;
export const ABANDON = `mutation ConsoleAbandon($input: SessionRefInput!) {
  abandonSession(input: $input) { session { ${SESSION_FIELDS} } ${ERRORS} } }`;

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

// Refs of a session (TABLE 5, TAB ANA…): the types the hub knows, and attaching or detaching one by hand.
export const REF_TYPES = `query ConsoleRefTypes { refTypes { code label target } }`;
export const ATTACH_REF = `mutation ConsoleAttachRef($input: AttachRefInput!) { attachRef(input: $input) { ref { ${REF} } ${ERRORS} } }`;
export const DETACH_REF = `mutation ConsoleDetachRef($input: DetachRefInput!) { detachRef(input: $input) { ref { ${REF} } ${ERRORS} } }`;
