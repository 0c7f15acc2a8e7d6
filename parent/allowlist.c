/*
 * The outbound allowlist, in vsock-proxy's YAML format:
 *
 *   allowlist:
 *   - {address: kms.us-east-1.amazonaws.com, port: 443}
 *
 * read with libyaml's document API. Anything else in the file is refused
 * with a message naming it, so a typo never widens the list.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

#include "allowlist.h"

static const char *
scalar(yaml_document_t *d, yaml_node_t *n)
{
	(void)d;
	return n != NULL && n->type == YAML_SCALAR_NODE ?
	    (const char *)n->data.scalar.value : NULL;
}

int
allowlist_load(const char *path, struct allowlist *out, char *err,
    size_t errlen)
{
	yaml_parser_t p;
	yaml_document_t d;
	yaml_node_t *root, *list = NULL;
	FILE *f = fopen(path, "rb");
	int rc = -1;

	memset(out, 0, sizeof *out);
	if (f == NULL) {
		snprintf(err, errlen, "cannot open %s", path);
		return -1;
	}
	if (!yaml_parser_initialize(&p)) {
		fclose(f);
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	yaml_parser_set_input_file(&p, f);
	if (!yaml_parser_load(&p, &d)) {
		snprintf(err, errlen, "%s: not YAML (%s, line %zu)", path,
		    p.problem ? p.problem : "error", p.problem_mark.line + 1);
		yaml_parser_delete(&p);
		fclose(f);
		return -1;
	}
	root = yaml_document_get_root_node(&d);
	if (root == NULL || root->type != YAML_MAPPING_NODE) {
		snprintf(err, errlen, "%s: expected a mapping with \"allowlist\"",
		    path);
		goto out;
	}
	for (yaml_node_pair_t *pr = root->data.mapping.pairs.start;
	    pr < root->data.mapping.pairs.top; pr++) {
		const char *k = scalar(&d, yaml_document_get_node(&d, pr->key));

		if (k == NULL || strcmp(k, "allowlist") != 0) {
			snprintf(err, errlen, "%s: unknown key \"%.40s\"", path,
			    k ? k : "?");
			goto out;
		}
		list = yaml_document_get_node(&d, pr->value);
	}
	if (list == NULL || list->type != YAML_SEQUENCE_NODE) {
		snprintf(err, errlen, "%s: \"allowlist\" is not a list", path);
		goto out;
	}
	for (yaml_node_item_t *it = list->data.sequence.items.start;
	    it < list->data.sequence.items.top; it++) {
		yaml_node_t *e = yaml_document_get_node(&d, *it);
		struct allow *a = &out->e[out->n];
		bool has_addr = false, has_port = false;

		if (out->n == ALLOWLIST_MAX) {
			snprintf(err, errlen, "%s: more than %d entries", path,
			    ALLOWLIST_MAX);
			goto out;
		}
		if (e == NULL || e->type != YAML_MAPPING_NODE) {
			snprintf(err, errlen, "%s: entry %u is not {address, "
			    "port}", path, out->n + 1);
			goto out;
		}
		for (yaml_node_pair_t *pr = e->data.mapping.pairs.start;
		    pr < e->data.mapping.pairs.top; pr++) {
			const char *k = scalar(&d, yaml_document_get_node(&d,
			    pr->key));
			const char *v = scalar(&d, yaml_document_get_node(&d,
			    pr->value));
			char *end;

			if (k != NULL && v != NULL && strcmp(k, "address") == 0 &&
			    strlen(v) > 0 && strlen(v) < sizeof a->address) {
				strcpy(a->address, v);
				has_addr = true;
			} else if (k != NULL && v != NULL &&
			    strcmp(k, "port") == 0 &&
			    (a->port = (unsigned)strtoul(v, &end, 10)) > 0 &&
			    a->port < 65536 && *end == '\0') {
				has_port = true;
			} else {
				snprintf(err, errlen, "%s: entry %u: bad or unknown "
				    "field \"%.40s\"", path, out->n + 1,
				    k ? k : "?");
				goto out;
			}
		}
		if (!has_addr || !has_port) {
			snprintf(err, errlen, "%s: entry %u needs address and "
			    "port", path, out->n + 1);
			goto out;
		}
		out->n++;
	}
	rc = 0;
out:
	yaml_document_delete(&d);
	yaml_parser_delete(&p);
	fclose(f);
	return rc;
}

bool
allowlist_has(const struct allowlist *l, const char *address, unsigned port)
{
	for (unsigned i = 0; i < l->n; i++)
		if (l->e[i].port == port &&
		    strcasecmp(l->e[i].address, address) == 0)
			return true;
	return false;
}
