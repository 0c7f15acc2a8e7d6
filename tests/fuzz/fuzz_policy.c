/*
 * libFuzzer target for tlog-policy files (gb/tlog_policy.h): the input is
 * a policy, then optionally a NUL byte and a checkpoint note (the parser
 * refuses NUL, so the split never hides a policy byte). A policy that
 * parses is walked through its accessors and evaluated against the note.
 */
#include <stdint.h>
#include <string.h>

#include "gb/tlog_policy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data;
	const char *nul = memchr(s, '\0', size);
	size_t plen = nul != NULL ? (size_t)(nul - s) : size;
	struct gb_tlog_policy *p = NULL;
	struct gb_tlog_policy_error e;
	struct gb_tlog_policy_result r;
	const char *name, *url;

	if (gb_tlog_policy_parse(s, plen, &p, &e) != 0)
		return 0;
	for (size_t i = 0; i < gb_tlog_policy_nlogs(p); i++)
		(void)gb_tlog_policy_log(p, i, &url);
	for (size_t i = 0; i < gb_tlog_policy_nwitnesses(p); i++)
		(void)gb_tlog_policy_witness(p, i, &name, &url);
	(void)gb_tlog_policy_quorum(p);
	if (nul != NULL)
		(void)gb_tlog_policy_check(p, nul + 1, size - plen - 1,
		    1700000000, &r);
	gb_tlog_policy_free(p);
	return 0;
}
