/*
 * radload: the RADIUS load generator of `npm run bench` (ispkit issue 7).
 *
 * Written for ispkit from RFC 2865 (Access-Request, User-Password hiding, CHAP), RFC 2866
 * (Accounting-Request authenticator), RFC 2869 (Message-Authenticator), RFC 2548 and RFC 2759
 * (MS-CHAPv2 in Microsoft vendor attributes). The primitives (MD4, MD5, SHA-1, DES) are
 * OpenSSL's libcrypto; HMAC-MD5 is RFC 2104 over them with the pads absorbed once.
 *
 * One thread, one connected UDP socket to 127.0.0.1, a window of outstanding requests (one per
 * RADIUS Identifier), a fixed duration. Every request is built fresh when it is sent (a new
 * Request Authenticator, so no server can answer it from a duplicate cache), and every reply
 * is verified: the Identifier is outstanding, the Response Authenticator is right, and the
 * Message-Authenticator, when present, is right. The result is one JSON line on stdout.
 *
 * With --rate R the load is open: requests leave on a schedule of R per second (the window
 * only caps what is outstanding), and latency is measured from each request's scheduled time,
 * so that a server that falls behind is not excused by the generator waiting for it (no
 * coordinated omission). "behind" counts the requests that left over 1 ms after their time;
 * lag_p50/p99 are the generator's own lateness (scheduled → sent, for the requests that a full
 * window did not hold back; window_waits counts those) and reply_p50/p99 the time from the
 * actual send to the reply, to tell the generator's share of a tail from the server's.
 *
 * Build: cc -O2 -o radload radload.c -lcrypto
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/des.h>
#include <openssl/md4.h>
#include <openssl/md5.h>
#include <openssl/sha.h>

#define MAX_WINDOW 200 /* Identifiers are one octet: leave 56 spare so a late one is not reused at once */
#define MAX_PACKET 4096
#define BATCH 64
#define HIST_US 2000000 /* latency histogram: 1 µs buckets up to 2 s */

enum mode { PAP, CHAP, MSCHAPV2, ACCT, ACCT_START };

struct slot {
  int busy;
  uint8_t authenticator[16];
  uint64_t sent_ns; /* when it was due (open load) or sent (closed load) */
  uint64_t left_ns; /* when it actually left */
  int session; /* accounting: the session this request belongs to */
};

struct session {
  uint32_t user;
  uint64_t serial;
  int phase; /* 0 Start, 1 Interim-Update, 2 Stop */
  uint32_t started;
};

static struct {
  const char *host, *server, *user_fmt, *pass_fmt, *session_prefix;
  int port, window, timeout_ms, message_authenticator;
  double duration, rate;
  uint32_t users;
  uint64_t count; /* stop after this many requests (0: run for the duration) */
  enum mode mode;
  const uint8_t *secret;
  size_t secret_len;
} opt = {"127.0.0.1", "server", "m%06u", "pw-%06u", NULL, 1812, 64, 2000, 1, 10.0, 0, 10000, 0, PAP,
         NULL, 0};

static MD5_CTX hmac_inner, hmac_outer; /* the secret's pads, absorbed once */
static struct slot slots[256];
static struct session sessions[MAX_WINDOW];
/* Latency histograms, 1 µs buckets: from the scheduled time (the figure reported); under open
   load also the generator's own lag (scheduled → sent) and the reply time from the actual send,
   so that a reader can tell the generator's lateness from the server's. */
struct histogram {
  uint32_t *b;
  uint64_t over;
};
static struct histogram hist, lag_hist, reply_hist;
static uint64_t sent, ok, rejects, bad, timeouts, late, behind, answered_in_time, next_user,
    next_session;
/* Open load: requests that could not leave on time because the window was full (the server's
   slowness, not the generator's), and when the window last held back a request that was due. */
