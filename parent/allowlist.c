/*
 * The outbound allowlist, in vsock-proxy's YAML format:
 *
 *   allowlist:
 *   - {address: kms.us-east-1.amazonaws.com, port: 443}
 *
 * read with libyaml's document API. Anything else in the file is refused
 * with a message naming it, so a typo never widens the list. Ports are
 * 1..65535 exactly (strtoul would wrap 4294967739 to 443).
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

#include <yaml.h>

#include "allowlist.h"

static const char *
scalar(yaml_document_t *d, yaml_node_t *n)
{
	(void)d;
	return n != NULL && n->type == YAML_SCALAR_NODE ?
	    (const char *)n->data.scalar.value : NULL;
}

int
allowlist_load(const char *path, struct allowlist *out, char *err,
    size_t errlen)
{
	yaml_parser_t p;
	yaml_document_t d;
	yaml_node_t *root, *list = NULL;
	FILE *f = fopen(path, "rb");
	int rc = -1;

	memset(out, 0, sizeof *out);
	if (f == NULL) {
		snprintf(err, errlen, "cannot open %s", path);
		return -1;
	}
	if (!yaml_parser_initialize(&p)) {
		fclose(f);
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	yaml_parser_set_input_file(&p, f);
	if (!yaml_parser_load(&p, &d)) {
		snprintf(err, errlen, "%s: not YAML (%s, line %zu)", path,
		    p.problem ? p.problem : "error", p.problem_mark.line + 1);
		yaml_parser_delete(&p);
		fclose(f);
		return -1;
	}
	root = yaml_document_get_root_node(&d);
	if (root == NULL || root->type != YAML_MAPPING_NODE) {
		snprintf(err, errlen, "%s: expected a mapping with \"allowlist\"",
		    path);
		goto out;
	}
	for (yaml_node_pair_t *pr = root->data.mapping.pairs.start;
	    pr < root->data.mapping.pairs.top; pr++) {
		const char *k = scalar(&d, yaml_document_get_node(&d, pr->key));

		if (k == NULL || strcmp(k, "allowlist") != 0) {
			snprintf(err, errlen, "%s: unknown key \"%.40s\"", path,
			    k ? k : "?");
			goto out;
		}
		list = yaml_document_get_node(&d, pr->value);
	}
	if (list == NULL || list->type != YAML_SEQUENCE_NODE) {
		snprintf(err, errlen, "%s: \"allowlist\" is not a list", path);
		goto out;
	}
	for (yaml_node_item_t *it = list->data.sequence.items.start;
	    it < list->data.sequence.items.top; it++) {
		yaml_node_t *e = yaml_document_get_node(&d, *it);
		struct allow *a = &out->e[out->n];
		bool has_addr = false, has_port = false;

		if (out->n == ALLOWLIST_MAX) {
			snprintf(err, errlen, "%s: more than %d entries", path,
			    ALLOWLIST_MAX);
			goto out;
		}
		if (e == NULL || e->type != YAML_MAPPING_NODE) {
			snprintf(err, errlen, "%s: entry %u is not {address, "
			    "port}", path, out->n + 1);
			goto out;
		}
		for (yaml_node_pair_t *pr = e->data.mapping.pairs.start;
		    pr < e->data.mapping.pairs.top; pr++) {
			const char *k = scalar(&d, yaml_document_get_node(&d,
			    pr->key));
			const char *v = scalar(&d, yaml_document_get_node(&d,
			    pr->value));
			if (k != NULL && v != NULL && strcmp(k, "address") == 0 &&
			    strlen(v) > 0 && strlen(v) < sizeof a->address) {
				strcpy(a->address, v);
				has_addr = true;
			} else if (k != NULL && v != NULL &&
			    strcmp(k, "port") == 0 &&
			    allowlist_port(v, &a->port) == 0) {
				has_port = true;
			} else {
				snprintf(err, errlen, "%s: entry %u: bad or unknown "
				    "field \"%.40s\"", path, out->n + 1,
				    k ? k : "?");
				goto out;
			}
		}
		if (!has_addr || !has_port) {
			snprintf(err, errlen, "%s: entry %u needs address and "
			    "port", path, out->n + 1);
			goto out;
		}
		out->n++;
	}
	rc = 0;
out:
	yaml_document_delete(&d);
	yaml_parser_delete(&p);
	fclose(f);
	return rc;
}

bool
allowlist_has(const struct allowlist *l, const char *address, unsigned port)
{
	for (unsigned i = 0; i < l->n; i++)
		if (l->e[i].port == port &&
		    strcasecmp(l->e[i].address, address) == 0)
			return true;
	return false;
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
