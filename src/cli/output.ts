/** A failure the CLI reports as one line; `code` is stable for scripts. */
export class CliError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly exitCode = 1,
  ) {
    super(message);
    this.name = 'CliError';
  }
}

/** Errors that carry a stable code (RadiusError, DictionaryError, CliError…). */
interface CodedError {
  code: string;
  message: string;
  exitCode?: number;
}

function isCoded(e: unknown): e is CodedError {
  return e instanceof Error && typeof (e as { code?: unknown }).code === 'string';
}

/** Prints one clear line on stderr and sets the exit code; never a stack trace for known errors. */
export function reportError(e: unknown, json: boolean): number {
  const code = isCoded(e) ? e.code : 'INTERNAL';
  const message = e instanceof Error ? e.message : String(e);
  const exitCode = isCoded(e) && typeof e.exitCode === 'number' ? e.exitCode : 1;
  if (json) process.stderr.write(`${JSON.stringify({ error: { code, message } })}\n`);
  else process.stderr.write(`ispkit: ${message}${code === 'INTERNAL' ? '' : ` [${code}]`}\n`);
  if (code === 'INTERNAL' && e instanceof Error && e.stack && process.env.ISPKIT_DEBUG) {
    process.stderr.write(`${e.stack}\n`);
  }
  return exitCode;
}

export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, jsonReplacer, 2)}\n`);
}

function jsonReplacer(_key: string, value: unknown): unknown {
  if (typeof value === 'bigint') return value.toString();
  return value;
}

/** Hex as people paste it: `0x…`, spaces, colons, line breaks. */
export function parseHex(text: string, what: string): Buffer {
  const clean = text.replace(/^0x/i, '').replace(/[\s:]/g, '');
  if (clean.length === 0 || clean.length % 2 !== 0 || !/^[0-9a-fA-F]+$/.test(clean)) {
    throw new CliError('HEX_INVALID', `${what} is not valid hex (${clean.length} hex digits)`, 2);
  }
  return Buffer.from(clean, 'hex');
}
