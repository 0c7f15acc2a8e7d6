/*
 * The parent's outbound allowlist (parent/allowlist.c): AWS's stock
 * vsock-proxy.yaml loads as it is; vsock-proxy's rules for the file
 * (unknown keys ignored, quoted ports and non-string addresses refused),
 * the match by name and by address; ports are 1..65535 written in
 * decimal, and the address ranges outbound connections refuse unless
 * allowed, with private ranges allowed. (The file and the refusals in a
 * running parent are exercised by tests/e2e/test_parent.py and
 * test_vsock_proxy.py.)
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdbool.h>

#include "allowlist.h"
#include "test.h"

TEST(ports)
{
	static const struct {
		const char *text;
		int rc;
		unsigned port;
	} cases[] = {
		{ "1", 0, 1 }, { "443", 0, 443 }, { "65535", 0, 65535 },
		{ "08080", -1, 0 }, { "0", -1, 0 }, { "65536", -1, 0 },
		{ "4294967739", -1, 0 }, { "4294967296", -1, 0 },
		{ "99999", -1, 0 }, { "-1", -1, 0 }, { "+443", -1, 0 },
		{ "0x1bb", -1, 0 }, { " 443", -1, 0 }, { "443 ", -1, 0 },
		{ "", -1, 0 }, { "44 3", -1, 0 },
	};

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		unsigned p = 12345;
		int rc = allowlist_port(cases[i].text, &p);

		if (rc != cases[i].rc || (rc == 0 && p != cases[i].port))
			FAIL_AT("port \"%s\": rc %d port %u", cases[i].text, rc,
			    p);
		else if (rc != 0 && p != 12345)
			FAIL_AT("port \"%s\": written on failure", cases[i].text);
	}
}

/* Whether text (IPv4 or IPv6) is refused, as allowlist_refused() says. */
static int
refused(const char *text)
{
	struct sockaddr_in a4 = { .sin_family = AF_INET };
	struct sockaddr_in6 a6 = { .sin6_family = AF_INET6 };

	if (inet_pton(AF_INET, text, &a4.sin_addr) == 1)
		return allowlist_refused((struct sockaddr *)&a4) != NULL;
	if (inet_pton(AF_INET6, text, &a6.sin6_addr) == 1)
		return allowlist_refused((struct sockaddr *)&a6) != NULL;
	return -1;
}

TEST(ranges)
{
	static const char *const bad[] = {
		"127.0.0.1", "127.255.255.254", "0.0.0.0", "0.1.2.3",
		"169.254.169.254", "169.254.0.1", "169.254.169.253",
		"224.0.0.1", "239.255.255.255", "255.255.255.255", "240.0.0.1",
		"192.0.0.8", "192.0.2.1", "198.18.0.1", "198.19.255.255",
		"198.51.100.1", "203.0.113.1",
		"::", "::1", "::127.0.0.1", "fe80::1", "febf::1", "fec0::1",
		"ff02::1", "2001:db8::1", "100::1", "fd00:ec2::254",
		"fd00:ec2::23", "::ffff:127.0.0.1", "::ffff:169.254.169.254",
		"64:ff9b::a9fe:a9fe",
	};
	static const char *const good[] = {
		"10.0.0.1", "172.16.0.1", "172.31.255.255", "192.168.1.1",
		"100.64.0.1", "8.8.8.8", "52.94.0.1", "126.255.255.255",
		"128.0.0.1", "169.253.255.255", "169.255.0.1", "198.17.255.255",
		"198.20.0.1", "192.0.1.1", "223.255.255.255",
		"2600:1f18::1", "fd00:ec3::1", "fd12:3456::1", "fc00::1",
		"fe7f::1", "2001:db9::1",
		"::ffff:10.0.0.1", "64:ff9b::808:808", "::2:0:0:1",
	};

	allowlist_allow_special(false);
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		if (refused(bad[i]) != 1)
			FAIL_AT("%s not refused", bad[i]);
	for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
		if (refused(good[i]) != 0)
			FAIL_AT("%s refused", good[i]);
	/* The flag allows every range. */
	allowlist_allow_special(true);
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		if (refused(bad[i]) != 0)
			FAIL_AT("%s refused despite the flag", bad[i]);
	allowlist_allow_special(false);
}

