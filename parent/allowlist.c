/*
 * The outbound allowlist, in vsock-proxy's YAML format:
 *
 *   allowlist:
 *   - {address: kms.us-east-1.amazonaws.com, port: 443}
 *
 * read with libyaml's document API, with vsock-proxy's rules
 * (aws-nitro-enclaves-cli vsock_proxy/src/proxy.rs, check_allowlist()):
 * other keys are ignored, an entry without an address or port, or with a
 * quoted port, is refused, and a destination not listed by name is
 * allowed when a listed name with its port resolves to its address.
 * Stricter on purpose: a file with a bad entry is refused whole (vsock-
 * proxy only stumbles on it when its check reaches it), and ports are
 * 1..65535 in decimal exactly (vsock-proxy wraps 4294967739 to 443 and
 * reads 0x1bb as 443).
 *
 * A listed name is followed to whatever DNS answers; the addresses it may
 * lead to are checked here (allowlist_refused()): a name that resolves
 * into loopback or the instance metadata service must not turn the
 * enclave's way out into a way into the parent.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <yaml.h>

#include "allowlist.h"

/*
 * How vsock-proxy (yaml-rust2, YAML 1.2's core schema) types an untagged
 * plain scalar: NULL for a string, else the type's name. Quoted scalars are
 * always strings. Where this reads more as numbers than yaml-rust2 does
 * (a hexadecimal beyond 64 bits), an address is refused that vsock-proxy
 * would try: never the other way round.
 */
static const char *
plain_type(const char *s)
{
	static const char *const nulls[] = { "", "~", "null" };
	static const char *const floats[] = { ".inf", ".Inf", ".INF", "+.inf",
	    "+.Inf", "+.INF", "-.inf", "-.Inf", "-.INF", ".nan", "NaN", ".NaN",
	    ".NAN" };
	const char *p = s;
	size_t digits = 0, frac = 0;

	for (size_t i = 0; i < sizeof nulls / sizeof nulls[0]; i++)
		if (strcmp(s, nulls[i]) == 0)
			return "null";
	if (strcmp(s, "true") == 0 || strcmp(s, "false") == 0)
		return "a boolean";
	for (size_t i = 0; i < sizeof floats / sizeof floats[0]; i++)
		if (strcmp(s, floats[i]) == 0)
			return "a number";
	if (strncmp(s, "0x", 2) == 0 || strncmp(s, "0o", 2) == 0) {
		const char *set = s[1] == 'x' ? "0123456789abcdefABCDEF" :
		    "01234567";

		p = s + 2 + (s[2] == '+' || s[2] == '-');
		if (*p != '\0' && strspn(p, set) == strlen(p))
			return "a number";
		p = s;
	}
	/* Rust's f64 and i64 from_str: a sign, then inf, infinity or nan in
	 * any case, or digits with a fraction and an exponent. */
	if (*p == '+' || *p == '-')
		p++;
	if (strcasecmp(p, "inf") == 0 || strcasecmp(p, "infinity") == 0 ||
	    strcasecmp(p, "nan") == 0)
		return "a number";
	for (; *p >= '0' && *p <= '9'; p++)
		digits++;
	if (*p == '.')
		for (p++; *p >= '0' && *p <= '9'; p++)
			frac++;
	if (digits + frac == 0)
		return NULL;
	if (*p == 'e' || *p == 'E') {
		size_t exp = 0;

		p++;
		if (*p == '+' || *p == '-')
			p++;
		for (; *p >= '0' && *p <= '9'; p++)
			exp++;
		if (exp == 0)
			return NULL;
	}
	return *p == '\0' ? "a number" : NULL;
}

/* A scalar node's text, or NULL. */
static const char *
scalar(yaml_node_t *n)
{
	return n != NULL && n->type == YAML_SCALAR_NODE ?
	    (const char *)n->data.scalar.value : NULL;
}

/* Whether a host name or address is made of what DNS names and IP
 * addresses are made of (no IDNA: vsock-proxy converts Unicode names, we
 * refuse them rather than look up something else). */
