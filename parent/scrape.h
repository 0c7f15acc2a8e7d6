/*
 * The parent's /metrics carries the enclave's: a small HTTP/1.0 GET of the
 * enclave's /metrics over the forwarder's target (vsock in production),
 * and a strict check of the Prometheus text before it is copied.
 */
#ifndef GB_PARENT_SCRAPE_H
#define GB_PARENT_SCRAPE_H

#include <stddef.h>

#include "gb/httpd.h"               /* struct gb_listen_addr */

/* The enclave's /metrics body at most (its text is about 2 KiB). */
#define SCRAPE_BODY_MAX (64 * 1024)
/* The answer's head at most (status line and headers). */
#define SCRAPE_HEAD_MAX (8 * 1024)
/* One line of the enclave's text at most. */
#define SCRAPE_LINE_MAX 1024
/* Families in the enclave's text at most. */
#define SCRAPE_FAMILIES_MAX 64
/* The whole GET (connect, send, read) within this long. */
#define SCRAPE_TIMEOUT_MS 2000

/*
 * GET path from target over HTTP/1.0 within timeout_ms. On a 200 answer
 * whose body is at most SCRAPE_BODY_MAX bytes, without NUL bytes, and as
 * long as its Content-Length says (when it says one), *body is a new
 * NUL-terminated string (free() it) and 0 is returned; otherwise -1 and
 * *why a static message.
 */
int scrape_get(const struct gb_listen_addr *target, const char *path,
    unsigned timeout_ms, char **body, const char **why);

/*
 * Whether text is Prometheus text that may be copied as is into the
 * parent's own: printable ASCII lines of at most SCRAPE_LINE_MAX bytes;
 * each family named prefix..., one group (HELP, then TYPE counter or gauge,
 * then its samples), at most SCRAPE_FAMILIES_MAX families, none twice;
 * every sample named as its family, with an optional {label="value",...}
 * set and a decimal value. Returns 0, or -1 and *why a static message.
 */
int scrape_check(const char *text, const char *prefix, const char **why);

#endif /* GB_PARENT_SCRAPE_H */
