/*
 * glassbox-verifier: shared state of the HTTP service.
 */
#ifndef GB_VSERVER_H
#define GB_VSERVER_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "gb/attest.h"
#include "gb/ed25519.h"
#include "gb/err.h"
#include "gb/httpd.h"
#include "gb/note.h"
#include "gb/registry.h"
#include "gb/regread.h"
#include "gb/tlog_policy.h"

#define VS_VERSION "0.1.0"
/*
 * A challenge nonce is a token the verifier checks without having stored
 * it: 16 random bytes || expiry (ms since 1970, 8 bytes big-endian) ||
 * HMAC-SHA256 of those 24 bytes under the challenge key, truncated to 16
 * bytes. 40 bytes, 80 hex digits: well inside the NSM's 1024-byte nonce.
 */
#define VS_NONCE_RAND_BYTES 16
#define VS_NONCE_MAC_BYTES 16       /* 128-bit tag: forging is 2^-128 */
#define VS_NONCE_BYTES (VS_NONCE_RAND_BYTES + 8 + VS_NONCE_MAC_BYTES)
#define VS_CHALLENGE_KEY_BYTES 32   /* HMAC-SHA256 key, 64 hex digits */
/* Expired used-nonce rows are deleted at most this often. */
#define VS_NONCE_PRUNE_MS 10000
/* Per-client challenge budget (token bucket): defaults, and the size of
 * the table of clients (least recently seen evicted past it; eviction
 * only ever gives a client a full bucket, never fewer tokens). */
#define VS_CHALLENGE_RATE 10        /* per second and client */
#define VS_CHALLENGE_BURST 20
#define VS_RATE_CLIENTS_MAX 4096
#define VS_RATE_PROBE 8             /* slots looked at per client */
#define VS_TRUSTED_PROXIES_MAX 8    /* --trusted-proxy addresses */
/* By default a proxy on the same host (infra/nginx) is believed: a local
 * peer could only spread its own challenges over more buckets. */
#define VS_TRUSTED_PROXIES "127.0.0.1,::1"

struct vs_config {
	const char *listen;         /* ADDR:PORT; port 0 picks one */
	const char *db;             /* registry database */
	const char *root;           /* PEM/DER root instead of AWS G1 */
	const char *verdict_key;    /* Ed25519 seed file (hex), made if absent */
	const char *token_file;     /* bearer token for writes */
	int64_t max_age_ms, skew_ms, nonce_ttl_ms;
	const char *challenge_key;  /* HMAC key file (hex), made if absent */
	const char *nonce_db;       /* used-nonce store (SQLite) */
	unsigned challenge_rate;    /* per client and second; 0: no limit */
	unsigned challenge_burst;
	const char *trusted_proxies;    /* ADDR[,ADDR...]: X-Forwarded-For */
	unsigned threads;           /* 0: one per CPU */
	size_t max_body;
	unsigned request_timeout_ms;    /* total time for a request's head */
	unsigned body_timeout_ms;   /* total time for its body */
	unsigned max_conns;         /* open connections */
	unsigned max_per_addr;      /* per client address; 0: no cap */
	bool no_cache;              /* --cache off */
	unsigned audit_interval_s;  /* 0: no log watch */
	int64_t verdict_ttl_s;      /* a verdict's exp is iat + this */
	const char *mirror_url;     /* --mirror: the remote log's tiles */
	const char *log_key;        /* --log-key: its note verifier key */
	unsigned mirror_interval_s; /* --mirror-interval */
	const char *mirror_evidence;    /* --mirror-evidence DIR */
	const char *policy;         /* tlog-policy file, or NULL (policy.c) */
};

/* The mirror (mirror.c). Each fetch (connect to last byte) and each round
 * (checkpoint, bundles, tiles, apply) is bounded; a round that runs out
 * fails ("timeout") and the next one starts over. */
#define VS_MIRROR_CONNECT_MS 5000
#define VS_MIRROR_FETCH_MS 10000
#define VS_MIRROR_ROUND_MS 300000
/* ... plus this per entry bundle a round must fetch, so that a copy far
 * behind (a new replica of a long log) catches up in one round: a bundle
 * and its hash tiles take milliseconds at any usual speed, and checking
 * its up to 256 entries' GPG signatures about 4 s (16 ms each here). */
#define VS_MIRROR_BUNDLE_MS 10000
#define VS_MIRROR_INTERVAL_S 10     /* default --mirror-interval */
#define VS_MIRROR_URL_MAX 2048      /* bytes of --mirror */
/* Bytes of the files of one refused round kept as evidence; past it the
 * rest is not saved (reason.json says so). */
