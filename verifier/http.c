/*
 * HTTP plumbing of glassbox-verifier: the request and its answer as the
 * server (gb/httpd.h, libmicrohttpd) hands them over, problem details
 * (RFC 9457), the per-request log line, metrics.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "gb/codec.h"
#include "gb/timefmt.h"
#include "server.h"

static const char *
status_text(int status)
{
	switch (status) {
	case 200: return "OK";
	case 201: return "Created";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 408: return "Request Timeout";
	case 409: return "Conflict";
	case 411: return "Length Required";
	case 413: return "Content Too Large";
	case 414: return "URI Too Long";
	case 415: return "Unsupported Media Type";
	case 422: return "Unprocessable Content";
	case 429: return "Too Many Requests";
	case 500: return "Internal Server Error";
	case 503: return "Service Unavailable";
	default: return "Status";
	}
}

/* Every answer, JSON or page, the server's own errors included (gb/httpd.h
 * adds them): no script but the page's own files, no framing, no
 * sniffing, no referrer. */
const char *const vs_security_headers[] = {
	"Content-Security-Policy", "default-src 'none'; script-src 'self'; "
	    "style-src 'self'; img-src 'self'; connect-src 'self'; "
	    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
	"X-Content-Type-Options", "nosniff",
	"X-Frame-Options", "DENY",
	"Referrer-Policy", "no-referrer",
	NULL,
};

/* The answer is kept in q->resp and sent by the server when the handler
 * returns (with the security headers, in one write); a later reply
 * replaces an earlier one. */
int
vs_reply_text(struct vs_req *q, int status, const char *type,
    const char *body, size_t len)
{
	q->status = status;
	gb_http_reply_buf(q->resp, status, type, body, len);
	if (q->resp->status != status)
		q->status = q->resp->status;    /* out of memory: 500 */
	return q->status;
}

int
vs_reply_json(struct vs_req *q, int status, json_t *body)
{
	char *s = json_dumps(body, JSON_COMPACT);
	int rc;

	json_decref(body);
	if (s == NULL)
		return vs_reply_text(q, 500, "text/plain", "out of memory\n",
		    14);
	rc = vs_reply_text(q, status, "application/json", s, strlen(s));
	free(s);
	return rc;
}

/* The problem document (RFC 9457) as a new string, or NULL. */
static char *
problem_text(int status, const char *code, const char *detail)
{
	char type[128];
	json_t *j;
	char *s;

	/* type names the code: problems are told apart by it. */
	snprintf(type, sizeof type, "https://glassbox.dev/problems/%s", code);
	j = json_pack("{s:s, s:s, s:i, s:s, s:s}", "type", type, "title",
	    status_text(status), "status", status, "reason", code, "detail",
	    detail);
	s = j ? json_dumps(j, JSON_COMPACT) : NULL;
	json_decref(j);
	return s;
}

void
vs_problem_resp(void *arg, int status, const char *code, const char *detail,
    struct gb_http_resp *resp)
{
	char *s = problem_text(status, code, detail);

	(void)arg;
	if (s == NULL) {
		gb_http_reply(resp, 500, "text/plain", "out of memory\n");
		return;
	}
	gb_http_reply(resp, status, "application/problem+json", s);
	free(s);
}

int
vs_problem(struct vs_req *q, int status, const char *code, const char *fmt,
    ...)
{
	char detail[600];
	va_list ap;
	char *s;
	int rc;

	va_start(ap, fmt);
	vsnprintf(detail, sizeof detail, fmt, ap);
	va_end(ap);
	q->reason = code;
	if ((s = problem_text(status, code, detail)) == NULL)
		return vs_reply_text(q, 500, "text/plain", "out of memory\n",
		    14);
	rc = vs_reply_text(q, status, "application/problem+json", s,
	    strlen(s));
	free(s);
	return rc;
}

/* vs_problem() with one extra header (name static, value copied), e.g.
 * WWW-Authenticate on a 401. */
