import { authenticatorKind } from './codes.js';
import {
  verifyMessageAuthenticator,
  verifyRequestAuthenticator,
  verifyResponseAuthenticator,
} from './crypto/index.js';
import type { Packet } from './packet.js';

/**
 * - `ok` / `bad`: checked;
 * - `nonce`: an Access-Request or Status-Server authenticator is a random nonce, nothing to check;
 * - `unchecked`: a reply, but the request's authenticator is not known.
 */
export type AuthenticatorCheck = 'ok' | 'bad' | 'nonce' | 'unchecked';
export type MessageAuthenticatorCheck = 'ok' | 'bad' | 'absent' | 'unchecked';

export interface PacketChecks {
  authenticator: AuthenticatorCheck;
  messageAuthenticator: MessageAuthenticatorCheck;
}

const ZERO16 = Buffer.alloc(16);

/** Checks a decoded packet's Authenticator field and Message-Authenticator against the secret. */
export function verifyPacket(
  packet: Packet,
  secret: Buffer,
  requestAuthenticator?: Buffer,
): PacketChecks {
  const raw = packet.raw;
  if (!raw) return { authenticator: 'unchecked', messageAuthenticator: 'unchecked' };
  const kind = authenticatorKind(packet.code);
  let authenticator: AuthenticatorCheck;
  let maKey: Buffer | undefined;
  if (kind === 'random') {
    authenticator = 'nonce';
    maKey = packet.authenticator;
  } else if (kind === 'request') {
    authenticator = verifyRequestAuthenticator(raw, secret) ? 'ok' : 'bad';
    maKey = ZERO16;
  } else if (requestAuthenticator) {
    authenticator = verifyResponseAuthenticator(raw, requestAuthenticator, secret) ? 'ok' : 'bad';
    maKey = requestAuthenticator;
  } else {
    authenticator = 'unchecked';
  }
  const offset = packet.messageAuthenticatorOffset;
  let messageAuthenticator: MessageAuthenticatorCheck;
  if (offset === undefined) messageAuthenticator = 'absent';
  else if (!maKey) messageAuthenticator = 'unchecked';
  else messageAuthenticator = verifyMessageAuthenticator(raw, offset, maKey, secret) ? 'ok' : 'bad';
  return { authenticator, messageAuthenticator };
}
