/*
 * Listening addresses (gb/httpd.h): parsing of vsock, unix and tcp forms
 * and their errors, and what opening refuses. (The server itself is
 * exercised end to end by tests/e2e/test_enclave.py.)
 */
#include <errno.h>
#include <linux/vm_sockets.h>
#include <unistd.h>

#include "gb/httpd.h"
#include "test.h"

TEST(parse_addresses)
{
	struct gb_listen_addr a;
	const char *why;

	ASSERT_EQ(gb_listen_parse("vsock:5000", &a, &why), 0);
	ASSERT(a.kind == GB_LISTEN_VSOCK && a.port == 5000 &&
	    a.cid == VMADDR_CID_ANY);
	ASSERT_EQ(gb_listen_parse("vsock:3:5005", &a, &why), 0);
	ASSERT(a.cid == 3 && a.port == 5005);
	ASSERT_EQ(gb_listen_parse("unix:/run/glassbox.sock", &a, &why), 0);
	ASSERT_STR_EQ(a.path, "/run/glassbox.sock");
	ASSERT_EQ(gb_listen_parse("tcp:127.0.0.1:8080", &a, &why), 0);
	ASSERT(a.kind == GB_LISTEN_TCP && a.port == 8080);
	ASSERT_STR_EQ(a.host, "127.0.0.1");
	ASSERT_EQ(gb_listen_parse("tcp:[::1]:0", &a, &why), 0);
	ASSERT_STR_EQ(a.host, "::1");

	static const char *const bad[] = { "vsock:", "vsock:x", "vsock:1:",
	    "vsock:-1", "vsock:99999999999", "vsock:1:2:3", "unix:",
	    "tcp:127.0.0.1", "tcp::80", "tcp:1.2.3.4:65536", "tcp:[::1:80",
	    "tcp:1.2.3.4:", "http://x", "", "vsock:5000 " };
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		why = NULL;
		if (gb_listen_parse(bad[i], &a, &why) == 0)
			FAIL_AT("accepted \"%s\"", bad[i]);
		else if (why == NULL)
			FAIL_AT("no reason for \"%s\"", bad[i]);
	}
	/* A unix path longer than sun_path can hold. */
	{
		char longp[200] = "unix:/";

		memset(longp + 6, 'a', 150);
		longp[156] = '\0';
		ASSERT(gb_listen_parse(longp, &a, &why) != 0);
	}
}

TEST(open_refusals)
{
	struct gb_listen_addr a;
	const char *why;
	char file[] = "/tmp/gb-httpd-XXXXXX";
	int fd;

	/* A unix path that is a regular file is not replaced. */
	ASSERT((fd = mkstemp(file)) >= 0);
	close(fd);
	snprintf(a.path, sizeof a.path, "%s", file);
	a.kind = GB_LISTEN_UNIX;
	ASSERT_EQ(gb_listen_open(&a, &why), -1);
	ASSERT_EQ(errno, EEXIST);
	ASSERT(access(file, F_OK) == 0);
	unlink(file);
	/* Host names are not resolved. */
	ASSERT_EQ(gb_listen_parse("tcp:localhost:0", &a, &why), 0);
	ASSERT_EQ(gb_listen_open(&a, &why), -1);
	ASSERT(strstr(why, "numeric") != NULL);
	/* Port 0 picks a port, which can be read back. */
	ASSERT_EQ(gb_listen_parse("tcp:127.0.0.1:0", &a, &why), 0);
	ASSERT((fd = gb_listen_open(&a, &why)) >= 0);
	ASSERT(gb_listen_port(fd) > 0);
	close(fd);
	/* vsock: either this machine has it, or the error says so. */
	ASSERT_EQ(gb_listen_parse("vsock:0:5999", &a, &why), 0);
	fd = gb_listen_open(&a, &why);
	if (fd >= 0)
		close(fd);
	else
		ASSERT(why != NULL && strstr(why, "vsock") != NULL);
}

TEST_MAIN(
	T(parse_addresses),
	T(open_refusals),
)
