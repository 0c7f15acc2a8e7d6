/*
 * One HTTP exchange over libcurl (gb/kms.h, gb_kms_http_exchange()). TLS,
 * certificate and host-name checks and SigV4 signing are libcurl's. When a
 * relay address is given, the URL's host name is kept (SNI, the
 * certificate check, the signed Host header) and curl is pointed at a
 * placeholder address so that it never asks DNS (an enclave has none);
 * the socket itself is opened and connected here, to the relay (vsock or
 * TCP), and handed to curl as already connected. libcurl 7.88 (Debian 12)
 * connect()s such a socket again anyway, to the placeholder address (its
 * regression, curl issue 10626); TCP and vsock answer EISCONN before they
 * look at the address, and that libcurl takes EISCONN as connected. A
 * Unix socket checks the address first, so for one we use libcurl's own
 * CURLOPT_UNIX_SOCKET_PATH instead.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <linux/vm_sockets.h>
#include <poll.h>
#include <fcntl.h>

#include <curl/curl.h>
#include <openssl/crypto.h>

#include "gb/err.h"
#include "gb/kms.h"

struct sink {
	char *buf;                      /* from malloc() */
	size_t len, cap, max;
	bool too_big;
};

static size_t
sink_write(char *p, size_t size, size_t n, void *arg)
{
	struct sink *s = arg;
	size_t add = size * n;

	if (add > s->max - s->len) {
		s->too_big = true;
		return 0;               /* curl stops with CURLE_WRITE_ERROR */
	}
	if (s->len + add + 1 > s->cap) {
		size_t cap = s->cap ? s->cap : 4096;
		char *nb;

		while (cap < s->len + add + 1)
			cap *= 2;
		if ((nb = realloc(s->buf, cap)) == NULL)
			return 0;
		s->buf = nb;
		s->cap = cap;
	}
	memcpy(s->buf + s->len, p, add);
	s->len += add;
	s->buf[s->len] = '\0';
	return add;
}

/* Connects fd to a within timeout_ms (fd non-blocking, left blocking
 * again). Returns 0 or -1. */
static int
connect_within(int fd, const struct sockaddr *sa, socklen_t len,
    int timeout_ms)
{
	int fl = fcntl(fd, F_GETFL), err = 0;
	socklen_t el = sizeof err;
	struct pollfd p = { fd, POLLOUT, 0 };

	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) != 0)
		return -1;
	if (connect(fd, sa, len) != 0) {
		if (errno != EINPROGRESS)
			return -1;
		if (poll(&p, 1, timeout_ms) != 1 ||
		    getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el) != 0 ||
		    err != 0)
			return -1;
	}
	return fcntl(fd, F_SETFL, fl);
}

