/** Stable codes for everything the protocol layer refuses. */
export type RadiusErrorCode =
  | 'PACKET_MALFORMED'
  | 'ATTRIBUTE_MALFORMED'
  | 'CODE_UNKNOWN'
  | 'VALUE_INVALID'
  | 'ATTRIBUTE_UNKNOWN'
  | 'TEXT_INVALID'
  | 'SECRET_REQUIRED'
  | 'PACKET_TOO_LONG'
  | 'TIMEOUT'
  | 'CLIENT_BUSY'
  | 'CLIENT_CLOSED'
  | 'RESPONSE_INVALID';

/** The only error the protocol layer throws on bad input; `code` is stable, the message explains. */
export class RadiusError extends Error {
  constructor(
    readonly code: RadiusErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'RadiusError';
  }
}
