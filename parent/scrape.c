/*
 * The enclave's /metrics, fetched and checked for the parent's /metrics
 * (scrape.h). Whatever answers on the enclave's port is not trusted to
 * write the parent's output: its text is copied only when every line
 * passes scrape_check(), so a broken or hostile answer cannot make the
 * parent's /metrics unparsable or pass for the parent's own families.
 */
#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "relay.h"
#include "scrape.h"

static int64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Waits for events on fd until the deadline; 1 when ready, 0 otherwise. */
static int
wait_fd(int fd, short events, int64_t deadline)
{
	int64_t left = deadline - now_ms();
	struct pollfd p = { fd, events, 0 };

	if (left <= 0)
		return 0;
	return poll(&p, 1, (int)left) == 1 && (p.revents & (events | POLLHUP));
}

/* The answer's head (cursor h, end he) has "Content-Length: n"; n in *n.
 * 0: no such header; 1: one, well formed; -1: malformed or repeated. */
static int
content_length(const char *h, const char *he, size_t *n)
{
	static const char name[] = "\r\nContent-Length:";
	int found = 0;

	for (const char *p = h; p + sizeof name - 1 <= he; p++) {
		unsigned long long v = 0;
		const char *q;

		if (strncasecmp(p, name, sizeof name - 1) != 0)
			continue;
		if (found++)
			return -1;
		q = p + sizeof name - 1;
		while (q < he && *q == ' ')
			q++;
		if (q == he || *q < '0' || *q > '9')
			return -1;
		for (; q < he && *q >= '0' && *q <= '9'; q++) {
			if (v > SCRAPE_BODY_MAX)
				return -1;
			v = v * 10 + (unsigned)(*q - '0');
		}
		*n = (size_t)v;
	}
	return found;
}

int
scrape_get(const struct gb_listen_addr *target, const char *path,
    unsigned timeout_ms, char **body, const char **why)
{
	enum { CAP = SCRAPE_HEAD_MAX + SCRAPE_BODY_MAX };
	int64_t deadline = now_ms() + timeout_ms;
	char req[256], *buf = NULL, *sep;
	size_t len = 0, sent = 0, reqlen, blen, clen = 0;
	int fd, err = 0, rc = -1, cl;
	socklen_t elen = sizeof err;

	*why = "cannot connect";
	reqlen = (size_t)snprintf(req, sizeof req, "GET %s HTTP/1.0\r\n"
	    "Host: enclave\r\nAccept: text/plain\r\n\r\n", path);
	if (reqlen >= sizeof req || (fd = relay_connect(target)) < 0)
		return -1;
	if (!wait_fd(fd, POLLOUT, deadline) ||
	    getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &elen) != 0 || err)
		goto out;
	*why = "timed out";
	while (sent < reqlen) {
		ssize_t w;

		if (!wait_fd(fd, POLLOUT, deadline))
			goto out;
		if ((w = send(fd, req + sent, reqlen - sent, MSG_NOSIGNAL)) < 0) {
			if (errno == EAGAIN || errno == EINTR)
				continue;
			*why = "cannot send the request";
			goto out;
		}
		sent += (size_t)w;
	}
	if ((buf = malloc(CAP + 1)) == NULL) {
		*why = "out of memory";
		goto out;
	}
	/* Until the server closes (HTTP/1.0), the cap or the deadline. */
	for (;;) {
		ssize_t r;

		if (!wait_fd(fd, POLLIN, deadline))
			goto out;
		r = recv(fd, buf + len, CAP + 1 - len, 0);
		if (r < 0 && (errno == EAGAIN || errno == EINTR))
			continue;
		if (r < 0) {
			*why = "cannot read the answer";
			goto out;
		}
		if (r == 0)
			break;
		len += (size_t)r;
		if (len > CAP) {
			*why = "the answer is too large";
			goto out;
		}
	}
	buf[len] = '\0';
	*why = "not an HTTP 200 answer";
	if (len < 13 || (strncmp(buf, "HTTP/1.0 200 ", 13) != 0 &&
	    strncmp(buf, "HTTP/1.1 200 ", 13) != 0))
		goto out;
	if ((sep = strstr(buf, "\r\n\r\n")) == NULL ||
	    (size_t)(sep - buf) > SCRAPE_HEAD_MAX) {
		*why = "the answer's head is malformed or too large";
		goto out;
	}
	blen = len - (size_t)(sep + 4 - buf);
	cl = content_length(buf, sep, &clen);
	if (cl < 0 || (cl == 1 && clen != blen)) {
		*why = "the body is not as long as its Content-Length";
		goto out;
	}
	if (blen > SCRAPE_BODY_MAX || memchr(sep + 4, '\0', blen) != NULL) {
		*why = "the body is too large or has NUL bytes";
		goto out;
	}
	memmove(buf, sep + 4, blen + 1);
	*body = buf;
	buf = NULL;
	rc = 0;
