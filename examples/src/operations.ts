// The operations the examples run, typed by GraphQL Code Generator (`npm run codegen` writes src/gql/).
import { graphql } from "./gql";

export const OPEN_SESSION = graphql(`
  mutation OpenSession($input: OpenSessionInput!) {
    openSession(input: $input) { session { id sessionKey rev } errors { code message } }
  }
`);

export const MODIFY_SESSION = graphql(`
  mutation ModifySession($input: ModifySessionInput!) {
    modifySession(input: $input) { session { id rev totalQ } errors { code message } }
  }
`);

export const COMMIT_SESSION = graphql(`
  mutation CommitSession($input: CommitSessionInput!) {
    commitSession(input: $input) { result { orderRef status } errors { code message } }
  }
`);

export const ORDERS = graphql(`
  query LiveOrders($channelCode: String, $first: Int) {
    orders(channelCode: $channelCode, first: $first) {
      edges { node { id ref status totalQ createdAt } }
    }
  }
`);

export const TRANSITION_ORDER = graphql(`
  mutation TransitionOrder($input: TransitionOrderInput!) {
    transitionOrder(input: $input) { order { id ref status updatedAt } errors { code message } }
  }
`);

export const ORDER_EVENTS = graphql(`
  subscription LiveOrderEvents($channelCodes: [String!], $after: String) {
    orderEvents(channelCodes: $channelCodes, after: $after) {
      cursor
      type
      event { id type }
      order { id ref status }
    }
  }
`);