/* AWS's own file, as aws-nitro-enclaves-cli 1.5.0 installs it. */
TEST(stock_file)
{
	struct allowlist *l = NULL;
	char err[300];
	int rc = allowlist_load(GB_VECTORS_DIR "/aws-tooling/vsock-proxy.yaml",
	    &l, err, sizeof err);

	if (rc != 0)
		FAIL_AT("stock file refused: %s", err);
	ASSERT_EQ(rc, 0);
	ASSERT_EQ(l->n, 76);
	ASSERT_EQ(l->nignored, 0);
	ASSERT_STR_EQ(l->e[0].address, "kms.us-east-2.amazonaws.com");
	ASSERT_STR_EQ(l->e[75].address, "kms-fips.cn-northwest-1.amazonaws.com");
	for (unsigned i = 0; i < l->n; i++)
		if (l->e[i].port != 443)
			FAIL_AT("entry %u: port %u", i + 1, l->e[i].port);
	ASSERT_EQ(allowlist_match(l, "kms.us-east-1.amazonaws.com", 443),
	    ALLOWLIST_BY_NAME);
	ASSERT_EQ(allowlist_match(l, "KMS.US-EAST-1.amazonaws.com", 443),
	    ALLOWLIST_BY_NAME);
	ASSERT_EQ(allowlist_match(l, "kms-fips.cn-northwest-1.amazonaws.com",
	    443), ALLOWLIST_BY_NAME);
	ASSERT_EQ(allowlist_match(l, "kms.us-east-1.amazonaws.com", 80),
	    ALLOWLIST_NO);
	/* Not listed by name, but other names have port 443: allowed only
	 * if its address turns out to be one of theirs. */
	ASSERT_EQ(allowlist_match(l, "evil.example", 443),
	    ALLOWLIST_BY_ADDRESS);
	ASSERT_EQ(allowlist_match(l, "evil.example", 8443), ALLOWLIST_NO);
	allowlist_free(l);
}

/* Files and what becomes of them: 0 and the entries' count (and ignored
 * keys), or -1 and a part of the message. */