int
vs_problem_h(struct vs_req *q, int status, const char *name,
    const char *value, const char *code, const char *fmt, ...)
{
	char detail[600];
	va_list ap;
	int rc;

	va_start(ap, fmt);
	vsnprintf(detail, sizeof detail, fmt, ap);
	va_end(ap);
	rc = vs_problem(q, status, code, "%s", detail);
	if (strpbrk(value, "\r\n") == NULL)
		gb_http_resp_header(q->resp, name, value);
	return rc;
}

/* HEAD is served as GET (the server drops the body), so a GET handler
 * answers it. */
bool
vs_method(struct vs_req *q, const char *method)
{
	if (strcmp(method, "GET") == 0 && strcmp(q->req->method, "HEAD") == 0)
		return true;
	return strcmp(q->req->method, method) == 0;
}

const char *
vs_header(struct vs_req *q, const char *name)
{
	return gb_http_header(q->req, name);
}

const char *
vs_path(struct vs_req *q)
{
	return q->req->path;
}

const char *
vs_remote(struct vs_req *q)
{
	return q->req->remote;
}

/* Media types and the charset compare case-insensitively (RFC 9110 8.3). */
bool
vs_content_type_is(struct vs_req *q, const char *type, bool charset_ok)
{
	const char *ct = vs_header(q, "Content-Type"), *p;
	size_t n = strlen(type);

	if (ct == NULL || strncasecmp(ct, type, n) != 0)
		return false;
	p = ct + n;
	while (*p == ' ' || *p == '\t')
		p++;
	if (*p == '\0')
		return true;
	if (*p != ';' || !charset_ok)
		return false;
	p++;
	while (*p == ' ' || *p == '\t')
		p++;
	if (strncasecmp(p, "charset=", 8) != 0)
		return false;
	p += 8;
	if (strncasecmp(p, "utf-8", 5) == 0)
		p += 5;
	else if (strncasecmp(p, "\"utf-8\"", 7) == 0)
		p += 7;
	else
		return false;
	while (*p == ' ' || *p == '\t')
		p++;
	return *p == '\0';
}

/* The raw query string (after '?', not decoded) or NULL. Borrowed. */
const char *
vs_query_string(struct vs_req *q)
{
	return q->req->query[0] != '\0' ? q->req->query : NULL;
}

/*
 * The whole body, as a new NUL-terminated copy. The server has already
 * refused a body over the limit (413 before reading it) and waited for the
 * rest. Returns 0, or the status already set.
 */
int
vs_read_body(struct vs_req *q, char **out, size_t *len)
{
	size_t max = q->vs->cfg.max_body, n = q->req->body_len;
	char *buf;

	*out = NULL;
	*len = 0;
	if (n > max)
		return vs_problem(q, 413, "too_large", "the body is larger than "
		    "%zu bytes", max);
	if ((buf = malloc(n + 1)) == NULL)
		return vs_problem(q, 500, "no_memory", "out of memory");
	if (n > 0)
		memcpy(buf, q->req->body, n);
	buf[n] = '\0';
	*out = buf;
	*len = n;
	return 0;
}

/* Whether name[0..n) is a word of the space-separated list. */
static bool
in_list(const char *list, const char *name, size_t n)
{
	for (const char *w = list; *w != '\0'; ) {
		size_t wl = strcspn(w, " ");

		if (wl == n && memcmp(w, name, n) == 0)
			return true;
		w += wl;
		w += strspn(w, " ");
	}
	return false;
}

/* The most parameters a query of a GET endpoint may have (each name once). */
#define VS_QUERY_PARAMS_MAX 8