/* Opens a socket connected to the relay instead of what curl resolved. */
static curl_socket_t
open_via(void *arg, curlsocktype purpose, struct curl_sockaddr *addr)
{
	const struct gb_listen_addr *a = arg;
	union {
		struct sockaddr sa;
		struct sockaddr_in in;
		struct sockaddr_in6 in6;
		struct sockaddr_vm vm;
	} u;
	socklen_t len;
	int fd = -1;

	(void)purpose;
	(void)addr;
	memset(&u, 0, sizeof u);
	switch (a->kind) {
	case GB_LISTEN_VSOCK:
		u.vm.svm_family = AF_VSOCK;
		u.vm.svm_cid = a->cid;
		u.vm.svm_port = a->port;
		len = sizeof u.vm;
		break;
	default:
		if (inet_pton(AF_INET, a->host, &u.in.sin_addr) == 1) {
			u.in.sin_family = AF_INET;
			u.in.sin_port = htons((uint16_t)a->port);
			len = sizeof u.in;
		} else if (inet_pton(AF_INET6, a->host, &u.in6.sin6_addr) ==
		    1) {
			u.in6.sin6_family = AF_INET6;
			u.in6.sin6_port = htons((uint16_t)a->port);
			len = sizeof u.in6;
		} else {
			return CURL_SOCKET_BAD;
		}
		break;
	}
	fd = socket(u.sa.sa_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return CURL_SOCKET_BAD;
	if (connect_within(fd, &u.sa, len, GB_KMS_TIMEOUT_MS) != 0) {
		close(fd);
		return CURL_SOCKET_BAD;
	}
	return fd;
}

static int
already_connected(void *arg, curl_socket_t fd, curlsocktype purpose)
{
	(void)arg;
	(void)fd;
	(void)purpose;
	return CURL_SOCKOPT_ALREADY_CONNECTED;
}

static void __attribute__((format(printf, 3, 4)))
set_err(struct gb_kms_error *err, const char *code, const char *fmt, ...)
{
	va_list ap;

	snprintf(err->code, sizeof err->code, "%s", code);
	va_start(ap, fmt);
	vsnprintf(err->message, sizeof err->message, fmt, ap);
	va_end(ap);
}

/* "https://HOST[:PORT]/..." -> "HOST:PORT:127.0.0.1" for CURLOPT_RESOLVE,
 * so that curl never looks the name up. Returns 0 or -1. */
static int
placeholder_resolve(const char *url, char *out, size_t outlen)
{
	const char *h, *end, *colon;
	long port;
	size_t n;

	if (strncmp(url, "https://", 8) == 0) {
		h = url + 8;
		port = 443;
	} else if (strncmp(url, "http://", 7) == 0) {
		h = url + 7;
		port = 80;
	} else {
		return -1;
	}
	end = h + strcspn(h, "/?#");
	if (*h == '[')                  /* literal IPv6: curl does not ask */
		return 1;
	colon = memchr(h, ':', (size_t)(end - h));
	n = (size_t)((colon ? colon : end) - h);
	if (colon != NULL)
		port = strtol(colon + 1, NULL, 10);
	if (n == 0 || port <= 0 || port > 65535 ||
	    snprintf(out, outlen, "%.*s:%ld:127.0.0.1", (int)n, h, port) >=
	    (int)outlen)
		return -1;
	return 0;
}

int
gb_kms_global_init(void)
{
	return curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK ? 0 :
	    GB_ECRYPTO;
}

int
gb_kms_http_exchange(const struct gb_kms_http *h, long *status,
    char **resp, size_t *resp_len, struct gb_kms_error *err)
{
	struct sink s = { NULL, 0, 0, h->max, false };
	struct curl_slist *hdrs = NULL, *res = NULL, *t;
	char errbuf[CURL_ERROR_SIZE] = "", resolve[300];
	struct gb_listen_addr via;      /* the callback's copy */
	bool https = strncmp(h->url, "https://", 8) == 0;
	CURL *c = NULL;
	CURLcode cc;
	int rc = GB_ENOMEM;

	if ((c = curl_easy_init()) == NULL) {
		set_err(err, "kms_internal", "%s", "cannot start libcurl");
		goto out;
	}
	for (const char *const *p = h->headers; p != NULL && *p != NULL; p++) {
		if ((t = curl_slist_append(hdrs, *p)) == NULL) {
			set_err(err, "kms_internal", "%s", "out of memory");
			goto out;
		}
		hdrs = t;
	}
	/* No "Expect:" line to switch 100-continue off: libcurl would sign
	 * it as an empty header that is never sent. Our bodies (under 64
	 * KiB) are below libcurl's threshold for it anyway. */
	curl_easy_setopt(c, CURLOPT_URL, h->url);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, https ? "https" : "http");
	curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "https");
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_NOPROXY, "*");  /* no proxy from the env */
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, h->timeout_ms ? h->timeout_ms :
	    (long)GB_KMS_TIMEOUT_MS);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, sink_write);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &s);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
	curl_easy_setopt(c, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
	if (h->ca_file != NULL)
		curl_easy_setopt(c, CURLOPT_CAINFO, h->ca_file);
	if (strcmp(h->method, "GET") != 0) {
		curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, h->method);
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, h->body ? h->body : "");
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE,
		    (curl_off_t)h->body_len);
	}
	if (h->sigv4 != NULL && h->creds != NULL) {
		curl_easy_setopt(c, CURLOPT_AWS_SIGV4, h->sigv4);
		curl_easy_setopt(c, CURLOPT_USERNAME, h->creds->access_key_id);
		curl_easy_setopt(c, CURLOPT_PASSWORD, h->creds->secret);
	}
	if (h->via != NULL && h->via->kind == GB_LISTEN_UNIX) {
		/* libcurl's own: the URL's name kept, the socket a path. */
		curl_easy_setopt(c, CURLOPT_UNIX_SOCKET_PATH, h->via->path);
	} else if (h->via != NULL) {
		int pr = placeholder_resolve(h->url, resolve, sizeof resolve);

		if (pr < 0) {
			set_err(err, "kms_internal", "not an http(s) URL: %.200s",
			    h->url);
			rc = GB_EINVAL;
			goto out;
		}
		if (pr == 0) {
			if ((res = curl_slist_append(NULL, resolve)) == NULL) {
				set_err(err, "kms_internal", "%s",
				    "out of memory");
				goto out;
			}
			curl_easy_setopt(c, CURLOPT_RESOLVE, res);
		}
		curl_easy_setopt(c, CURLOPT_OPENSOCKETFUNCTION, open_via);
		via = *h->via;
		curl_easy_setopt(c, CURLOPT_OPENSOCKETDATA, &via);
		curl_easy_setopt(c, CURLOPT_SOCKOPTFUNCTION, already_connected);
	}
	cc = curl_easy_perform(c);
	if (s.too_big) {
		set_err(err, "kms_bad_response", "the answer is larger than "
		    "%zu bytes", h->max);
		rc = GB_ETOOBIG;
		goto out;
	}
	if (cc != CURLE_OK) {
		bool tls = cc == CURLE_PEER_FAILED_VERIFICATION ||
		    cc == CURLE_SSL_CONNECT_ERROR || cc == CURLE_SSL_CACERT_BADFILE
		    || cc == CURLE_SSL_CERTPROBLEM;

		set_err(err, tls ? "kms_tls" : "kms_unreachable", "%s",
		    errbuf[0] ? errbuf : curl_easy_strerror(cc));
		rc = GB_EIO;
		goto out;
	}
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, status);
	if (s.buf == NULL && (s.buf = calloc(1, 1)) == NULL) {
		set_err(err, "kms_internal", "%s", "out of memory");
		goto out;
	}
	*resp = s.buf;
	*resp_len = s.len;
	s.buf = NULL;
	rc = 0;
out:
	if (s.buf != NULL)
		OPENSSL_clear_free(s.buf, s.cap);
	curl_slist_free_all(hdrs);
	curl_slist_free_all(res);
	curl_easy_cleanup(c);
	return rc;
}
