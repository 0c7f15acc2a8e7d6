/*
 * JSON views of a document's fields (gb/docjson.h).
 */
#include <stdio.h>
#include <stdlib.h>

#include "gb/codec.h"
#include "gb/docjson.h"

json_t *
gb_json_hex(struct gb_span s)
{
	json_t *j;
	char *h;

	if (s.ptr == NULL)
		return json_null();
	if ((h = malloc(2 * s.len + 1)) == NULL)
		return NULL;
	gb_hex_encode(h, s.ptr, s.len);
	j = json_string(h);
	free(h);
	return j;
}

json_t *
gb_json_pcrs(const struct gb_doc *d)
{
	json_t *pcrs = json_object();
	char idx[4];

	for (unsigned i = 0; pcrs != NULL && i < GB_PCR_MAX_COUNT; i++) {
		if (d->pcrs[i].ptr == NULL)
			continue;
		snprintf(idx, sizeof idx, "%u", i);
		json_object_set_new(pcrs, idx, gb_json_hex(d->pcrs[i]));
	}
	return pcrs;
}