int
vs_query_only(struct vs_req *q, const char *known)
{
	const char *qs = vs_query_string(q), *seen[VS_QUERY_PARAMS_MAX];
	size_t nseen = 0, seen_len[VS_QUERY_PARAMS_MAX];

	if (qs == NULL)
		return 0;
	for (const char *p = qs; *p != '\0'; ) {
		size_t plen = strcspn(p, "&"), nl = strcspn(p, "=&");
		char shown[65];
		size_t i;

		/* Names are matched undecoded: one with an escape is unknown. */
		for (i = 0; i < nl && i < sizeof shown - 1; i++)
			shown[i] = p[i] > ' ' && p[i] < 0x7f && p[i] != '"' &&
			    p[i] != '\\' ? p[i] : '?';
		shown[i] = '\0';
		if (plen == 0) {
			p++;
			continue;
		}
		if (!in_list(known, p, nl))
			return *known == '\0' ? vs_problem(q, 400,
			    "unknown_field", "unknown query parameter \"%s\": "
			    "%s takes none", shown, vs_path(q)) : vs_problem(q,
			    400, "unknown_field", "unknown query parameter "
			    "\"%s\" (known: %s)", shown, known);
		for (i = 0; i < nseen; i++)
			if (seen_len[i] == nl && memcmp(seen[i], p, nl) == 0)
				return vs_problem(q, 400, "bad_request", "%s is "
				    "given twice", shown);
		if (nseen < VS_QUERY_PARAMS_MAX) {
			seen[nseen] = p;
			seen_len[nseen++] = nl;
		}
		for (i = nl; i < plen; i++) {
			if (p[i] != '%')
				continue;
			if (i + 2 >= plen || gb_hex_value(p[i + 1]) < 0 ||
			    gb_hex_value(p[i + 2]) < 0)
				return vs_problem(q, 400, "bad_request", "%s has "
				    "a bad percent escape", shown);
			if (p[i + 1] == '0' && p[i + 2] == '0')
				return vs_problem(q, 400, "bad_request", "%s "
				    "holds an encoded NUL", shown);
		}
		p += plen + (p[plen] == '&');
	}
	return 0;
}

/* A query parameter (URL-decoded) into buf, or NULL if absent/too long. */
const char *
vs_query(struct vs_req *q, const char *name, char *buf, size_t len)
{
	return gb_http_query(q->req, name, buf, len);
}

/* This worker thread's read-only registry handle, opened on first use. */
struct gb_registry *
vs_registry(struct vs_req *q)
{
	struct gb_registry *r = pthread_getspecific(q->vs->reg_key);
	struct gb_reg_error e;

	if (r == NULL && q->vs->cfg.db != NULL &&
	    gb_registry_open(q->vs->cfg.db, false, &r, &e) == 0)
		pthread_setspecific(q->vs->reg_key, r);
	return r;
}

/* s as a JSON string into out[0..cap) (cap >= 3): quotes, backslashes and
 * control bytes escaped, bytes past ASCII as '?' (a method or address is
 * ASCII; anything else must not make the line invalid), cut short at cap.
 * Returns the length written. */
static size_t
log_str(char *out, size_t cap, const char *s)
{
	static const char hex[] = "0123456789abcdef";
	size_t o = 0;

	out[o++] = '"';
	for (; s != NULL && *s != '\0' && o + 8 < cap; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\') {
			out[o++] = '\\';
			out[o++] = (char)c;
		} else if (c < 0x20) {
			memcpy(out + o, "\\u00", 4);
			out[o + 4] = hex[c >> 4];
			out[o + 5] = hex[c & 15];
			o += 6;
		} else {
			out[o++] = c < 0x7f ? (char)c : '?';
		}
	}
	out[o++] = '"';
	out[o] = '\0';
	return o;
}

/* One JSON line per request on standard error, formatted by hand: it is
 * on every request's path, and building a jansson object for six fixed
 * fields cost about 4 us of the 22 a remembered answer takes. */
void
vs_log_request(struct vs_req *q, double seconds)
{
	char ts[40], method[40], route[40], remote[96], reason[72];
	char line[sizeof ts + sizeof method + sizeof route + sizeof remote +
	    sizeof reason + 96];
	int n;

	gb_time_format_rfc3339(gb_time_now_ms(), ts, sizeof ts);
	log_str(method, sizeof method, q->req->method);
	log_str(route, sizeof route, q->route);
	log_str(remote, sizeof remote, q->req->remote);
	if (q->reason != NULL)
		log_str(reason, sizeof reason, q->reason);
	n = snprintf(line, sizeof line, "{\"time\":\"%s\",\"method\":%s,"
	    "\"route\":%s,\"status\":%d,\"ms\":%.4g,\"remote\":%s%s%s}\n",
	    ts, method, route, q->status, seconds * 1e3, remote,
	    q->reason != NULL ? ",\"reason\":" : "",
	    q->reason != NULL ? reason : "");
	if (n > 0)
		fwrite(line, 1, (size_t)n < sizeof line ? (size_t)n :
		    sizeof line - 1, stderr);
}

