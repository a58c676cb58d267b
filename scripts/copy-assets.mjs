// Copies what the compiled code reads at run time (the bundled dictionaries) into dist/.
import { cpSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const from = join(root, 'src/radius/dictionaries');
const to = join(root, 'dist/radius/dictionaries');
mkdirSync(to, { recursive: true });
cpSync(from, to, { recursive: true });
