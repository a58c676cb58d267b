import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { DomainError } from '../errors.js';

const PREFIX = 'v1:';

/**
 * Secrets at rest (members' passwords, RADIUS shared secrets): AES-256-GCM with a key kept in a
 * file outside the database (mode 0600). A sealed value is `v1:` + base64(iv ‖ tag ‖ ciphertext).
 */
export class SecretBox {
  private constructor(private readonly key: Buffer) {}

  /** Opens the key file, creating it (32 random octets, mode 0600) when it does not exist. */
  static fromKeyFile(path: string): SecretBox {
    if (!existsSync(path)) {
      mkdirSync(dirname(path), { recursive: true });
      writeFileSync(path, randomBytes(32).toString('base64') + '\n', { mode: 0o600, flag: 'wx' });
    }
    const mode = statSync(path).mode & 0o777;
    if ((mode & 0o077) !== 0) chmodSync(path, 0o600); // never readable by others
    const key = Buffer.from(readFileSync(path, 'utf8').trim(), 'base64');
    if (key.length !== 32) {
      throw new DomainError(
        'SECRET_KEY_INVALID',
        `${path} does not hold a 32-octet base64 key`,
        'unavailable',
      );
    }
    return new SecretBox(key);
  }

  /** For tests. */
  static withKey(key: Buffer): SecretBox {
    if (key.length !== 32) throw new RangeError('the key must be 32 octets');
    return new SecretBox(key);
  }

  seal(plain: string): string {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.key, iv);
    const ct = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final()]);
    return PREFIX + Buffer.concat([iv, cipher.getAuthTag(), ct]).toString('base64');
  }

  open(sealed: string): string {
    const raw = sealed.startsWith(PREFIX)
      ? Buffer.from(sealed.slice(PREFIX.length), 'base64')
      : undefined;
    if (!raw || raw.length < 28)
      throw new DomainError('SECRET_UNREADABLE', 'a sealed secret is malformed', 'unavailable');
    try {
      const decipher = createDecipheriv('aes-256-gcm', this.key, raw.subarray(0, 12));
      decipher.setAuthTag(raw.subarray(12, 28));
      return Buffer.concat([decipher.update(raw.subarray(28)), decipher.final()]).toString('utf8');
    } catch {
      throw new DomainError(
        'SECRET_UNREADABLE',
        'a sealed secret does not open with this key (was the key file replaced?)',
        'unavailable',
      );
    }
  }
}
