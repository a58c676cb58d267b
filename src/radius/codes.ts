/** RADIUS packet codes (RFC 2865, 2866, 5176, 5997) and their dictionary names. */
export const PacketCode = {
  AccessRequest: 1,
  AccessAccept: 2,
  AccessReject: 3,
  AccountingRequest: 4,
  AccountingResponse: 5,
  AccessChallenge: 11,
  StatusServer: 12,
  StatusClient: 13,
  DisconnectRequest: 40,
  DisconnectACK: 41,
  DisconnectNAK: 42,
  CoARequest: 43,
  CoAACK: 44,
  CoANAK: 45,
} as const;

export type PacketCodeNumber = (typeof PacketCode)[keyof typeof PacketCode];

const NAMES: ReadonlyMap<number, string> = new Map([
  [1, 'Access-Request'],
  [2, 'Access-Accept'],
  [3, 'Access-Reject'],
  [4, 'Accounting-Request'],
  [5, 'Accounting-Response'],
  [11, 'Access-Challenge'],
  [12, 'Status-Server'],
  [13, 'Status-Client'],
  [40, 'Disconnect-Request'],
  [41, 'Disconnect-ACK'],
  [42, 'Disconnect-NAK'],
  [43, 'CoA-Request'],
  [44, 'CoA-ACK'],
  [45, 'CoA-NAK'],
]);

const BY_NAME: ReadonlyMap<string, number> = new Map(
  [...NAMES].map(([n, s]) => [s.toLowerCase(), n]),
);

export function codeName(code: number): string {
  return NAMES.get(code) ?? `Unknown-Code-${code}`;
}

export function codeByName(name: string): number | undefined {
  if (/^\d+$/.test(name)) {
    const n = Number(name);
    return NAMES.has(n) ? n : undefined;
  }
  return BY_NAME.get(name.toLowerCase());
}

export function isKnownCode(code: number): boolean {
  return NAMES.has(code);
}

/**
 * How the Authenticator field of a packet is made:
 * - `random`: Access-Request, Status-Server (a nonce; Message-Authenticator protects the packet);
 * - `request`: Accounting-Request, CoA-Request, Disconnect-Request, Status-Client
 *   (MD5 over the packet with 16 zero octets in the field, RFC 2866 §3, RFC 5176 §2.3);
 * - `response`: every reply (MD5 over the packet with the request's authenticator).
 */
export type AuthenticatorKind = 'random' | 'request' | 'response';

export function authenticatorKind(code: number): AuthenticatorKind {
  switch (code) {
    case 1:
    case 12:
      return 'random';
    case 4:
    case 13:
    case 40:
    case 43:
      return 'request';
    default:
      return 'response';
  }
}

/** The reply codes that may answer a request code. */
export function isResponseCode(code: number): boolean {
  return authenticatorKind(code) === 'response';
}
