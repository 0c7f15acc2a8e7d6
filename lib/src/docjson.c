/*
 * JSON views of a document's fields, and the one JSON parser entry for
 * untrusted text (gb/docjson.h).
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gb/codec.h"
#include "gb/docjson.h"
#include "gb/limits.h"

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

/* The deepest nesting of [ and { outside strings; stops counting past max. */
static size_t
json_depth(const char *p, const char *end, size_t max)
{
	size_t depth = 0, deepest = 0;
	bool in_str = false;

	for (; p < end; p++) {
		if (in_str) {
			if (*p == '\\' && p + 1 < end)
				p++;
			else if (*p == '"')
				in_str = false;
		} else if (*p == '"') {
			in_str = true;
		} else if (*p == '[' || *p == '{') {
			if (++depth > deepest && (deepest = depth) > max)
				break;
		} else if ((*p == ']' || *p == '}') && depth > 0) {
			depth--;
		}
	}
	return deepest;
}

json_t *
gb_json_loadb(const char *buf, size_t len, size_t flags, json_error_t *err)
{
	if (json_depth(buf, buf + len, GB_JSON_MAX_DEPTH) > GB_JSON_MAX_DEPTH) {
		if (err != NULL) {
			memset(err, 0, sizeof *err);
			snprintf(err->text, sizeof err->text, "nested deeper than "
			    "%d levels", GB_JSON_MAX_DEPTH);
		}
		return NULL;
	}
	return json_loadb(buf, len, flags | JSON_REJECT_DUPLICATES, err);
}