#define VS_MIRROR_EVIDENCE_BYTES (64u << 20)
#define VS_MIRROR_METRICS_BYTES 2048
struct vs_mirror {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	pthread_t thread;
	bool inited, running, stop;
	void *curl;                 /* CURL *, the poll thread's */
	atomic_bool has_tree;       /* the copy holds a verified checkpoint */
	atomic_bool quit;           /* stopping: fetches in flight end */
	/* Under mu: */
	uint64_t rounds, failures, forks, held;
	int64_t last_ok_ms;         /* 0: never */
	bool failing, forked;       /* forked: until the process restarts */
	char code[32], message[512], fork_message[512];
	char evidence[4096];        /* the last evidence directory */
};

/* While the first audit runs, verify answers 503 not_ready with this
 * Retry-After (seconds). */
#define VS_AUDIT_RETRY_AFTER_S 5

/* The log watch (audit.c): the last audit's outcome, and the largest
 * checkpoint the verifier ever verified (kept in DB.watch-checkpoint across
 * restarts), from which the log must only grow. */
struct vs_audit {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	pthread_t thread;
	bool running, stop;
	atomic_bool damaged;        /* the last audit failed, or the log went
	                             * back from the kept checkpoint: fail
	                             * closed */
	atomic_bool pending;        /* the watch runs, no audit finished yet */
	bool rolled_back;           /* under mu: damaged by the kept check,
	                             * until an audit passes */
	uint64_t runs, checked;
	int64_t at_ms;
	char code[32], message[512];
	/* Under keep_mu, held across the kept check (a fresh read of the
	 * latest checkpoint, a consistency proof, the file's write). */
	pthread_mutex_t keep_mu;
	bool keep;                  /* the kept check is on (the watch runs) */
	char *kept_path;            /* DB.watch-checkpoint, from malloc() */
	char *kept;                 /* the kept note, from malloc(); NULL: none */
	size_t kept_len;
	struct gb_checkpoint kept_cp;   /* kept, opened */
	char kept_err[400];         /* the kept file cannot be used: fail */
};

/* Challenges (nonce.c): the key that makes and checks them, the store of
 * used ones, and each client's budget (api_challenge.c). */
struct vs_nonces {
	uint8_t key[VS_CHALLENGE_KEY_BYTES];    /* wiped at fini */
	struct evp_mac_st *hmac;    /* From EVP_MAC_fetch(), once */
	pthread_mutex_t mu;         /* the store's connection */
	struct sqlite3 *db;         /* From sqlite3_open_v2() */
	struct sqlite3_stmt *insert, *prune;
	int64_t pruned_ms;
	pthread_mutex_t rate_mu;
	struct vs_client {
		uint8_t addr[8];        /* IPv4, or the /64 of IPv6 */
		uint8_t len;            /* 0: free slot */
		int64_t tat_us;         /* GCRA: when the bucket is full again */
	} *clients;                 /* From calloc(): VS_RATE_CLIENTS_MAX */
	uint64_t hash_seed;
	/* Peers whose X-Forwarded-For names the client (nginx in front). */
	struct vs_proxy {
		uint8_t addr[16];
		uint8_t len;            /* 4 or 16 */
	} proxies[VS_TRUSTED_PROXIES_MAX];
	unsigned nproxies;
};

/* Prometheus counters, and verdicts per minute for the last hour. */
#define VS_LAT_BUCKETS 12
#define VS_RECENT_MINUTES 60
struct vs_metrics {
	pthread_mutex_t mu;
	json_t *requests;           /* "route status" -> count */
	uint64_t verdicts[GB_R__COUNT];
	int64_t started_ms;
	int64_t minute[VS_RECENT_MINUTES];     /* which minute a slot holds */
	uint32_t recent[VS_RECENT_MINUTES][GB_R__COUNT];
	uint64_t lat_le[VS_LAT_BUCKETS + 1];   /* cumulative at output */
	double lat_sum;
	uint64_t lat_count;
};