static uint64_t window_waits, last_blocked_ns;
static uint64_t rng_state;
static unsigned next_id;
static int outstanding;
static uint8_t (*nt_hash)[16]; /* MS-CHAPv2: NtPasswordHash per user, computed before the run */

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static uint64_t rnd64(void) { /* xorshift64*: request authenticators and challenges */
  rng_state ^= rng_state >> 12;
  rng_state ^= rng_state << 25;
  rng_state ^= rng_state >> 27;
  return rng_state * 0x2545F4914F6CDD1Dull;
}

static void rnd_bytes(uint8_t *out, size_t n) {
  while (n > 0) {
    uint64_t r = rnd64();
    size_t k = n < 8 ? n : 8;
    memcpy(out, &r, k);
    out += k;
    n -= k;
  }
}

static void die(const char *msg) {
  fprintf(stderr, "radload: %s\n", msg);
  exit(2);
}

static void hmac_setup(void) {
  uint8_t key[64] = {0}, pad[64];
  if (opt.secret_len > 64)
    MD5(opt.secret, opt.secret_len, key);
  else
    memcpy(key, opt.secret, opt.secret_len);
  for (int i = 0; i < 64; i++) pad[i] = key[i] ^ 0x36;
  MD5_Init(&hmac_inner);
  MD5_Update(&hmac_inner, pad, 64);
  for (int i = 0; i < 64; i++) pad[i] = key[i] ^ 0x5c;
  MD5_Init(&hmac_outer);
  MD5_Update(&hmac_outer, pad, 64);
}

static void hmac_md5(const uint8_t *data, size_t len, uint8_t out[16]) {
  uint8_t inner[16];
  MD5_CTX c = hmac_inner;
  MD5_Update(&c, data, len);
  MD5_Final(inner, &c);
  c = hmac_outer;
  MD5_Update(&c, inner, 16);
  MD5_Final(out, &c);
}

/* ---- packet building ---- */

struct pkt {
  uint8_t b[MAX_PACKET];
  size_t len;
};

static void put_attr(struct pkt *p, uint8_t type, const void *value, size_t len) {
  if (len > 253 || p->len + 2 + len > MAX_PACKET) die("attribute too long");
  p->b[p->len] = type;
  p->b[p->len + 1] = (uint8_t)(len + 2);
  memcpy(p->b + p->len + 2, value, len);
  p->len += 2 + len;
}

static void put_u32(struct pkt *p, uint8_t type, uint32_t v) {
  uint32_t n = htonl(v);
  put_attr(p, type, &n, 4);
}

static void put_str(struct pkt *p, uint8_t type, const char *s) { put_attr(p, type, s, strlen(s)); }

static void put_ms(struct pkt *p, uint8_t vendor_type, const uint8_t *value, size_t len) {
  uint8_t v[260];
  uint32_t vendor = htonl(311); /* Microsoft, RFC 2548 */
  memcpy(v, &vendor, 4);
  v[4] = vendor_type;
  v[5] = (uint8_t)(len + 2);
  memcpy(v + 6, value, len);
  put_attr(p, 26, v, len + 6);
}

static size_t put_ma_placeholder(struct pkt *p) {
  static const uint8_t zero[16] = {0};
  put_attr(p, 80, zero, 16);
  return p->len - 16;
}

static void finish_header(struct pkt *p, uint8_t code, uint8_t id) {
  p->b[0] = code;
  p->b[1] = id;
  p->b[2] = (uint8_t)(p->len >> 8);
  p->b[3] = (uint8_t)(p->len & 0xff);
}

/* RFC 2865 §5.2: c(1) = p1 xor MD5(S + RA), c(i) = p(i) xor MD5(S + c(i-1)). */
static void put_user_password(struct pkt *p, const char *password, const uint8_t ra[16]) {
  uint8_t buf[128] = {0}, digest[16];
  size_t len = strlen(password);
  size_t padded = len == 0 ? 16 : (len + 15) / 16 * 16;
  if (padded > 128) die("password too long");
  memcpy(buf, password, len);
  const uint8_t *prev = ra;
  for (size_t off = 0; off < padded; off += 16) {
    MD5_CTX c;
    MD5_Init(&c);
    MD5_Update(&c, opt.secret, opt.secret_len);
    MD5_Update(&c, prev, 16);
    MD5_Final(digest, &c);
    for (int i = 0; i < 16; i++) buf[off + i] ^= digest[i];
    prev = buf + off;
  }
  put_attr(p, 2, buf, padded);
}