static bool
host_chars(const char *s)
{
	size_t n = strlen(s);

	return n > 0 && n <= ALLOWLIST_NAME_MAX && strspn(s,
	    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	    ".-_:") == n;
}

/*
 * Explicit tags (!!str 443, !!int "443") change a scalar's type in ways
 * libyaml's document does not keep apart from an untagged scalar, so a
 * file with one is refused. Also walks the whole stream, so that a syntax
 * error in a later document refuses the file, as vsock-proxy (which
 * parses every document) does.
 */
static int
check_events(const char *text, size_t len, const char *name, char *err,
    size_t errlen)
{
	yaml_parser_t p;
	yaml_event_t ev;
	int rc = -1;

	if (!yaml_parser_initialize(&p)) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	yaml_parser_set_input_string(&p, (const unsigned char *)text, len);
	for (;;) {
		const yaml_char_t *tag = NULL;
		bool end;

		if (!yaml_parser_parse(&p, &ev)) {
			snprintf(err, errlen, "%s: not YAML (%s, line %zu)", name,
			    p.problem ? p.problem : "error",
			    p.problem_mark.line + 1);
			break;
		}
		if (ev.type == YAML_SCALAR_EVENT)
			tag = ev.data.scalar.tag;
		else if (ev.type == YAML_SEQUENCE_START_EVENT)
			tag = ev.data.sequence_start.tag;
		else if (ev.type == YAML_MAPPING_START_EVENT)
			tag = ev.data.mapping_start.tag;
		end = ev.type == YAML_STREAM_END_EVENT;
		if (tag != NULL) {
			snprintf(err, errlen, "%s: line %zu: tags (%.40s) are not "
			    "used in an allowlist", name, ev.start_mark.line + 1,
			    (const char *)tag);
			yaml_event_delete(&ev);
			break;
		}
		yaml_event_delete(&ev);
		if (end) {
			rc = 0;
			break;
		}
	}
	yaml_parser_delete(&p);
	return rc;
}

/* Counts a key vsock-proxy ignores; the first is kept for the log. */
static void
ignore_key(struct allowlist *l, unsigned entry, const char *key)
{
	if (l->nignored++ > 0)
		return;
	if (entry == 0)
		snprintf(l->ignored, sizeof l->ignored, "key \"%.60s\"",
		    key ? key : "(not a string)");
	else
		snprintf(l->ignored, sizeof l->ignored, "entry %u: key \"%.60s\"",
		    entry, key ? key : "(not a string)");
}

/* One entry, {address, port, ...}; number is 1-based, for messages. */
static int
load_entry(yaml_document_t *d, yaml_node_t *e, unsigned number,
    const char *name, struct allowlist *l, char *err, size_t errlen)
{
	struct allow_entry *a = &l->e[l->n];
	bool has_addr = false, has_port = false;

	if (e == NULL || e->type != YAML_MAPPING_NODE) {
		snprintf(err, errlen, "%s: entry %u is not {address, port}", name,
		    number);
		return -1;
	}
	for (yaml_node_pair_t *pr = e->data.mapping.pairs.start;
	    pr < e->data.mapping.pairs.top; pr++) {
		yaml_node_t *vn = yaml_document_get_node(d, pr->value);
		const char *k = scalar(yaml_document_get_node(d, pr->key));
		const char *v = scalar(vn), *type;
		bool plain = vn != NULL && vn->type == YAML_SCALAR_NODE &&
		    vn->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;

		if (k != NULL && strcmp(k, "address") == 0) {
			if (has_addr) {
				snprintf(err, errlen, "%s: entry %u: address "
				    "given twice", name, number);
				return -1;
			}
			if (v == NULL || (plain && (type = plain_type(v)) != NULL)) {
				snprintf(err, errlen, "%s: entry %u: bad field "
				    "\"address\": not a string (%s)", name, number,
				    v == NULL ? "a list or mapping" : type);
				return -1;
			}
			if (!host_chars(v)) {
				snprintf(err, errlen, "%s: entry %u: bad field "
				    "\"address\": \"%.60s\" is not an ASCII host name "
				    "or address of at most %d characters", name,
				    number, v, ALLOWLIST_NAME_MAX);
				return -1;
			}
			strcpy(a->address, v);
			has_addr = true;
		} else if (k != NULL && strcmp(k, "port") == 0) {
			if (has_port) {
				snprintf(err, errlen, "%s: entry %u: port given "
				    "twice", name, number);
				return -1;
			}
			/* vsock-proxy takes the port as an integer: a quoted
			 * "443" is a string, and it refuses the check. */
			if (v != NULL && !plain) {
				snprintf(err, errlen, "%s: entry %u: bad field "
				    "\"port\": quoted (\"%.20s\"); a port is an "
				    "unquoted number", name, number, v);
				return -1;
			}
			if (v == NULL || allowlist_port(v, &a->port) != 0) {
				snprintf(err, errlen, "%s: entry %u: bad field "
				    "\"port\": not a decimal 1..65535 without a "
				    "sign or leading zero", name, number);
				return -1;
			}
			has_port = true;
		} else {
			ignore_key(l, number, k);
		}
	}
	if (!has_addr || !has_port) {
		snprintf(err, errlen, "%s: entry %u needs address and port", name,
		    number);
		return -1;
	}
	l->n++;
	return 0;
}