struct vs {
	struct vs_config cfg;
	struct gb_verifier *verifier;
	uint8_t verdict_seed[GB_ED25519_SEED_BYTES];
	uint8_t verdict_pub[GB_ED25519_PUB_BYTES];
	/* The verdict key made ready once (service.c, after verdict_key());
	 * shared read-only by the workers. */
	struct gb_ed25519_signer *verdict_signer;
	char verdict_kid[17];
	char *token;                /* NULL: writes disabled */
	char *verdict_key_path;     /* the default path, From malloc() */
	char log_vkey[512];
	pthread_mutex_t write_mu;   /* one registry writer at a time */
	struct vs_nonces nonces;
	struct vs_metrics metrics;
	pthread_key_t reg_key;      /* per-thread read-only registry handle */
	struct gb_httpd *httpd;     /* the server, for its counters */
	/* The log's checkpoints opened with its key, parsed once, each note's
	 * signature checked once (cache.c). */
	struct gb_checkpoint_verifier *log_checkpoints;
	pthread_key_t reader_key;   /* per-thread gb_reg_reader (cache.c) */
	struct vs_regcache *regcache;   /* NULL with --cache off */
	struct vs_respcache *respcache; /* NULL with --cache off */
	struct vs_audit audit;
	struct vs_mirror mirror;
	/* --policy: parsed once, read-only after init (policy.c). */
	struct gb_tlog_policy *policy;  /* NULL: no quorum required */
	char *policy_text;          /* the file as read, From malloc() */
	size_t policy_len;
	/* The last checkpoint note the policy trusted, by its exact bytes
	 * (From malloc()), under policy_mu: the same note is checked once,
	 * not once per request (a trusted note stays trusted as time goes
	 * on: only a cosignature dated ahead depends on the clock). */
	pthread_mutex_t policy_mu;
	char *policy_ok;
	size_t policy_ok_len;
};

/* What a handler says about its request, for the log line and metrics. */
struct vs_req {
	const struct gb_http_req *req;  /* the request (borrowed) */
	struct vs *vs;
	const char *route;
	int status;
	const char *reason;         /* reason code of a verdict or error */
	struct gb_http_resp *resp;  /* the answer the server sends */
};

/* service.c: the service without its process. defaults fills c as
 * glassbox-verifier starts from (db NULL). init makes *vs from c (kept:
 * its strings must outlive vs): the verifier with the root, the registry's
 * log key, the verdict key (made if absent), the token, challenges,
 * metrics and caches; it prints why it failed and returns -1. The log
 * watch (vs_audit_start()) and the server are the caller's. httpd_opts
 * fills o for gb_httpd_start(): handler, its own refusals, headers and
 * limits from the config. fini frees what init made, after the server
 * and the log watch stopped. */
void vs_config_defaults(struct vs_config *c);
int vs_service_init(struct vs *vs, const struct vs_config *c);
void vs_service_handler(void *arg, const struct gb_http_req *req,
    struct gb_http_resp *resp);
void vs_service_refused(void *arg, const struct gb_http_req *req,
    int status, const char *code);
void vs_service_httpd_opts(struct vs *vs, struct gb_httpd_opts *o);
void vs_service_fini(struct vs *vs);

/* policy.c: init reads and parses cfg.policy (nothing without one; prints
 * why and returns -1 on a bad file, or one whose logs leave out the
 * registry's key); fini frees it. refuses says whether the checkpoint note
 * must not be trusted under the policy (false without one), and why. */
int vs_policy_init(struct vs *vs);
void vs_policy_fini(struct vs *vs);
bool vs_policy_refuses(struct vs *vs, const char *note, size_t len,
    char *why, size_t why_len);
int vs_api_policy(struct vs_req *q);

/* http.c */
int vs_reply_json(struct vs_req *q, int status, json_t *body);
int vs_reply_text(struct vs_req *q, int status, const char *type,
    const char *body, size_t len);
int vs_problem(struct vs_req *q, int status, const char *code,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));
int vs_read_body(struct vs_req *q, char **out, size_t *len);
bool vs_method(struct vs_req *q, const char *method);
/* A request header (the first of its name) or NULL; the request's path,
 * percent-decoded, without the query. Both borrowed for the request. */
const char *vs_header(struct vs_req *q, const char *name);
const char *vs_path(struct vs_req *q);
/* The client's address as text (IPv4 or IPv6, no port); borrowed. */
const char *vs_remote(struct vs_req *q);
/* The security headers every answer carries (name, value, ..., NULL). */
extern const char *const vs_security_headers[];
/* The server's own errors (413, 408, ...) in the problem format. */
void vs_problem_resp(void *arg, int status, const char *code,
    const char *detail, struct gb_http_resp *resp);
const char *vs_query(struct vs_req *q, const char *name, char *buf,
    size_t len);