static const double lat_bounds[VS_LAT_BUCKETS] = { 0.0005, 0.001, 0.0025,
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5 };

void
vs_metrics_init(struct vs_metrics *m)
{
	memset(m, 0, sizeof *m);
	pthread_mutex_init(&m->mu, NULL);
	m->requests = json_object();
	m->started_ms = gb_time_now_ms();
}

void
vs_metrics_fini(struct vs_metrics *m)
{
	json_decref(m->requests);
	pthread_mutex_destroy(&m->mu);
}

void
vs_metrics_count(struct vs *vs, const char *route, int status,
    double seconds)
{
	struct vs_metrics *m = &vs->metrics;
	char key[128];
	json_t *v;
	int b;

	snprintf(key, sizeof key, "%s %d", route, status);
	for (b = 0; b < VS_LAT_BUCKETS && seconds > lat_bounds[b]; b++)
		;
	pthread_mutex_lock(&m->mu);
	v = json_object_get(m->requests, key);
	if (v == NULL)
		json_object_set_new(m->requests, key, json_integer(1));
	else
		json_integer_set(v, json_integer_value(v) + 1);
	m->lat_le[b]++;
	m->lat_sum += seconds;
	m->lat_count++;
	pthread_mutex_unlock(&m->mu);
}

void
vs_metrics_verdict(struct vs *vs, enum gb_reason r)
{
	struct vs_metrics *m = &vs->metrics;
	int64_t minute = gb_time_now_ms() / 60000;
	size_t slot = (size_t)(minute % VS_RECENT_MINUTES);

	if (r >= GB_R__COUNT)
		return;
	pthread_mutex_lock(&m->mu);
	m->verdicts[r]++;
	if (m->minute[slot] != minute) {
		m->minute[slot] = minute;
		memset(m->recent[slot], 0, sizeof m->recent[slot]);
	}
	m->recent[slot][r]++;
	pthread_mutex_unlock(&m->mu);
}

/* GET /api/v1/verdicts: counts by reason since the start and in the last
 * VS_RECENT_MINUTES minutes, with each reason's sentence. */
json_t *
vs_metrics_verdicts(struct vs *vs)
{
	struct vs_metrics *m = &vs->metrics;
	int64_t now = gb_time_now_ms() / 60000;
	json_t *a = json_array();
	char since[40];

	gb_time_format_rfc3339(m->started_ms, since, sizeof since);
	pthread_mutex_lock(&m->mu);
	for (int r = 0; r < GB_R__COUNT; r++) {
		uint64_t recent = 0;

		for (size_t i = 0; i < VS_RECENT_MINUTES; i++)
			if (m->minute[i] > now - VS_RECENT_MINUTES)
				recent += m->recent[i][r];
		json_array_append_new(a, json_pack("{s:s, s:s, s:I, s:I}",
		    "reason", gb_reason_code((enum gb_reason)r), "text",
		    gb_reason_text((enum gb_reason)r), "total",
		    (json_int_t)m->verdicts[r], "recent", (json_int_t)recent));
	}
	pthread_mutex_unlock(&m->mu);
	return json_pack("{s:s, s:i, s:o}", "since", since, "recent_seconds",
	    VS_RECENT_MINUTES * 60, "reasons", a);
}