int
allowlist_parse(const char *text, size_t len, const char *name,
    struct allowlist **out, char *err, size_t errlen)
{
	yaml_parser_t p;
	yaml_document_t d;
	yaml_node_t *root, *list = NULL;
	struct allowlist *l = NULL;
	bool have_doc = false;
	int rc = -1;

	if (check_events(text, len, name, err, errlen) != 0)
		return -1;
	if (!yaml_parser_initialize(&p)) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	yaml_parser_set_input_string(&p, (const unsigned char *)text, len);
	if (!yaml_parser_load(&p, &d)) {
		snprintf(err, errlen, "%s: not YAML (%s, line %zu)", name,
		    p.problem ? p.problem : "error", p.problem_mark.line + 1);
		goto out;
	}
	have_doc = true;
	if ((l = calloc(1, sizeof *l)) == NULL) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	root = yaml_document_get_root_node(&d);
	if (root == NULL || root->type != YAML_MAPPING_NODE) {
		snprintf(err, errlen, "%s: expected a mapping with \"allowlist\"",
		    name);
		goto out;
	}
	for (yaml_node_pair_t *pr = root->data.mapping.pairs.start;
	    pr < root->data.mapping.pairs.top; pr++) {
		const char *k = scalar(yaml_document_get_node(&d, pr->key));

		if (k == NULL || strcmp(k, "allowlist") != 0) {
			ignore_key(l, 0, k);
			continue;
		}
		if (list != NULL) {
			snprintf(err, errlen, "%s: \"allowlist\" given twice",
			    name);
			goto out;
		}
		list = yaml_document_get_node(&d, pr->value);
	}
	if (list == NULL || list->type != YAML_SEQUENCE_NODE) {
		snprintf(err, errlen, "%s: \"allowlist\" is not a list", name);
		goto out;
	}
	if (list->data.sequence.items.top - list->data.sequence.items.start >
	    ALLOWLIST_MAX) {
		snprintf(err, errlen, "%s: more than %d entries", name,
		    ALLOWLIST_MAX);
		goto out;
	}
	l->e = calloc((size_t)(list->data.sequence.items.top -
	    list->data.sequence.items.start) + 1, sizeof *l->e);
	if (l->e == NULL) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	for (yaml_node_item_t *it = list->data.sequence.items.start;
	    it < list->data.sequence.items.top; it++)
		if (load_entry(&d, yaml_document_get_node(&d, *it), l->n + 1,
		    name, l, err, errlen) != 0)
			goto out;
	*out = l;
	l = NULL;
	rc = 0;
out:
	allowlist_free(l);
	if (have_doc)
		yaml_document_delete(&d);
	yaml_parser_delete(&p);
	return rc;
}