/* Whether Content-Type is exactly type (case-insensitive), with only, when
 * charset_ok, an optional "; charset=utf-8". */
bool vs_content_type_is(struct vs_req *q, const char *type, bool charset_ok);
/* The raw query string, not decoded, or NULL; borrowed. */
const char *vs_query_string(struct vs_req *q);
/* Refuses a query with a parameter not named in known (names separated by
 * spaces; "" for none: 400 unknown_field), a name given twice, a bad
 * percent escape or an encoded NUL (400 bad_request), so that vs_query()'s
 * NULL can only mean absent. 0 if the query is clean, else the status of
 * the answer already made. */
int vs_query_only(struct vs_req *q, const char *known);
/* vs_problem() with one extra header (name, value) in the answer, e.g.
 * WWW-Authenticate on a 401. */
int vs_problem_h(struct vs_req *q, int status, const char *name,
    const char *value, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));
struct gb_registry *vs_registry(struct vs_req *q);
void vs_log_request(struct vs_req *q, double seconds);
void vs_metrics_init(struct vs_metrics *m);
void vs_metrics_fini(struct vs_metrics *m);
void vs_metrics_count(struct vs *vs, const char *route, int status,
    double seconds);
void vs_metrics_verdict(struct vs *vs, enum gb_reason r);
char *vs_metrics_text(struct vs *vs);
json_t *vs_metrics_verdicts(struct vs *vs);

/* mirror.c. prepare (before vs_service_init()) checks the options and
 * creates the copy at c->db if absent; start runs a first round, then
 * polls every --mirror-interval seconds in a thread; json and metrics are
 * /readyz's and /metrics' part (NULL when not a mirror; new). */
int vs_mirror_prepare(const struct vs_config *c);
int vs_mirror_start(struct vs *vs);
void vs_mirror_stop(struct vs *vs);
json_t *vs_mirror_json(struct vs *vs);
char *vs_mirror_metrics(struct vs *vs);

/* audit.c */
int vs_audit_start(struct vs *vs);

void vs_audit_stop(struct vs *vs);
json_t *vs_audit_json(struct vs *vs, bool *failed);
/* Whether verify may answer: 0, or the 503 already sent (log_damaged, or
 * not_ready while the first audit is pending or while a mirror holds no
 * verified copy yet). */
int vs_audit_refuse(struct vs_req *q);
/* Every verified checkpoint the verifier reads passes here (note: the
 * latest checkpoint the caller read through r). One equal to the kept
 * checkpoint returns at once; any other is read again from r and must be
 * the kept one or a tree that grew from it (consistency proof), and then
 * becomes the kept one; a smaller or inconsistent one marks the log
 * damaged at once and logs audit_failed. A no-op without the log watch. */
void vs_watch_seen(struct vs *vs, struct gb_registry *r, const char *note,
    size_t len);

/* nonce.c. init loads or makes the challenge key and opens the used-nonce
 * store (paths from c, defaults derived from c->db); it prints why it
 * failed. issue makes a token (nothing stored). take checks the MAC and
 * expiry, then records the nonce as used in the store: true once, false
 * for a forged, altered, expired or used nonce, or when the store fails. */
int vs_nonces_init(struct vs_nonces *s, const struct vs_config *c);
void vs_nonces_fini(struct vs_nonces *s);
int vs_nonce_issue(struct vs_nonces *s, int64_t now_ms, int64_t ttl_ms,
    uint8_t out[VS_NONCE_BYTES]);
bool vs_nonce_take(struct vs_nonces *s, const uint8_t *n, size_t len,
    int64_t now_ms);

/* cache.c: made once at startup (service.c, after the verdict key) and
 * freed after the workers stopped. */
int vs_cache_init(struct vs *vs);
void vs_cache_fini(struct vs *vs);
/* The process's log checkpoint verifier (vs->log_checkpoints), for code
 * that has no struct vs at hand, when vkey is the log key it was made
 * from; else (or before vs_cache_init()) NULL. */
struct gb_checkpoint_verifier *vs_log_checkpoints(const char *vkey);

/* The response cache: whole verify answers (requests without a nonce, at
 * a time other than "now"), by key (vs_respcache_key()), the registry
 * cache's generation and the second they were signed in. */
#define VS_RESPCACHE_KEY_BYTES 32
void vs_respcache_key(const char *ctype, const char *query, const char *body,
    size_t len, uint8_t key[VS_RESPCACHE_KEY_BYTES]);
