/*
 * JSON views of a document's fields, as `glassbox verify --json` and the
 * verifier's answers show them (jansson).
 */
#ifndef GB_DOCJSON_H
#define GB_DOCJSON_H

#include <jansson.h>

#include "gb/attest.h"

/* Lower-case hex of s as a new JSON string, JSON null for an absent field
 * (s.ptr NULL), or NULL if out of memory. */
json_t *gb_json_hex(struct gb_span s);

/* {"0": hex, "1": hex, ...}: the PCRs the document carries. */
json_t *gb_json_pcrs(const struct gb_doc *d);

/*
 * json_loadb() for untrusted text: refuses input nested deeper than
 * GB_JSON_MAX_DEPTH before jansson's recursive parser sees it, and
 * duplicate keys always. Returns a new reference, or NULL with err filled
 * (err may be NULL). flags are jansson's, JSON_REJECT_DUPLICATES added.
 */
json_t *gb_json_loadb(const char *buf, size_t len, size_t flags,
    json_error_t *err);

#endif /* GB_DOCJSON_H */
