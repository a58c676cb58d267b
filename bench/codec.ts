/**
 * `npm run bench:codec`: decodes and encodes per second for the seed exchange, on one core.
 * Each figure is the best of 5 rounds of ~1 s (so a busy neighbour does not lower it).
 */
import { cpus } from 'node:os';
import { SEED_ACCESS_ACCEPT, SEED_ACCESS_REQUEST } from '../test/fixtures/seed.js';
import {
  bundledDictionary,
  decodePacket,
  encodePacket,
  Packet,
  parseAttributes,
  verifyPacket,
} from '../src/radius/index.js';

const dict = bundledDictionary();
const secret = Buffer.from('bench-secret');
const requestAuthenticator = Buffer.from('0123456789abcdef0123456789abcdef', 'hex');
const request = encodePacket(
  new Packet(dict, 1, 126, requestAuthenticator, parseAttributes(dict, SEED_ACCESS_REQUEST)),
  { secret },
);
const acceptAttrs = parseAttributes(dict, SEED_ACCESS_ACCEPT);
const requestAttrs = parseAttributes(dict, SEED_ACCESS_REQUEST);

function rate(name: string, fn: () => void): { name: string; perSecond: number; usPerOp: number } {
  for (let i = 0; i < 20_000; i++) fn(); // warm up the JIT
  let best = 0;
  for (let round = 0; round < 5; round++) {
    let n = 0;
    const start = process.hrtime.bigint();
    const until = start + 1_000_000_000n;
    let now = start;
    while (now < until) {
      for (let i = 0; i < 1000; i++) fn();
      n += 1000;
      now = process.hrtime.bigint();
    }
    best = Math.max(best, n / (Number(now - start) / 1e9));
  }
  return { name, perSecond: Math.round(best), usPerOp: Number((1e6 / best).toFixed(2)) };
}

let sink = 0;
const results = [
  rate('decode seed Access-Request (356 octets, 19 attributes)', () => {
    sink += decodePacket(request, dict, { secret }).attributes.length;
  }),
  rate('decode + read User-Name, NAS-IP-Address, MS-CHAP-Response, Proxy-State', () => {
    const p = decodePacket(request, dict, { secret });
    const u = p.get('User-Name');
    const n = p.get('NAS-IP-Address');
    const r = p.get('MS-CHAP-Response');
    sink += (u?.length ?? 0) + (n?.length ?? 0) + (r?.length ?? 0) + p.getAll('Proxy-State').length;
  }),
  rate('decode + verify Message-Authenticator', () => {
    const p = decodePacket(request, dict, { secret });
    sink += verifyPacket(p, secret).messageAuthenticator === 'ok' ? 1 : 0;
  }),
  rate('encode seed Access-Request (signed, from typed values)', () => {
    sink += encodePacket(new Packet(dict, 1, 126, requestAuthenticator, requestAttrs.slice()), {
      secret,
    }).length;
  }),
  rate('encode seed Access-Accept (signed reply, M-A first, MPPE keys hidden)', () => {
    const p = new Packet(
      dict,
      2,
      126,
      requestAuthenticator,
      acceptAttrs.slice(),
    ).withMessageAuthenticator();
    sink += encodePacket(p, { secret, requestAuthenticator }).length;
  }),
];

console.log(`node ${process.version}, ${cpus()[0]?.model ?? 'unknown CPU'}, one core`);
console.log('| operation | per second | µs each |');
console.log('| --- | ---: | ---: |');
for (const r of results)
  console.log(`| ${r.name} | ${r.perSecond.toLocaleString('en')} | ${r.usPerOp} |`);
console.log(JSON.stringify({ bench: 'codec', results, sink: sink > 0 }));
