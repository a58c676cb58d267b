import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Dictionary } from './dictionary.js';
import type { DictionaryReader } from './parse.js';
import { loadDictionaryFile } from './parse.js';

/** Where the bundled dictionaries live (copied next to the compiled code by the build). */
export const BUNDLED_DICTIONARY = fileURLToPath(
  new URL('../dictionaries/dictionary', import.meta.url),
);

export const readFromDisk: DictionaryReader = (path) => {
  try {
    return readFileSync(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
};

/**
 * The bundled dictionaries, then every regular file of `extraDir` (sorted by name), the way
 * an operator drops a vendor's dictionary into a folder.
 */
export function loadDictionaries(
  extraDir?: string,
  read: DictionaryReader = readFromDisk,
): Dictionary {
  const dict = new Dictionary();
  loadDictionaryFile(dict, BUNDLED_DICTIONARY, read);
  if (extraDir) {
    for (const name of readdirSync(extraDir).sort()) {
      if (name.startsWith('.')) continue;
      const path = join(extraDir, name);
      if (statSync(path).isFile()) loadDictionaryFile(dict, path, read);
    }
  }
  return dict;
}

let bundled: Dictionary | undefined;

/** The bundled dictionaries, loaded once per process. */
export function bundledDictionary(): Dictionary {
  bundled ??= loadDictionaries();
  return bundled;
}
