// The RADIUS crypto toolbox: pure functions over Buffers, no state but the MD4 instance.
export {
  computeRequestAuthenticator,
  computeResponseAuthenticator,
  randomAuthenticator,
  verifyRequestAuthenticator,
  verifyResponseAuthenticator,
} from './authenticator.js';
export {
  computeMessageAuthenticator,
  verifyMessageAuthenticator,
} from './message-authenticator.js';
export { hideUserPassword, unhideUserPassword, unhideUserPasswordRaw } from './password.js';
export { SALT_ENCRYPT_MAX_PLAIN, saltDecrypt, saltEncrypt } from './salt.js';
export { chapResponse, verifyChap } from './chap.js';
export {
  MsChapErrorCode,
  authenticatorResponse,
  challengeResponse,
  desExpandKey,
  generateNtResponse,
  mschap2SuccessValue,
  mschapErrorValue,
  mschapv2Challenge,
  ntPasswordHash,
  ntPasswordHashHash,
  verifyMsChapV1,
  verifyMsChapV2,
} from './mschap.js';
export {
  getNewKeyFromSha,
  lmPasswordHash,
  mppeAsymmetricStartKey,
  mppeMasterKey,
  mppeV1StartKey,
  mschapV1MppeKeys,
  mschapV2ServerKeys,
  reduceSessionKey,
} from './mppe.js';
export type { MppeKeyLength } from './mppe.js';