int
allowlist_load(const char *path, struct allowlist **out, char *err,
    size_t errlen)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	size_t len;
	int rc = -1;

	if (f == NULL) {
		snprintf(err, errlen, "cannot open %s", path);
		return -1;
	}
	if ((buf = malloc(ALLOWLIST_FILE_MAX_BYTES + 1)) == NULL) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	len = fread(buf, 1, ALLOWLIST_FILE_MAX_BYTES + 1, f);
	if (ferror(f)) {
		snprintf(err, errlen, "cannot read %s", path);
		goto out;
	}
	if (len > ALLOWLIST_FILE_MAX_BYTES) {
		snprintf(err, errlen, "%s: larger than %d bytes", path,
		    ALLOWLIST_FILE_MAX_BYTES);
		goto out;
	}
	rc = allowlist_parse(buf, len, path, out, err, errlen);
out:
	free(buf);
	fclose(f);
	return rc;
}

void
allowlist_free(struct allowlist *l)
{
	if (l == NULL)
		return;
	free(l->e);
	free(l);
}

enum allowlist_match
allowlist_match(const struct allowlist *l, const char *host, unsigned port)
{
	enum allowlist_match m = ALLOWLIST_NO;

	for (unsigned i = 0; i < l->n; i++) {
		if (l->e[i].port != port)
			continue;
		if (strcasecmp(l->e[i].address, host) == 0)
			return ALLOWLIST_BY_NAME;
		m = ALLOWLIST_BY_ADDRESS;
	}
	return m;
}

/* Whether a and b are the same IP address (ports aside). */
static bool
same_address(const struct sockaddr *a, const struct sockaddr *b)
{
	if (a->sa_family != b->sa_family)
		return false;
	if (a->sa_family == AF_INET)
		return memcmp(&((const struct sockaddr_in *)(const void *)a)->
		    sin_addr, &((const struct sockaddr_in *)(const void *)b)->
		    sin_addr, sizeof(struct in_addr)) == 0;
	if (a->sa_family == AF_INET6)
		return memcmp(&((const struct sockaddr_in6 *)(const void *)a)->
		    sin6_addr, &((const struct sockaddr_in6 *)(const void *)b)->
		    sin6_addr, sizeof(struct in6_addr)) == 0;
	return false;
}

/* Addresses kept of one listed name: DNS answers for AWS endpoints carry
 * up to 8; the rest of a longer answer is not compared. */
#define LISTED_ADDRS_MAX 16

int
allowlist_address_listed(const struct allowlist *l, unsigned port,
    const struct sockaddr_storage *cand, unsigned n,
    allowlist_resolve_fn fn, void *arg)
{
	struct sockaddr_storage addrs[LISTED_ADDRS_MAX];
	int best = -1;

	for (unsigned i = 0; i < l->n && best != 0; i++) {
		unsigned got;

		if (l->e[i].port != port)
			continue;
		got = fn(arg, l->e[i].address, addrs, LISTED_ADDRS_MAX);
		for (unsigned k = 0; k < got && k < LISTED_ADDRS_MAX; k++)
			for (unsigned c = 0; c < n && (best < 0 ||
			    c < (unsigned)best); c++)
				if (same_address((const struct sockaddr *)&addrs[k],
				    (const struct sockaddr *)&cand[c]))
					best = (int)c;
	}
	return best;
}

int
allowlist_port(const char *s, unsigned *out)
{
	unsigned v = 0;
	size_t n = 0;

	/* No leading zero either: YAML 1.1 reads 010 as octal 8, 1.2 as 10. */
	if (s[0] == '0')
		return -1;
	for (; s[n] >= '0' && s[n] <= '9' && n < 5; n++)
		v = v * 10 + (unsigned)(s[n] - '0');
	if (n == 0 || s[n] != '\0' || v < 1 || v > 65535)
		return -1;
	*out = v;
	return 0;
}

/*
 * Ranges an outbound connection never goes to unless allowed. None of them
 * is a service the enclave should reach through the parent: they lead
 * back into the parent itself (loopback, unspecified), to the instance's
 * own services (link-local: the metadata service at 169.254.169.254 with
 * the instance role's credentials, Amazon's DNS and time; in IPv6,
 * fd00:ec2::/32 holds the same services), or nowhere a TCP connection can
 * go (multicast, reserved, documentation and benchmarking ranges).
 * Private ranges (10/8, 172.16/12, 192.168/16, 100.64/10, and fc00::/7
 * but fd00:ec2::/32) are where a VPC's own services live, and stay
 * allowed. IPv4-mapped and NAT64 (64:ff9b::/96) addresses are judged by
 * the IPv4 address inside.
 */