/* Appends printf output to a growing string. */
static void
cat(char **s, size_t *len, size_t *cap, const char *fmt, ...)
{
	va_list ap;
	int n;

	for (;;) {
		va_start(ap, fmt);
		n = vsnprintf(*s ? *s + *len : NULL, *s ? *cap - *len : 0, fmt,
		    ap);
		va_end(ap);
		if (n < 0)
			return;
		if (*s != NULL && *len + (size_t)n < *cap) {
			*len += (size_t)n;
			return;
		}
		*cap = (*cap + (size_t)n + 1) * 2;
		if ((*s = realloc(*s, *cap)) == NULL)
			return;
	}
}

char *
vs_metrics_text(struct vs *vs)
{
	static const char *const cache_names[3] = { "chain", "leaf",
	    "document" };
	struct vs_metrics *m = &vs->metrics;
	char *conn;
	struct gb_cache_stats cs;
	char *s = NULL;
	size_t len = 0, cap = 0;
	const char *key;
	uint64_t cum = 0;
	json_t *v;

	gb_verifier_stats(vs->verifier, &cs);
	pthread_mutex_lock(&m->mu);
	cat(&s, &len, &cap, "# HELP glassbox_requests_total HTTP requests by "
	    "route and status.\n# TYPE glassbox_requests_total counter\n");
	json_object_foreach(m->requests, key, v) {
		const char *sp = strrchr(key, ' ');

		cat(&s, &len, &cap, "glassbox_requests_total{route=\"%.*s\","
		    "status=\"%s\"} %lld\n", (int)(sp - key), key, sp + 1,
		    (long long)json_integer_value(v));
	}
	cat(&s, &len, &cap, "# HELP glassbox_verdicts_total Verdicts by "
	    "reason code.\n# TYPE glassbox_verdicts_total counter\n");
	for (int r = 0; r < GB_R__COUNT; r++)
		cat(&s, &len, &cap, "glassbox_verdicts_total{reason=\"%s\"} "
		    "%llu\n", gb_reason_code((enum gb_reason)r),
		    (unsigned long long)m->verdicts[r]);
	cat(&s, &len, &cap, "# HELP glassbox_request_seconds Request latency."
	    "\n# TYPE glassbox_request_seconds histogram\n");
	for (int b = 0; b <= VS_LAT_BUCKETS; b++) {
		cum += m->lat_le[b];
		if (b < VS_LAT_BUCKETS)
			cat(&s, &len, &cap, "glassbox_request_seconds_bucket"
			    "{le=\"%g\"} %llu\n", lat_bounds[b],
			    (unsigned long long)cum);
		else
			cat(&s, &len, &cap, "glassbox_request_seconds_bucket"
			    "{le=\"+Inf\"} %llu\n", (unsigned long long)cum);
	}
	cat(&s, &len, &cap, "glassbox_request_seconds_sum %g\n"
	    "glassbox_request_seconds_count %llu\n", m->lat_sum,
	    (unsigned long long)m->lat_count);
	pthread_mutex_unlock(&m->mu);
	/* Each family is one group: all its samples after its HELP and TYPE
	 * (the text format's rule; scrapers refuse interleaved families). */
	cat(&s, &len, &cap, "# HELP glassbox_cache_hits_total Verification "
	    "cache hits.\n# TYPE glassbox_cache_hits_total counter\n");
	for (int i = 0; i < 3; i++)
		cat(&s, &len, &cap, "glassbox_cache_hits_total{cache=\"%s\"} "
		    "%llu\n", cache_names[i], (unsigned long long)cs.hits[i]);
	cat(&s, &len, &cap, "# HELP glassbox_cache_misses_total Verification "
	    "cache misses.\n# TYPE glassbox_cache_misses_total counter\n");
	for (int i = 0; i < 3; i++)
		cat(&s, &len, &cap, "glassbox_cache_misses_total{cache=\"%s\"} "
		    "%llu\n", cache_names[i], (unsigned long long)cs.misses[i]);
	if ((conn = gb_httpd_metrics_text(vs->httpd, "glassbox")) != NULL) {
		cat(&s, &len, &cap, "%s", conn);
		free(conn);
	}
	if ((conn = vs_mirror_metrics(vs)) != NULL) {
		cat(&s, &len, &cap, "%s", conn);
		free(conn);
	}
	return s;
}
