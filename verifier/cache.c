/*
 * What the verifier keeps between requests (docs/verifier.md "Caches"):
 * the log's checkpoint verifier (the key parsed once, each checkpoint's
 * signature checked once).
 */
#include <stdlib.h>
#include <string.h>

#include "gb/note.h"
#include "server.h"

/* The one struct vs of the process, for vs_log_checkpoints(). */
static struct vs *the_vs;

int
vs_cache_init(struct vs *vs)
{
	vs->log_checkpoints = NULL;
	if (vs->log_vkey[0] != '\0' &&
	    gb_checkpoint_verifier_new(vs->log_vkey, &vs->log_checkpoints) != 0)
		return -1;
	the_vs = vs;
	return 0;
}

void
vs_cache_fini(struct vs *vs)
{
	the_vs = NULL;
	gb_checkpoint_verifier_free(vs->log_checkpoints);
	vs->log_checkpoints = NULL;
}

struct gb_checkpoint_verifier *
vs_log_checkpoints(const char *vkey)
{
	struct vs *vs = the_vs;

	if (vs == NULL || vs->log_checkpoints == NULL || vkey == NULL ||
	    strcmp(vkey, vs->log_vkey) != 0)
		return NULL;
	return vs->log_checkpoints;
}