/* RFC 2759 §8.6: a 7-octet key spread over the 8 octets DES takes (parity bits ignored). */
static void des_encrypt7(const uint8_t key7[7], const uint8_t clear[8], uint8_t out[8]) {
  DES_cblock key;
  DES_key_schedule ks;
  key[0] = key7[0];
  key[1] = (uint8_t)(key7[0] << 7 | key7[1] >> 1);
  key[2] = (uint8_t)(key7[1] << 6 | key7[2] >> 2);
  key[3] = (uint8_t)(key7[2] << 5 | key7[3] >> 3);
  key[4] = (uint8_t)(key7[3] << 4 | key7[4] >> 4);
  key[5] = (uint8_t)(key7[4] << 3 | key7[5] >> 5);
  key[6] = (uint8_t)(key7[5] << 2 | key7[6] >> 6);
  key[7] = (uint8_t)(key7[6] << 1);
  DES_set_key_unchecked(&key, &ks);
  DES_ecb_encrypt((const_DES_cblock *)clear, (DES_cblock *)out, &ks, DES_ENCRYPT);
}

static void nt_password_hash(const char *password, uint8_t out[16]) {
  uint8_t utf16[512];
  size_t n = strlen(password);
  if (n > 256) die("password too long");
  for (size_t i = 0; i < n; i++) { /* the bench's passwords are ASCII */
    utf16[2 * i] = (uint8_t)password[i];
    utf16[2 * i + 1] = 0;
  }
  MD4(utf16, 2 * n, out);
}

static void user_name(uint32_t u, char *out, size_t size) { snprintf(out, size, opt.user_fmt, u); }
static void user_pass(uint32_t u, char *out, size_t size) { snprintf(out, size, opt.pass_fmt, u); }

static void put_nas(struct pkt *p, uint32_t user) {
  char calling[32];
  put_u32(p, 4, 0x7f000001); /* NAS-IP-Address 127.0.0.1 */
  put_u32(p, 5, user);       /* NAS-Port */
  put_u32(p, 61, 15);        /* NAS-Port-Type Ethernet */
  snprintf(calling, sizeof calling, "02:00:%02x:%02x:%02x:%02x", user >> 24 & 0xff,
           user >> 16 & 0xff, user >> 8 & 0xff, user & 0xff);
  put_str(p, 31, calling); /* Calling-Station-Id */
  put_str(p, 32, "radload-nas");
}

static void build_access(struct pkt *p, uint8_t id, uint8_t ra[16]) {
  char name[128], password[128];
  uint32_t u = (uint32_t)(next_user++ % opt.users);
  user_name(u, name, sizeof name);
  user_pass(u, password, sizeof password);
  rnd_bytes(ra, 16);
  p->len = 20;
  memcpy(p->b + 4, ra, 16);
  size_t ma = opt.message_authenticator ? put_ma_placeholder(p) : 0;
  put_str(p, 1, name);
  if (opt.mode == PAP) {
    put_user_password(p, password, ra);
  } else if (opt.mode == CHAP) {
    uint8_t challenge[16], value[17];
    MD5_CTX c;
    rnd_bytes(challenge, 16);
    value[0] = (uint8_t)rnd64();
    MD5_Init(&c); /* RFC 1994: MD5(ident + secret + challenge) */
    MD5_Update(&c, value, 1);
    MD5_Update(&c, password, strlen(password));
    MD5_Update(&c, challenge, 16);
    MD5_Final(value + 1, &c);
    put_attr(p, 3, value, 17);
    put_attr(p, 60, challenge, 16);
  } else {
    uint8_t auth_challenge[16], response[50] = {0}, digest[SHA_DIGEST_LENGTH], zhash[21] = {0};
    SHA_CTX s;
    rnd_bytes(auth_challenge, 16);
    response[0] = (uint8_t)rnd64(); /* Ident */
    rnd_bytes(response + 2, 16);    /* Peer-Challenge; 8 reserved zeros follow */
    SHA1_Init(&s);                  /* ChallengeHash, RFC 2759 §8.2 */
    SHA1_Update(&s, response + 2, 16);
    SHA1_Update(&s, auth_challenge, 16);
    SHA1_Update(&s, name, strlen(name));
    SHA1_Final(digest, &s);
    memcpy(zhash, nt_hash[u], 16);
    for (int i = 0; i < 3; i++) des_encrypt7(zhash + 7 * i, digest, response + 26 + 8 * i);
    put_ms(p, 11, auth_challenge, 16); /* MS-CHAP-Challenge */
    put_ms(p, 25, response, 50);       /* MS-CHAP2-Response */
  }
  put_u32(p, 6, 2); /* Service-Type Framed-User */
  put_u32(p, 7, 1); /* Framed-Protocol PPP */
  put_nas(p, u);
  finish_header(p, 1, id);
  if (opt.message_authenticator) hmac_md5(p->b, p->len, p->b + ma);
}

