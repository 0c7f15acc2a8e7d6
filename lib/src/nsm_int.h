/*
 * Internal to the NSM code: the CBOR writer that encodes requests (nsm.c)
 * and the simulator's responses (nsm_sim.c), in serde_cbor's form.
 */
#ifndef GB_NSM_INT_H
#define GB_NSM_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Writes into p, at most cap bytes; overflow is sticky (bad). */
struct gb__nsm_w {
	uint8_t *p;
	size_t len;
	bool bad;
	size_t cap;
};

void gb__nsm_head(struct gb__nsm_w *w, unsigned major, uint64_t v);
void gb__nsm_raw(struct gb__nsm_w *w, const void *p, size_t n);
void gb__nsm_text(struct gb__nsm_w *w, const char *s);
/* A bstr, or null when p is NULL. */
void gb__nsm_bytes(struct gb__nsm_w *w, const uint8_t *p, size_t n);
/* {name: {...}} with `pairs` pairs to follow. */
void gb__nsm_variant(struct gb__nsm_w *w, const char *name, unsigned pairs);
/* The length written, or 0 if it overflowed. */
size_t gb__nsm_done(struct gb__nsm_w *w);

#endif /* GB_NSM_INT_H */
