/*
 * libFuzzer target for NSM responses (gb_nsm_decode): whatever the device
 * or a simulator sends back.
 */
#include <stdint.h>

#include "gb/nsm.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct gb_nsm_response r;

	(void)gb_nsm_decode(data, size, &r);
	return 0;
}
