/*
 * One whole-request exchange with a server on 127.0.0.1, for the fuzz
 * targets that drive a real gb_httpd server (fuzz_http.c, fuzz_verifier.c):
 * the request, then end of input, so the server never waits for more;
 * writes and reads take turns so neither side's buffer fills. At most
 * rounds turns, each waiting at most FUZZ_WAIT_MS.
 */
#ifndef GB_FUZZ_EXCHANGE_H
#define GB_FUZZ_EXCHANGE_H

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdint.h>
#include <sys/socket.h>
#include <unistd.h>

#define FUZZ_WAIT_MS 2000       /* the longest an answer may take */

static void
fuzz_exchange(int port, const uint8_t *data, size_t size, int rounds)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	char sink[4096];
	size_t off = 0;
	int fd;

	if ((fd = socket(AF_INET, SOCK_STREAM, 0)) < 0)
		return;
	sin.sin_port = htons((uint16_t)port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (connect(fd, (struct sockaddr *)&sin, sizeof sin) != 0) {
		close(fd);
		return;
	}
	if (size == 0)
		shutdown(fd, SHUT_WR);
	for (int r = 0; r < rounds; r++) {
		struct pollfd p = { fd, POLLIN | (off < size ? POLLOUT : 0), 0 };
		ssize_t n;

		if (poll(&p, 1, FUZZ_WAIT_MS) <= 0)
			break;
		if ((p.revents & POLLOUT) && off < size) {
			n = send(fd, data + off, size - off, MSG_NOSIGNAL);
			if (n <= 0)
				off = size;
			else
				off += (size_t)n;
			if (off == size)
				shutdown(fd, SHUT_WR);
			continue;
		}
		if (p.revents & (POLLIN | POLLHUP | POLLERR)) {
			n = recv(fd, sink, sizeof sink, 0);
			if (n <= 0)
				break;
		}
	}
	close(fd);
}

#endif /* GB_FUZZ_EXCHANGE_H */
