/**
 * A refusal from a domain service, with a stable `code` for scripts and the API
 * (RFC 9457 problem type), and a message a person can act on.
 */
export class DomainError extends Error {
  constructor(
    readonly code: string,
    message: string,
    /** What kind of refusal: the HTTP layer maps it to a status, the CLI to an exit code. */
    readonly kind: 'invalid' | 'not_found' | 'conflict' | 'unavailable' = 'invalid',
  ) {
    super(message);
    this.name = 'DomainError';
  }
}