static void build_acct(struct pkt *p, uint8_t id, uint8_t ra[16], int si) {
  struct session *s = &sessions[si];
  char name[128], sid[96];
  uint32_t now = (uint32_t)time(NULL);
  user_name(s->user, name, sizeof name);
  snprintf(sid, sizeof sid, "%s-%llu", opt.session_prefix, (unsigned long long)s->serial);
  p->len = 20;
  memset(p->b + 4, 0, 16);
  put_str(p, 1, name);
  put_u32(p, 40, s->phase == 0 ? 1 : s->phase == 1 ? 3 : 2); /* Acct-Status-Type */
  put_str(p, 44, sid);
  put_u32(p, 45, 1); /* Acct-Authentic RADIUS */
  put_u32(p, 6, 2);
  put_u32(p, 7, 1);
  put_u32(p, 8, 0x0a000000 | (s->user & 0xffffff)); /* Framed-IP-Address 10.x.y.z */
  put_nas(p, s->user);
  put_u32(p, 41, 0); /* Acct-Delay-Time */
  put_u32(p, 55, now);
  if (s->phase > 0) {
    uint32_t t = now - s->started + 60 * (uint32_t)s->phase;
    put_u32(p, 46, t);
    put_u32(p, 42, 1000000u * (uint32_t)s->phase + s->user); /* octets in, out */
    put_u32(p, 43, 5000000u * (uint32_t)s->phase + s->user);
    put_u32(p, 47, 1000u * (uint32_t)s->phase);
    put_u32(p, 48, 4000u * (uint32_t)s->phase);
    if (s->phase == 2) put_u32(p, 49, 1); /* Acct-Terminate-Cause User-Request */
  }
  finish_header(p, 4, id);
  MD5_CTX c; /* RFC 2866 §3: MD5(Code + Identifier + Length + 16 zeros + attributes + secret) */
  MD5_Init(&c);
  MD5_Update(&c, p->b, p->len);
  MD5_Update(&c, opt.secret, opt.secret_len);
  MD5_Final(p->b + 4, &c);
  memcpy(ra, p->b + 4, 16);
}

static void new_session(int si) {
  struct session *s = &sessions[si];
  s->user = (uint32_t)(next_user++ % opt.users);
  s->serial = next_session++;
  s->phase = 0;
  s->started = (uint32_t)time(NULL);
}

static void advance_session(int si) {
  if (opt.mode == ACCT_START || sessions[si].phase == 2)
    new_session(si);
  else
    sessions[si].phase++;
}

/* ---- replies ---- */