static const struct range {
	int family;
	uint8_t prefix[16];
	unsigned bits;
	const char *name;
} ranges[] = {
	{ AF_INET, { 0 }, 8, "unspecified (0.0.0.0/8)" },
	{ AF_INET, { 127 }, 8, "loopback (127.0.0.0/8)" },
	{ AF_INET, { 169, 254 }, 16, "link-local and instance metadata "
	    "(169.254.0.0/16)" },
	{ AF_INET, { 192, 0, 0 }, 24, "IETF protocol assignments "
	    "(192.0.0.0/24)" },
	{ AF_INET, { 192, 0, 2 }, 24, "documentation (192.0.2.0/24)" },
	{ AF_INET, { 198, 18 }, 15, "benchmarking (198.18.0.0/15)" },
	{ AF_INET, { 198, 51, 100 }, 24, "documentation (198.51.100.0/24)" },
	{ AF_INET, { 203, 0, 113 }, 24, "documentation (203.0.113.0/24)" },
	{ AF_INET, { 224 }, 4, "multicast (224.0.0.0/4)" },
	{ AF_INET, { 240 }, 4, "reserved and broadcast (240.0.0.0/4)" },
	{ AF_INET6, { 0 }, 128, "unspecified (::)" },
	{ AF_INET6, { [15] = 1 }, 128, "loopback (::1)" },
	{ AF_INET6, { 0 }, 96, "IPv4-compatible, deprecated (::/96)" },
	{ AF_INET6, { 1 }, 64, "discard-only (100::/64)" },
	{ AF_INET6, { 0x20, 0x01, 0x0d, 0xb8 }, 32, "documentation "
	    "(2001:db8::/32)" },
	{ AF_INET6, { 0xfd, 0x00, 0x0e, 0xc2 }, 32, "instance metadata, "
	    "DNS and time (fd00:ec2::/32)" },
	{ AF_INET6, { 0xfe, 0x80 }, 10, "link-local (fe80::/10)" },
	{ AF_INET6, { 0xfe, 0xc0 }, 10, "site-local, deprecated (fec0::/10)" },
	{ AF_INET6, { 0xff }, 8, "multicast (ff00::/8)" },
};

static bool allow_special;

void
allowlist_allow_special(bool yes)
{
	allow_special = yes;
}

static bool
in_prefix(const uint8_t *a, const uint8_t *p, unsigned bits)
{
	unsigned whole = bits / 8, rest = bits % 8;

	if (memcmp(a, p, whole) != 0)
		return false;
	return rest == 0 || ((a[whole] ^ p[whole]) &
	    (uint8_t)(0xff << (8 - rest))) == 0;
}

const char *
allowlist_refused(const struct sockaddr *sa)
{
	static const uint8_t mapped[12] = { [10] = 0xff, [11] = 0xff };
	static const uint8_t nat64[12] = { 0, 0x64, 0xff, 0x9b };
	const uint8_t *a;
	int family = sa->sa_family;

	if (allow_special)
		return NULL;
	if (family == AF_INET) {
		a = (const uint8_t *)&((const struct sockaddr_in *)
		    (const void *)sa)->sin_addr;
	} else if (family == AF_INET6) {
		a = ((const struct sockaddr_in6 *)(const void *)sa)->
		    sin6_addr.s6_addr;
		if (memcmp(a, mapped, 12) == 0 || memcmp(a, nat64, 12) == 0) {
			a += 12;
			family = AF_INET;
		}
	} else {
		return "not an IP address";
	}
	for (size_t i = 0; i < sizeof ranges / sizeof ranges[0]; i++)
		if (ranges[i].family == family &&
		    in_prefix(a, ranges[i].prefix, ranges[i].bits))
			return ranges[i].name;
	return NULL;
}
