/** What the RADIUS server counts (exported on /healthz now, /metrics later). */
export class ServerCounters {
  received = 0;
  accepts = 0;
  rejects = 0;
  accounting = 0;
  /** Accounting-Requests left unanswered because they could not be recorded durably. */
  accountingNotRecorded = 0;
  statusServer = 0;
  duplicates = 0;
  errors = 0;
  readonly dropped = {
    unknownClient: 0,
    wrongCode: 0,
    malformed: 0,
    badAuthenticator: 0,
    badMessageAuthenticator: 0,
    missingMessageAuthenticator: 0,
  };

  toJSON(): Record<string, number | Record<string, number>> {
    return {
      received: this.received,
      accepts: this.accepts,
      rejects: this.rejects,
      accounting: this.accounting,
      accounting_not_recorded: this.accountingNotRecorded,
      status_server: this.statusServer,
      duplicates: this.duplicates,
      errors: this.errors,
      dropped: { ...this.dropped },
    };
  }
}
