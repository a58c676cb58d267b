// Copies what the compiled code reads at run time (the bundled dictionaries) next to it:
// into dist/ by default, or into the compiled tree given as the first argument.
import { cpSync, mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const base = process.argv[2] ? resolve(root, process.argv[2]) : join(root, 'dist');
const from = join(root, 'src/radius/dictionaries');
const to = join(base, 'radius/dictionaries');
mkdirSync(to, { recursive: true });
cpSync(from, to, { recursive: true });