/* A remembered answer: take it with vs_respcache_get(), send body[0..len),
 * then give it back with vs_respcache_put_back(). */
struct vs_answer {
	_Atomic unsigned refs;
	enum gb_reason reason;      /* the verdict's, for metrics and the log */
	size_t len;
	char body[];
};
struct vs_answer *vs_respcache_get(struct vs *vs,
    const uint8_t key[VS_RESPCACHE_KEY_BYTES], uint64_t gen,
    int64_t second);
void vs_respcache_put_back(struct vs_answer *a);
/* Remembers a copy of body as the answer for (key, gen, second). */
void vs_respcache_add(struct vs *vs, const uint8_t key[VS_RESPCACHE_KEY_BYTES],
    uint64_t gen, int64_t second, enum gb_reason reason, const char *body,
    size_t len);

/* What the registry says about a PCR0 (96 hex digits), as verify's release
 * check reads it: the release, and its declared PCRs in the leaf's order
 * (ok false: an entry that cannot equal any document's). */
#define VS_RELEASE_PCRS_MAX GB_PCR_MAX_COUNT
struct vs_relview {
	bool found;                 /* a release has this PCR0 */
	bool readable;              /* its leaf was read and parsed */
	bool instance;              /* it describes an instance image (its
	                             * leaf's release.kind is "nitrotpm") */
	uint64_t index;
	char id[17];
	int64_t revoked;            /* leaf of the revocation, or -1 */
	unsigned npcrs;
	struct {
		unsigned i;
		bool ok;
		uint8_t v[48];
	} pcrs[VS_RELEASE_PCRS_MAX + 1];
};

/* One verify request's view of the registry, through this thread's
 * reader: gen is the registry cache's generation, which names the log's
 * state (0: the cache is off or bypassed for this request; every answer is
 * read from the database then). */
struct vs_regstate {
	struct gb_reg_reader *rd;   /* borrowed; NULL: no registry */
	uint64_t gen;
};
/* Gets the thread's reader (opened on first use) and, with the cache on,
 * compares the log's latest checkpoint with the cache's: a new one drops
 * the cache. */
void vs_regcache_begin(struct vs *vs, struct vs_regstate *st);
/* The registry's view of pcr0hex; 0, or -1 when the registry could not be
 * read (view->found false). */
int vs_regcache_view(struct vs *vs, struct vs_regstate *st,
    const char *pcr0hex, struct vs_relview *view);
/* The release JSON, the proof JSON and the tlog-proof text of the release
 * of pcr0hex (new references / a new string; the tlog NULL if none). */
void vs_regcache_release(struct vs *vs, struct vs_regstate *st,
    const char *pcr0hex, uint64_t index, json_t **release, json_t **proof,
    char **tlog);

/* jws.c */
char *vs_jws_sign(const struct vs *vs, json_t *claims);
char *vs_b64url(const uint8_t *p, size_t n);

/* api_*.c: request handlers, registered in service.c */
int vs_api_tlog(struct vs_req *q);
int vs_api_challenge(struct vs_req *q);
int vs_api_verify(struct vs_req *q);
int vs_api_releases(struct vs_req *q);
int vs_api_keys(struct vs_req *q);
int vs_api_log(struct vs_req *q);
int vs_api_wellknown(struct vs_req *q);
int vs_api_health(struct vs_req *q);
int vs_api_ready(struct vs_req *q);
int vs_api_metrics(struct vs_req *q);
int vs_api_verdicts(struct vs_req *q);
int vs_api_asset(struct vs_req *q);
int vs_api_openapi(struct vs_req *q);

/* Release info for a verdict: the matching release's JSON and proof. */
json_t *vs_release_json(struct gb_registry *r, uint64_t index);
json_t *vs_proof_json(struct gb_registry *r, uint64_t index);
/* The same against the checkpoint note, already opened into c. */
json_t *vs_proof_json_at(struct gb_registry *r, uint64_t index,
    const char *note, const struct gb_checkpoint *c);
/* The C2SP tlog-proof@v1 text of that proof (vs_proof_json()'s answer),
 * with the release's leaf in its extra line: a new string, or NULL. */
char *vs_tlog_proof(struct gb_registry *r, json_t *proof);

extern const char vs_openapi_json[];

/* The auditor page (web/), embedded at build time; ends with a NULL path. */
struct vs_asset {
	const char *path, *type;
	const unsigned char *data;
	size_t len;
};
extern const struct vs_asset vs_assets[];

#endif /* GB_VSERVER_H */
