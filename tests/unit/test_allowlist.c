/*
 * The parent's outbound allowlist (parent/allowlist.c): ports are 1..65535
 * written in decimal, and the address ranges outbound connections refuse
 * unless allowed, with private ranges allowed. (The YAML file and the
 * refusals in a running parent are exercised by tests/e2e/test_parent.py.)
 */
#include <arpa/inet.h>
#include <netinet/in.h>

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

TEST_MAIN(
	T(ports),
	T(ranges),
)