static int verify_reply(const uint8_t *b, size_t n, const uint8_t ra[16]) {
  if (n < 20 || ((size_t)b[2] << 8 | b[3]) != n) return 0;
  uint8_t digest[16];
  MD5_CTX c; /* RFC 2865 §3: MD5(Code + ID + Length + RequestAuth + Attributes + Secret) */
  MD5_Init(&c);
  MD5_Update(&c, b, 4);
  MD5_Update(&c, ra, 16);
  MD5_Update(&c, b + 20, n - 20);
  MD5_Update(&c, opt.secret, opt.secret_len);
  MD5_Final(digest, &c);
  if (memcmp(digest, b + 4, 16) != 0) return 0;
  for (size_t off = 20; off < n;) { /* Message-Authenticator, when present (RFC 2869 §5.14) */
    if (off + 2 > n || b[off + 1] < 2 || off + b[off + 1] > n) return 0;
    if (b[off] == 80) {
      if (b[off + 1] != 18) return 0;
      uint8_t copy[MAX_PACKET], mac[16];
      memcpy(copy, b, n);
      memcpy(copy + 4, ra, 16);
      memset(copy + off + 2, 0, 16);
      hmac_md5(copy, n, mac);
      if (memcmp(mac, b + off + 2, 16) != 0) return 0;
    }
    off += b[off + 1];
  }
  return 1;
}

static void record(struct histogram *h, uint64_t ns) {
  uint64_t us = ns / 1000;
  if (us < HIST_US)
    h->b[us]++;
  else
    h->over++;
}

/* The q-quantile in ms (0 when nothing was recorded). */
static double percentile(const struct histogram *h, double q) {
  uint64_t total = h->over;
  for (int i = 0; i < HIST_US; i++) total += h->b[i];
  if (total == 0) return 0;
  uint64_t rank = (uint64_t)(q * (double)total + 0.5), seen = 0;
  if (rank == 0) rank = 1;
  for (int i = 0; i < HIST_US; i++) {
    seen += h->b[i];
    if (seen >= rank) return (i + 0.5) / 1000.0;
  }
  return HIST_US / 1000.0;
}

static void usage(void) {
  fprintf(stderr,
          "usage: radload --mode pap|chap|mschapv2|acct|acct-start --port N --secret S\n"
          "  [--host 127.0.0.1] [--window 64] [--duration 10] [--timeout-ms 2000] [--count N]\n"
          "  [--users 10000] [--user-fmt m%%06u] [--pass-fmt pw-%%06u] [--server NAME]\n"
          "  [--session-prefix P] [--no-message-authenticator] [--rate R]\n");
  exit(2);
}

