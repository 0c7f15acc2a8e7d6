/*
 * libFuzzer target for the registry's statement parsers: publications
 * (pcr-values.json, nitro-cli describe-eif JSON) and revocations. The first
 * byte picks which; the rest is the statement.
 */
#include <stdint.h>

#include "gb/registry.h"
#include "reg_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char reason[GB_REG_REASON_MAX + 1];
	struct gb_reg_error e;
	struct gb_release rel;
	uint8_t pcr0[48];

	if (size == 0)
		return 0;
	if (data[0] & 1)
		(void)gb__revocation_parse((const char *)data + 1, size - 1,
		    "fuzz.glassbox.test/log", pcr0, reason, &e);
	else if (gb_release_parse((const char *)data + 1, size - 1, &rel,
	    &e) == 0)
		json_decref(gb__release_json(&rel));
	return 0;
}