TEST(files)
{
	static const struct {
		const char *text;
		int rc;
		unsigned n, ignored;
		const char *msg;
	} cases[] = {
		{ "allowlist:\n- {address: a.example, port: 443}\n", 0, 1, 0,
		    NULL },
		{ "allowlist: []\n", 0, 0, 0, NULL },
		/* Unknown keys are ignored, as vsock-proxy ignores them. */
		{ "version: 2\nallowlist:\n- {address: a, port: 1}\n", 0, 1, 1,
		    NULL },
		{ "allowlist:\n- {address: a, port: 1, protocol: tcp}\n"
		    "- {address: b, port: 2, note: x, x: y}\n", 0, 2, 3, NULL },
		{ "allowlist:\n- address: a\n  port: 1\n  comment: block style\n",
		    0, 1, 1, NULL },
		/* A quoted address is a string; an IP address is one too. */
		{ "allowlist:\n- {address: '443', port: 1}\n", 0, 1, 0, NULL },
		{ "allowlist:\n- {address: \"a.b\", port: 1}\n", 0, 1, 0, NULL },
		{ "allowlist:\n- {address: 10.0.0.1, port: 1}\n", 0, 1, 0, NULL },
		{ "allowlist:\n- {address: '::1', port: 1}\n", 0, 1, 0, NULL },
		{ "allowlist:\n- {address: 1e5x, port: 1}\n", 0, 1, 0, NULL },
		/* Only the first document counts (vsock-proxy's docs[0]). */
		{ "allowlist: [{address: a, port: 1}]\n---\nallowlist: []\n", 0,
		    1, 0, NULL },
		/* A quoted port is a string, which vsock-proxy refuses. */
		{ "allowlist:\n- {address: a, port: '443'}\n", -1, 0, 0,
		    "quoted" },
		{ "allowlist:\n- {address: a, port: \"443\"}\n", -1, 0, 0,
		    "quoted" },
		{ "allowlist:\n- address: a\n  port: |\n    443\n", -1, 0, 0,
		    "quoted" },
		/* Ports YAML reads as numbers, but not 1..65535 in decimal. */
		{ "allowlist:\n- {address: a, port: 0x1bb}\n", -1, 0, 0,
		    "not a decimal" },
		{ "allowlist:\n- {address: a, port: +443}\n", -1, 0, 0,
		    "not a decimal" },
		{ "allowlist:\n- {address: a, port: 0443}\n", -1, 0, 0,
		    "not a decimal" },
		{ "allowlist:\n- {address: a, port: 4294967739}\n", -1, 0, 0,
		    "not a decimal" },
		{ "allowlist:\n- {address: a, port: 443.0}\n", -1, 0, 0,
		    "not a decimal" },
		{ "allowlist:\n- {address: a, port: [443]}\n", -1, 0, 0,
		    "not a decimal" },
		/* Addresses that YAML reads as something else than a string. */
		{ "allowlist:\n- {address: 2130706433, port: 1}\n", -1, 0, 0,
		    "not a string (a number)" },
		{ "allowlist:\n- {address: 1.5, port: 1}\n", -1, 0, 0,
		    "not a string (a number)" },
		{ "allowlist:\n- {address: 0x7f000001, port: 1}\n", -1, 0, 0,
		    "not a string (a number)" },
		{ "allowlist:\n- {address: .inf, port: 1}\n", -1, 0, 0,
		    "not a string (a number)" },
		{ "allowlist:\n- {address: infinity, port: 1}\n", -1, 0, 0,
		    "not a string (a number)" },
		{ "allowlist:\n- {address: true, port: 1}\n", -1, 0, 0,
		    "not a string (a boolean)" },
		{ "allowlist:\n- {address: ~, port: 1}\n", -1, 0, 0,
		    "not a string (null)" },
		{ "allowlist:\n- {address: , port: 1}\n", -1, 0, 0,
		    "not a string (null)" },
		{ "allowlist:\n- {address: {a: b}, port: 1}\n", -1, 0, 0,
		    "not a string (a list or mapping)" },
		{ "allowlist:\n- {address: 'a b', port: 1}\n", -1, 0, 0,
		    "not an ASCII host name" },
		{ "allowlist:\n- {address: \"b\\u00fccher.example\", port: 1}\n",
		    -1, 0, 0, "not an ASCII host name" },
		/* Entries need both, once. */
		{ "allowlist:\n- {address: a}\n", -1, 0, 0, "needs address and port" },
		{ "allowlist:\n- {adress: a, port: 1}\n", -1, 0, 0,
		    "needs address and port" },
		{ "allowlist:\n- {address: a, port: 1, port: 2}\n", -1, 0, 0,
		    "port given twice" },
		{ "allowlist:\n- {address: a, address: b, port: 2}\n", -1, 0, 0,
		    "address given twice" },
		{ "allowlist:\n- a:1\n", -1, 0, 0, "is not {address, port}" },
		/* A bad entry refuses the file, wherever it is. */
		{ "allowlist:\n- {address: a, port: 1}\n- {address: b, port: '2'}\n",
		    -1, 0, 0, "entry 2" },
		/* The shape. */
		{ "allowlist: {address: a, port: 1}\n", -1, 0, 0, "not a list" },
		{ "allow_list: []\n", -1, 0, 0, "not a list" },
		{ "allowlist: []\nallowlist: []\n", -1, 0, 0, "given twice" },
		{ "- {address: a, port: 1}\n", -1, 0, 0, "expected a mapping" },
		{ "", -1, 0, 0, "expected a mapping" },
		{ "allowlist: [oops\n", -1, 0, 0, "not YAML" },
		{ "allowlist: []\n---\n[oops\n", -1, 0, 0, "not YAML" },
		/* Tags change types in ways the document does not show. */
		{ "allowlist:\n- {address: a, port: !!int '443'}\n", -1, 0, 0,
		    "tags" },
		{ "allowlist:\n- {address: a, port: !!str 443}\n", -1, 0, 0,
		    "tags" },
		{ "allowlist: !!seq []\n", -1, 0, 0, "tags" },
		/* Aliases are followed as YAML says. */
		{ "allowlist:\n- &e {address: a, port: 1}\n- *e\n", 0, 2, 0, NULL },
	};

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct allowlist *l = NULL;
		char err[300] = "";
		int rc = allowlist_parse(cases[i].text, strlen(cases[i].text),
		    "f", &l, err, sizeof err);

		if (rc != cases[i].rc)
			FAIL_AT("case %zu: rc %d (%s)", i, rc, err);
		else if (rc == 0 && (l->n != cases[i].n ||
		    l->nignored != cases[i].ignored))
			FAIL_AT("case %zu: %u entries, %u ignored", i, l->n,
			    l->nignored);
		else if (rc != 0 && strstr(err, cases[i].msg) == NULL)
			FAIL_AT("case %zu: \"%s\" lacks \"%s\"", i, err,
			    cases[i].msg);
		else if (rc != 0 && l != NULL)
			FAIL_AT("case %zu: a list on failure", i);
		allowlist_free(l);
	}
}

