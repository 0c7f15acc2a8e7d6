/*
 * Verdicts as compact JWS (RFC 7515) with EdDSA/Ed25519 (RFC 8037), signed
 * with the verifier's key, published at /.well-known/glassbox.
 */
#include <stdlib.h>
#include <string.h>

#include "gb/codec.h"
#include "server.h"

/* base64url without padding (RFC 7515 2), as a new string. */
char *
vs_b64url(const uint8_t *p, size_t n)
{
	char *s = NULL;
	size_t len;

	if (gb_base64_encode_alloc(p, n, &s) != 0)
		return NULL;
	len = strlen(s);
	while (len > 0 && s[len - 1] == '=')
		s[--len] = '\0';
	for (size_t i = 0; i < len; i++)
		if (s[i] == '+')
			s[i] = '-';
		else if (s[i] == '/')
			s[i] = '_';
	return s;
}

char *
vs_jws_sign(const struct vs *vs, json_t *claims)
{
	json_t *hdr = json_pack("{s:s, s:s, s:s}", "alg", "EdDSA", "kid",
	    vs->verdict_kid, "typ", "JWT");
	char *h = hdr ? json_dumps(hdr, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	char *c = json_dumps(claims, JSON_COMPACT | JSON_SORT_KEYS);
	char *hb = NULL, *cb = NULL, *sb = NULL, *input = NULL, *out = NULL;
	uint8_t sig[GB_ED25519_SIG_BYTES];
	size_t n;

	if (h == NULL || c == NULL ||
	    (hb = vs_b64url((const uint8_t *)h, strlen(h))) == NULL ||
	    (cb = vs_b64url((const uint8_t *)c, strlen(c))) == NULL)
		goto out;
	n = strlen(hb) + 1 + strlen(cb);
	if ((input = malloc(n + 1)) == NULL)
		goto out;
	strcpy(input, hb);
	strcat(input, ".");
	strcat(input, cb);
	if (gb_ed25519_signer_sign(vs->verdict_signer, input, n, sig) != 0 ||
	    (sb = vs_b64url(sig, sizeof sig)) == NULL ||
	    (out = malloc(n + 1 + strlen(sb) + 1)) == NULL)
		goto out;
	strcpy(out, input);
	strcat(out, ".");
	strcat(out, sb);
out:
	json_decref(hdr);
	free(h);
	free(c);
	free(hb);
	free(cb);
	free(sb);
	free(input);
	return out;
}