out:
	free(buf);
	close(fd);
	return rc;
}

/* Whether [s, e) is a metric or label name: [a-zA-Z_:][a-zA-Z0-9_:]*. */
static bool
is_name(const char *s, const char *e, bool colon)
{
	if (s == e || (*s >= '0' && *s <= '9'))
		return false;
	for (; s < e; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		    (*s >= '0' && *s <= '9') || *s == '_' || (colon && *s == ':')))
			return false;
	return true;
}

/* {name="value",...} at [s, e), values without quotes or backslashes. */
static bool
is_labels(const char *s, const char *e)
{
	if (e - s < 2 || *s != '{' || e[-1] != '}')
		return false;
	for (s++, e--; s < e;) {
		const char *eq = memchr(s, '=', (size_t)(e - s)), *v, *q;

		if (eq == NULL || !is_name(s, eq, false) || eq + 1 >= e ||
		    eq[1] != '"')
			return false;
		v = eq + 2;
		if ((q = memchr(v, '"', (size_t)(e - v))) == NULL ||
		    memchr(v, '\\', (size_t)(q - v)) != NULL)
			return false;
		s = q + 1;
		if (s < e && *s++ != ',')
			return false;
	}
	return true;
}

/* One sample line [s, e) of family fam. */
static bool
is_sample(const char *s, const char *e, const char *fam)
{
	const char *sp = s, *name_end, *v;
	size_t flen = strlen(fam);
	char num[64], *end;

	while (sp < e && *sp != ' ')
		sp++;
	if (sp == e)
		return false;
	name_end = memchr(s, '{', (size_t)(sp - s));
	if (name_end == NULL)
		name_end = sp;
	else if (!is_labels(name_end, sp))
		return false;
	if ((size_t)(name_end - s) != flen || strncmp(s, fam, flen) != 0)
		return false;
	v = sp + 1;
	if (v == e || (size_t)(e - v) >= sizeof num)
		return false;
	memcpy(num, v, (size_t)(e - v));
	num[e - v] = '\0';
	errno = 0;
	(void)strtod(num, &end);
	return *end == '\0' && errno == 0 && (num[0] == '-' ||
	    (num[0] >= '0' && num[0] <= '9'));
}

int
scrape_check(const char *text, const char *prefix, const char **why)
{
	char seen[SCRAPE_FAMILIES_MAX][128], fam[128] = "";
	size_t nseen = 0, plen = strlen(prefix);
	bool typed = false;

	for (const char *s = text; *s != '\0';) {
		const char *e = strchr(s, '\n'), *n, *ne;

		if (e == NULL) {
			*why = "the last line has no newline";
			return -1;
		}
		if (e - s > SCRAPE_LINE_MAX || e == s) {
			*why = "an empty or too long line";
			return -1;
		}
		for (const char *p = s; p < e; p++)
			if (*p < 0x20 || *p > 0x7e) {
				*why = "a line with a control or non-ASCII byte";
				return -1;
			}
		if (strncmp(s, "# HELP ", 7) == 0) {
			n = s + 7;
			ne = memchr(n, ' ', (size_t)(e - n));
			if (ne == NULL || (size_t)(ne - n) >= sizeof fam ||
			    (size_t)(ne - n) <= plen ||
			    strncmp(n, prefix, plen) != 0 ||
			    !is_name(n, ne, true)) {
				*why = "a HELP line outside the enclave's families";
				return -1;
			}
			memcpy(fam, n, (size_t)(ne - n));
			fam[ne - n] = '\0';
			for (size_t i = 0; i < nseen; i++)
				if (strcmp(seen[i], fam) == 0) {
					*why = "a family given twice";
					return -1;
				}
			if (nseen == SCRAPE_FAMILIES_MAX) {
				*why = "too many families";
				return -1;
			}
			strcpy(seen[nseen++], fam);
			typed = false;
		} else if (strncmp(s, "# TYPE ", 7) == 0) {
			size_t flen = strlen(fam);
			const char *t = s + 7 + flen;

			if (fam[0] == '\0' || typed ||
			    strncmp(s + 7, fam, flen) != 0 || *t != ' ' ||
			    !((e - t == 8 && strncmp(t, " counter", 8) == 0) ||
			    (e - t == 6 && strncmp(t, " gauge", 6) == 0))) {
				*why = "a TYPE line that is not its HELP's, or "
				    "not counter or gauge";
				return -1;
			}
			typed = true;
		} else if (!typed || !is_sample(s, e, fam)) {
			*why = "a sample outside its family, or malformed";
			return -1;
		}
		s = e + 1;
	}
	return 0;
}
