import { timingSafeEqual } from 'node:crypto';
import type { Attribute, Packet } from '../radius/index.js';
import { crypto } from '../radius/index.js';
import type { ReplyAttribute } from './reply.js';

export type AuthMethod = 'pap' | 'chap' | 'mschap' | 'mschapv2' | 'eap' | 'none';

/** What the request carries, read once. */
export function detectMethod(req: Packet): AuthMethod {
  if (req.has('EAP-Message')) return 'eap';
  if (req.has('User-Password')) return 'pap';
  if (req.has('CHAP-Password')) return 'chap';
  if (req.has('MS-CHAP-Challenge')) {
    if (req.has('MS-CHAP2-Response')) return 'mschapv2';
    if (req.has('MS-CHAP-Response')) return 'mschap';
  }
  return 'none';
}

export interface AuthResult {
  ok: boolean;
  /** Why it failed, for the log and the Reply-Message (never the password). */
  reason?: string;
  /** Attributes for the Access-Accept (MPPE keys, MS-CHAP2-Success) or the Access-Reject (MS-CHAP-Error). */
  attributes: ReplyAttribute[];
}

export interface MppePolicy {
  /** MS-MPPE-Encryption-Policy: 1 allowed, 2 required. */
  encryptionPolicy: number;
  /** MS-MPPE-Encryption-Types: 2 = 40-bit, 4 = 128-bit, 6 = either. */
  encryptionTypes: number;
}

function equal(a: Buffer, b: Buffer): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}

function octets(req: Packet, name: string): Buffer | undefined {
  const v = req.find(name)?.value;
  return Buffer.isBuffer(v) ? v : undefined;
}

/**
 * Checks the credentials in an Access-Request against the subscriber's password.
 * PAP (RFC 2865 §5.2), CHAP (RFC 1994, challenge = CHAP-Challenge or the Request Authenticator),
 * MS-CHAPv1 (RFC 2433) and MS-CHAPv2 (RFC 2759), with the MPPE keys FreeRADIUS sends.
 */
export function authenticate(
  req: Packet,
  method: AuthMethod,
  password: string,
  mppe: MppePolicy,
): AuthResult {
  switch (method) {
    case 'pap': {
      const given = req.find('User-Password') as Attribute;
      if (given.hidden || typeof given.value !== 'string')
        return fail('User-Password could not be revealed (malformed)');
      const clear = given.clear ?? Buffer.from(given.value, 'utf8');
      return equal(clear, Buffer.from(password, 'utf8')) ? ok([]) : fail('wrong password');
    }
    case 'chap': {
      const chap = octets(req, 'CHAP-Password');
      if (!chap || chap.length !== 17) return fail('CHAP-Password is not 17 octets');
      const challenge = octets(req, 'CHAP-Challenge') ?? req.authenticator;
      return crypto.verifyChap(chap, Buffer.from(password, 'utf8'), challenge)
        ? ok([])
        : fail('wrong password');
    }
    case 'mschap':
      return msChapV1(req, password, mppe);
    case 'mschapv2':
      return msChapV2(req, password, mppe);
    case 'eap':
      return fail('EAP is not supported');
    case 'none':
      return fail('no credentials (neither User-Password, CHAP-Password nor MS-CHAP)');
  }
}

function ok(attributes: AuthResult['attributes']): AuthResult {
  return { ok: true, attributes };
}

function fail(reason: string, attributes: AuthResult['attributes'] = []): AuthResult {
  return { ok: false, reason, attributes };
}

function mppeAttributes(mppe: MppePolicy): AuthResult['attributes'] {
  return [
    ['MS-MPPE-Encryption-Policy', mppe.encryptionPolicy],
    ['MS-MPPE-Encryption-Types', mppe.encryptionTypes],
  ];
}

function msChapV1(req: Packet, password: string, mppe: MppePolicy): AuthResult {
  const challenge = octets(req, 'MS-CHAP-Challenge');
  const response = octets(req, 'MS-CHAP-Response');
  if (!challenge || challenge.length !== 8) return fail('MS-CHAP-Challenge is not 8 octets');
  if (!response || response.length !== 50) return fail('MS-CHAP-Response is not 50 octets');
  const ident = response[0] as number;
  if (((response[1] as number) & 1) === 0) {
    return fail('MS-CHAP-Response without an NT response (LM only is refused)', [
      ['MS-CHAP-Error', crypto.mschapErrorValue(ident, 691, true, challenge, 2)],
    ]);
  }
  const ntHash = crypto.ntPasswordHash(password);
  if (!crypto.verifyMsChapV1(challenge, response, ntHash)) {
    return fail('wrong password', [
      ['MS-CHAP-Error', crypto.mschapErrorValue(ident, 691, true, challenge, 2)],
    ]);
  }
  return ok([['MS-CHAP-MPPE-Keys', crypto.mschapV1MppeKeys(ntHash)], ...mppeAttributes(mppe)]);
}

function msChapV2(req: Packet, password: string, mppe: MppePolicy): AuthResult {
  const authChallenge = octets(req, 'MS-CHAP-Challenge');
  const response = octets(req, 'MS-CHAP2-Response');
  if (!authChallenge || authChallenge.length !== 16)
    return fail('MS-CHAP-Challenge is not 16 octets');
  if (!response || response.length !== 50) return fail('MS-CHAP2-Response is not 50 octets');
  const ident = response[0] as number;
  // RFC 2759 hashes the user name without a Windows domain (the crypto strips DOMAIN\).
  const userName = (req.get('User-Name') as string | undefined) ?? '';
  const ntHash = crypto.ntPasswordHash(password);
  if (!crypto.verifyMsChapV2(authChallenge, response, userName, ntHash)) {
    return fail('wrong password', [
      ['MS-CHAP-Error', crypto.mschapErrorValue(ident, 691, true, authChallenge, 3)],
    ]);
  }
  const peerChallenge = response.subarray(2, 18);
  const ntResponse = response.subarray(26, 50);
  const success = crypto.authenticatorResponse(
    ntHash,
    ntResponse,
    peerChallenge,
    authChallenge,
    userName,
  );
  const keys = crypto.mschapV2ServerKeys(ntHash, ntResponse);
  return ok([
    ['MS-CHAP2-Success', crypto.mschap2SuccessValue(ident, success)],
    ['MS-MPPE-Recv-Key', keys.recvKey],
    ['MS-MPPE-Send-Key', keys.sendKey],
    ...mppeAttributes(mppe),
  ]);
}
