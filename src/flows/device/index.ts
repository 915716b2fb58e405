/**
 * RFC 8628 device authorization, brokered over Webex: the state machine of a script handoff.
 * pending → approved (tokens sealed in the store) → delivered once, or pending → denied,
 * or cancelled, or expired. No Koa in here.
 */
export { type ClientCredentials, authenticateClient, resolveHandoffScopes } from './clients';
export { approveHandoff, cancelHandoff, denyHandoff } from './decide';
export {
  type HandoffRecord,
  type HandoffWorkload,
  type PendingHandoff,
  type WatchState,
  handoffIdFor,
  handoffState,
} from './handoff';
export { DEVICE_CODE_GRANT, type Delivery, pollHandoff } from './poll';
export {
  type DeviceAuthorizationResponse,
  type HandoffRequest,
  createHandoff,
  findPendingHandoff,
  getPendingHandoff,
} from './request';
export { HandoffWaiters } from './waiters';
export {
  JWT_TOKEN_TYPE,
  type WidthChoice,
  chosenWidth,
  verifyRequesterWorkload,
  widthChoices,
} from './workload';
