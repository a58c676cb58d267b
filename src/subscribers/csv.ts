import { DomainError } from '../errors.js';

/** One CSV record and the line of the file it starts on (a quoted field may span lines). */
export interface CsvRecord {
  line: number;
  fields: string[];
}

/**
 * RFC 4180, read leniently the way spreadsheets write it: CRLF or LF line ends, an optional
 * UTF-8 byte order mark, and blank lines skipped. Small enough not to need a dependency.
 */
export function parseCsv(text: string): CsvRecord[] {
  const records: CsvRecord[] = [];
  const s = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  let line = 1;
  let i = 0;
  while (i < s.length) {
    const start = line;
    const fields: string[] = [];
    // One record: fields until an unquoted line end or the end of the text.
    for (;;) {
      let value = '';
      if (s[i] === '"') {
        i++;
        for (;;) {
          if (i >= s.length) {
            throw new DomainError('CSV_INVALID', `line ${start}: a quoted field is not closed`);
          }
          const c = s[i];
          if (c === '"') {
            if (s[i + 1] === '"') {
              value += '"';
              i += 2;
              continue;
            }
            i++;
            break;
          }
          if (c === '\n') line++;
          value += c;
          i++;
        }
        const next = s[i];
        if (next !== undefined && next !== ',' && next !== '\n' && next !== '\r') {
          throw new DomainError('CSV_INVALID', `line ${line}: text after a closing quote`);
        }
      } else {
        let end = i;
        while (end < s.length && s[end] !== ',' && s[end] !== '\n' && s[end] !== '\r') end++;
        value = s.slice(i, end);
        if (value.includes('"')) {
          throw new DomainError(
            'CSV_INVALID',
            `line ${line}: a quote inside an unquoted field (quote the whole field and double it)`,
          );
        }
        i = end;
      }
      fields.push(value);
      if (s[i] === ',') {
        i++;
        continue;
      }
      if (s[i] === '\r') i++;
      if (s[i] === '\n') i++;
      line++;
      break;
    }
    if (!(fields.length === 1 && fields[0] === '')) records.push({ line: start, fields });
  }
  return records;
}

function quote(value: string): string {
  return /[",\r\n]/.test(value) ? `"${value.replace(/"/g, '""')}"` : value;
}

/** RFC 4180 text with LF line ends (which every reader of RFC 4180 accepts too). */
export function formatCsv(rows: readonly (readonly string[])[]): string {
  return rows.map((r) => r.map(quote).join(',')).join('\n') + '\n';
}