int main(int argc, char **argv) {
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    const char *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (strcmp(a, "--no-message-authenticator") == 0) {
      opt.message_authenticator = 0;
      continue;
    }
    if (!v) usage();
    i++;
    if (strcmp(a, "--mode") == 0) {
      if (strcmp(v, "pap") == 0) opt.mode = PAP;
      else if (strcmp(v, "chap") == 0) opt.mode = CHAP;
      else if (strcmp(v, "mschapv2") == 0) opt.mode = MSCHAPV2;
      else if (strcmp(v, "acct") == 0) opt.mode = ACCT;
      else if (strcmp(v, "acct-start") == 0) opt.mode = ACCT_START;
      else usage();
    } else if (strcmp(a, "--host") == 0) opt.host = v;
    else if (strcmp(a, "--port") == 0) opt.port = atoi(v);
    else if (strcmp(a, "--secret") == 0) {
      opt.secret = (const uint8_t *)v;
      opt.secret_len = strlen(v);
    } else if (strcmp(a, "--window") == 0) opt.window = atoi(v);
    else if (strcmp(a, "--duration") == 0) opt.duration = atof(v);
    else if (strcmp(a, "--rate") == 0) opt.rate = atof(v);
    else if (strcmp(a, "--timeout-ms") == 0) opt.timeout_ms = atoi(v);
    else if (strcmp(a, "--count") == 0) opt.count = strtoull(v, NULL, 10);
    else if (strcmp(a, "--users") == 0) opt.users = (uint32_t)strtoul(v, NULL, 10);
    else if (strcmp(a, "--user-fmt") == 0) opt.user_fmt = v;
    else if (strcmp(a, "--pass-fmt") == 0) opt.pass_fmt = v;
    else if (strcmp(a, "--server") == 0) opt.server = v;
    else if (strcmp(a, "--session-prefix") == 0) opt.session_prefix = v;
    else usage();
  }
  if (!opt.secret || opt.port <= 0 || opt.port > 65535 || opt.users == 0) usage();
  if (opt.window < 1 || opt.window > MAX_WINDOW) die("--window must be 1-200");
  if (opt.duration <= 0 || opt.duration > 600) die("--duration must be in (0, 600] seconds");
  if (opt.rate < 0 || opt.rate > 1e6) die("--rate must be in [0, 1000000] requests per second");
  if (opt.timeout_ms < 1 || opt.timeout_ms > 30000) die("--timeout-ms must be 1-30000");
  /* Loopback only: this tool sends as fast as it can. */
  struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons((uint16_t)opt.port)};
  if (inet_pton(AF_INET, opt.host, &to.sin_addr) != 1 || (ntohl(to.sin_addr.s_addr) >> 24) != 127)
    die("--host must be an IPv4 loopback address (127.0.0.0/8)");

  rng_state = (uint64_t)now_ns() ^ ((uint64_t)getpid() << 32) ^ 0x9E3779B97F4A7C15ull;
  if (rng_state == 0) rng_state = 1;
  char prefix[64];
  if (!opt.session_prefix) {
    snprintf(prefix, sizeof prefix, "rl%llx", (unsigned long long)(rnd64() & 0xffffffffffull));
    opt.session_prefix = prefix;
  }
  hmac_setup();
  hist.b = calloc(HIST_US, sizeof *hist.b);
  lag_hist.b = calloc(HIST_US, sizeof *lag_hist.b);
  reply_hist.b = calloc(HIST_US, sizeof *reply_hist.b);
  if (!hist.b || !lag_hist.b || !reply_hist.b) die("out of memory");
  if (opt.mode == MSCHAPV2) { /* the NAS side of MS-CHAPv2 knows the password: hash it once */
    nt_hash = malloc((size_t)opt.users * 16);
    if (!nt_hash) die("out of memory");
    char password[128];
    for (uint32_t u = 0; u < opt.users; u++) {
      user_pass(u, password, sizeof password);
      nt_password_hash(password, nt_hash[u]);
    }
  }
  if (opt.mode == ACCT || opt.mode == ACCT_START)
    for (int i = 0; i < opt.window; i++) new_session(i);

  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
  if (fd < 0) die("socket");
  int bufsize = 4 << 20;
  setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &bufsize, sizeof bufsize);
  setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &bufsize, sizeof bufsize);
  if (connect(fd, (struct sockaddr *)&to, sizeof to) != 0) die("connect");

  static struct pkt out[BATCH];
  static uint8_t in[BATCH][MAX_PACKET];
  struct mmsghdr msgs[BATCH];
  struct iovec iov[BATCH];
  int free_session[MAX_WINDOW], n_free_session = 0;
  if (opt.mode == ACCT || opt.mode == ACCT_START)
    for (int i = opt.window - 1; i >= 0; i--) free_session[n_free_session++] = i;

  struct rusage ru0, ru1;
  getrusage(RUSAGE_SELF, &ru0);
  const uint64_t t0 = now_ns();
  const uint64_t deadline = t0 + (uint64_t)(opt.duration * 1e9);
  const uint64_t timeout_ns = (uint64_t)opt.timeout_ms * 1000000ull;
  uint64_t last_scan = t0, t_end = deadline;
  int sending = 1;
  const double ns_per_request = opt.rate > 0 ? 1e9 / opt.rate : 0;

  for (;;) {
    uint64_t now = now_ns();
    if (sending && (now >= deadline || (opt.count && sent >= opt.count))) {
      sending = 0;
      t_end = now;
    }
    if (!sending && outstanding == 0) break;
    /* Fill the window, in one sendmmsg. */
    int nb = 0;
    /* Open load: only the requests whose scheduled time has come. */
    uint64_t due = UINT64_MAX;
    if (opt.rate > 0) {
      uint64_t scheduled = (uint64_t)((double)(now - t0) / ns_per_request) + 1;
      due = scheduled > sent ? scheduled - sent : 0;
    }
    while (sending && outstanding + nb < opt.window && nb < BATCH && (uint64_t)nb < due &&
           !(opt.count && sent + (uint64_t)nb >= opt.count)) {
      unsigned id = next_id;
      int tries = 0;
      while (slots[id].busy && tries < 256) {
        id = (id + 1) & 0xff;
        tries++;
      }
      if (tries == 256) break;
      next_id = (id + 1) & 0xff;
      struct slot *s = &slots[id];
      if (opt.mode == ACCT || opt.mode == ACCT_START) {
        s->session = free_session[--n_free_session];
        build_acct(&out[nb], (uint8_t)id, s->authenticator, s->session);
      } else {
        build_access(&out[nb], (uint8_t)id, s->authenticator);
      }
      s->busy = 1;
      /* Open load: latency counts from the scheduled time, not from when the window allowed. */
      s->sent_ns = now;
      s->left_ns = now;
      if (opt.rate > 0) {
        s->sent_ns = t0 + (uint64_t)((double)(sent + (uint64_t)nb) * ns_per_request);
        if (now > s->sent_ns + 1000000ull) behind++; /* left over 1 ms late */
        /* Held back by a full window since it was due: the server's share. Otherwise any delay
           is the generator's own (its loop woke late). */
        if (last_blocked_ns >= s->sent_ns)
          window_waits++;
        else
          record(&lag_hist, now > s->sent_ns ? now - s->sent_ns : 0);
      }
      iov[nb].iov_base = out[nb].b;
      iov[nb].iov_len = out[nb].len;
      memset(&msgs[nb].msg_hdr, 0, sizeof msgs[nb].msg_hdr);
      msgs[nb].msg_hdr.msg_iov = &iov[nb];
      msgs[nb].msg_hdr.msg_iovlen = 1;
      nb++;
    }
    for (int done = 0; done < nb;) {
      int r = sendmmsg(fd, msgs + done, (unsigned)(nb - done), 0);
      if (r < 0) {
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == ENOBUFS || errno == ECONNREFUSED) {
          /* Not sent: count as sent anyway, the slot times out (honest: nothing is retried). */
          done = nb;
          break;
        }
        die("sendmmsg");
      }
      done += r;
    }
    if (opt.rate > 0 && sending && (uint64_t)nb < due && outstanding + nb >= opt.window)
      last_blocked_ns = now;
    outstanding += nb;
    sent += (uint64_t)nb;

    /* Wait for replies: at most 1 ms (timeouts are scanned every ms), or until the next
       scheduled request under open load. */
    struct pollfd pfd = {.fd = fd, .events = POLLIN};
    uint64_t wait_ns = 1000000ull;
    if (opt.rate > 0 && sending) {
      uint64_t next = t0 + (uint64_t)((double)(sent + 1) * ns_per_request);
      uint64_t at = now_ns();
      wait_ns = next > at ? (next - at < wait_ns ? next - at : wait_ns) : 0;
      /* Wake at most every 200 µs and send what came due in one sendmmsg: waking for every
         request cost the generator half a core at 13,000/s, taken from the server it measures.
         A request waits at most 200 µs for its tick, counted in its latency for every server. */
      if (wait_ns < 200000ull) wait_ns = 200000ull;
    }
    struct timespec ts = {.tv_sec = 0, .tv_nsec = (long)wait_ns};
    if (ppoll(&pfd, 1, &ts, NULL) < 0 && errno != EINTR) die("ppoll");
    for (;;) {
      for (int i = 0; i < BATCH; i++) {
        iov[i].iov_base = in[i];
        iov[i].iov_len = MAX_PACKET;
        memset(&msgs[i].msg_hdr, 0, sizeof msgs[i].msg_hdr);
        msgs[i].msg_hdr.msg_iov = &iov[i];
        msgs[i].msg_hdr.msg_iovlen = 1;
      }
      int r = recvmmsg(fd, msgs, BATCH, MSG_DONTWAIT, NULL);
      if (r < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR || errno == ECONNREFUSED)
          break;
        die("recvmmsg");
      }
      uint64_t at = now_ns();
      for (int i = 0; i < r; i++) {
        const uint8_t *b = in[i];
        size_t n = msgs[i].msg_len;
        if (n < 20) {
          bad++;
          continue;
        }
        struct slot *s = &slots[b[1]];
        if (!s->busy) {
          late++; /* answered after its timeout: counted once, as a timeout */
          continue;
        }
        if (!verify_reply(b, n, s->authenticator)) {
          bad++; /* left outstanding: a forged reply does not free the slot */
          continue;
        }
        s->busy = 0;
        outstanding--;
        uint8_t code = b[0];
        int acct = opt.mode == ACCT || opt.mode == ACCT_START;
        if (acct ? code == 5 : code == 2)
          ok++;
        else if (!acct && code == 3)
          rejects++;
        else
          bad++;
        if (at <= deadline) answered_in_time++;
        record(&hist, at - s->sent_ns);
        if (opt.rate > 0) record(&reply_hist, at - s->left_ns);
        if (acct) {
          advance_session(s->session);
          free_session[n_free_session++] = s->session;
        }
      }
      if (r < BATCH) break;
    }
    now = now_ns();
    if (now - last_scan >= 1000000ull) { /* time out what waited too long */
      last_scan = now;
      for (int id = 0; id < 256; id++) {
        struct slot *s = &slots[id];
        if (s->busy && now - s->sent_ns >= timeout_ns) {
          s->busy = 0;
          outstanding--;
          timeouts++;
          if (opt.mode == ACCT || opt.mode == ACCT_START) {
            advance_session(s->session); /* a real NAS would retransmit; we move on */
            free_session[n_free_session++] = s->session;
          }
        }
      }
    }
  }
  getrusage(RUSAGE_SELF, &ru1);
  const uint64_t t1 = now_ns();
  double cpu = (double)(ru1.ru_utime.tv_sec - ru0.ru_utime.tv_sec) +
               (double)(ru1.ru_stime.tv_sec - ru0.ru_stime.tv_sec) +
               (double)(ru1.ru_utime.tv_usec - ru0.ru_utime.tv_usec) / 1e6 +
               (double)(ru1.ru_stime.tv_usec - ru0.ru_stime.tv_usec) / 1e6;
  double wall = (double)(t1 - t0) / 1e9;
  double measured = (double)(t_end - t0) / 1e9;
  static const char *names[] = {"pap", "chap", "mschapv2", "acct", "acct-start"};
  printf("{\"server\":\"%s\",\"mode\":\"%s\",\"window\":%d,\"duration_s\":%.3f,\"sent\":%llu,"
         "\"ok\":%llu,\"rejects\":%llu,\"bad\":%llu,\"timeouts\":%llu,\"late\":%llu,"
         "\"rps\":%.0f,\"p50_ms\":%.3f,\"p99_ms\":%.3f,\"p999_ms\":%.3f,\"rate\":%.0f,"
         "\"behind\":%llu,\"window_waits\":%llu,\"lag_p50_ms\":%.3f,\"lag_p99_ms\":%.3f,"
         "\"reply_p50_ms\":%.3f,\"reply_p99_ms\":%.3f,\"gen_cpu_pct\":%.1f}\n",
         opt.server, names[opt.mode], opt.window, measured, (unsigned long long)sent,
         (unsigned long long)ok, (unsigned long long)rejects, (unsigned long long)bad,
         (unsigned long long)timeouts, (unsigned long long)late,
         measured > 0 ? (double)answered_in_time / measured : 0.0, percentile(&hist, 0.5),
         percentile(&hist, 0.99), percentile(&hist, 0.999), opt.rate,
         (unsigned long long)behind, (unsigned long long)window_waits, percentile(&lag_hist, 0.5),
         percentile(&lag_hist, 0.99), percentile(&reply_hist, 0.5), percentile(&reply_hist, 0.99),
         wall > 0 ? 100.0 * cpu / wall : 0.0);
  close(fd);
  return 0;
}