/* ALLOWLIST_MAX entries load; one more is refused. */
TEST(entry_limit)
{
	const size_t line = sizeof "- {address: h0000.example, port: 443}\n";
	char *text = malloc(16 + (ALLOWLIST_MAX + 1) * line);
	struct allowlist *l = NULL;
	char err[300];
	size_t len;

	ASSERT(text != NULL);
	len = (size_t)sprintf(text, "allowlist:\n");
	for (unsigned i = 0; i < ALLOWLIST_MAX; i++)
		len += (size_t)sprintf(text + len,
		    "- {address: h%04u.example, port: 443}\n", i);
	if (allowlist_parse(text, len, "f", &l, err, sizeof err) != 0)
		FAIL_AT("%d entries refused: %s", ALLOWLIST_MAX, err);
	else if (l->n != ALLOWLIST_MAX ||
	    allowlist_match(l, "h1023.example", 443) != ALLOWLIST_BY_NAME)
		FAIL_AT("%u entries", l->n);
	allowlist_free(l);
	l = NULL;
	len += (size_t)sprintf(text + len, "- {address: one.more, port: 443}\n");
	if (allowlist_parse(text, len, "f", &l, err, sizeof err) == 0 ||
	    strstr(err, "more than 1024 entries") == NULL)
		FAIL_AT("%d entries accepted (%s)", ALLOWLIST_MAX + 1, err);
	allowlist_free(l);
	free(text);
}

/* A stand-in resolver: names to addresses, counting the lookups. */
static const struct {
	const char *name, *addrs[3];
} zone[] = {
	{ "a.example", { "192.0.2.1", "192.0.2.2" } },
	{ "b.example", { "198.51.100.7", "2001:db8::7" } },
	{ "c.example", { "203.0.113.9" } },
	{ "v4.example", { "10.0.0.1" } },
};
static unsigned lookups;

static void
to_sockaddr(const char *text, struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof *ss);
	if (inet_pton(AF_INET, text, &((struct sockaddr_in *)ss)->sin_addr) ==
	    1)
		ss->ss_family = AF_INET;
	else if (inet_pton(AF_INET6, text,
	    &((struct sockaddr_in6 *)ss)->sin6_addr) == 1)
		ss->ss_family = AF_INET6;
}

static unsigned
fake_resolve(void *arg, const char *name, struct sockaddr_storage *addrs,
    unsigned max)
{
	unsigned n = 0;

	(void)arg;
	lookups++;
	/* A literal address resolves to itself, as in the relay. */
	to_sockaddr(name, &addrs[0]);
	if (addrs[0].ss_family != 0)
		return 1;
	for (size_t i = 0; i < sizeof zone / sizeof zone[0]; i++)
		if (strcmp(zone[i].name, name) == 0)
			for (; n < max && n < 3 && zone[i].addrs[n] != NULL; n++)
				to_sockaddr(zone[i].addrs[n], &addrs[n]);
	return n;
}

TEST(address_match)
{
	static const char text[] = "allowlist:\n"
	    "- {address: a.example, port: 443}\n"
	    "- {address: v4.example, port: 80}\n"
	    "- {address: b.example, port: 443}\n"
	    "- {address: nowhere.example, port: 443}\n"
	    "- {address: 203.0.113.9, port: 443}\n";
	static const struct {
		unsigned port;
		const char *cand[3];
		int want;
		unsigned lookups;       /* at most */
	} cases[] = {
		{ 443, { "192.0.2.2" }, 0, 1 },
		{ 443, { "2001:db8::7" }, 0, 2 },
		{ 443, { "198.51.100.7" }, 0, 2 },
		/* An entry that is itself an address matches it. */
		{ 443, { "203.0.113.9" }, 0, 4 },
		/* The first candidate that a listed name has wins. */
		{ 443, { "192.0.2.99", "198.51.100.7", "192.0.2.1" }, 1, 4 },
		/* v4.example is listed with port 80 only. */
		{ 443, { "10.0.0.1" }, -1, 4 },
		{ 80, { "10.0.0.1" }, 0, 1 },
		{ 80, { "192.0.2.1" }, -1, 1 },
		/* Same bytes, other family: not the same address. */
		{ 443, { "::ffff:192.0.2.1" }, -1, 4 },
		{ 8443, { "192.0.2.1" }, -1, 0 },
	};
	struct allowlist *l = NULL;
	char err[300];

	ASSERT_EQ(allowlist_parse(text, sizeof text - 1, "f", &l, err,
	    sizeof err), 0);
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct sockaddr_storage cand[3];
		unsigned n = 0;
		int got;

		for (; n < 3 && cases[i].cand[n] != NULL; n++)
			to_sockaddr(cases[i].cand[n], &cand[n]);
		lookups = 0;
		got = allowlist_address_listed(l, cases[i].port, cand, n,
		    fake_resolve, NULL);
		if (got != cases[i].want)
			FAIL_AT("case %zu: %d, want %d", i, got, cases[i].want);
		if (lookups > cases[i].lookups)
			FAIL_AT("case %zu: %u lookups, want at most %u", i,
			    lookups, cases[i].lookups);
	}
	allowlist_free(l);
}

TEST_MAIN(
	T(stock_file),
	T(files),
	T(entry_limit),
	T(address_match),
	T(ports),
	T(ranges),
)
