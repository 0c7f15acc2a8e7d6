/*
 * Signed results (gb/result.h) on minted documents: a good signature, and
 * each way it can fail (another payload, another key, user_data bound to
 * another result, absent or empty, no key, a short signature).
 */
#include <nettle/sha2.h>

#include "gb/mint.h"
#include "gb/result.h"
#include "test.h"

static void
doc_with(struct gb_mint_chain *c, const uint8_t *pub, size_t publen,
    const uint8_t *ud, size_t udlen, uint8_t **buf, size_t *len)
{
	struct gb_mint_doc d = { .public_key = { pub, publen },
	    .user_data = { ud, udlen } };

	if (gb_mint_document(c, &d, buf, len) != 0)
		exit(2);
}

TEST(results)
{
	static const char payload[] = "{\"answer\":42}";
	uint8_t seed[32], pub[32], other[32], sig[64], md[32], *buf;
	struct gb_mint_chain *c;
	struct gb_verifier *v;
	struct sha256_ctx h;
	struct gb_result res;
	struct gb_doc doc;
	struct gb_span root;
	size_t len;

	ASSERT_EQ(gb_mint_chain_new(NULL, &c), 0);
	root = gb_mint_chain_cert(c, 0);
	ASSERT_EQ(gb_verifier_new(root.ptr, root.len, &v), 0);
	ASSERT_EQ(gb_ed25519_generate(seed), 0);
	ASSERT_EQ(gb_ed25519_public(seed, pub), 0);
	ASSERT_EQ(gb_ed25519_generate(other), 0);
	sha256_init(&h);
	sha256_update(&h, sizeof payload - 1, (const uint8_t *)payload);
	sha256_digest(&h, sizeof md, md);
	ASSERT_EQ(gb_result_sign(seed, payload, sizeof payload - 1, sig), 0);

	/* Bound to this result by user_data. */
	doc_with(c, pub, 32, md, 32, &buf, &len);
	ASSERT_REASON(gb_verifier_verify(v, buf, len, GB_AT_DOCUMENT, &doc,
	    &res), GB_R_OK);
	ASSERT_REASON(gb_result_check(&doc, payload, sizeof payload - 1, sig,
	    64, &res), GB_R_OK);
	ASSERT_REASON(gb_result_check(&doc, "{\"answer\":43}", 13, sig, 64,
	    &res), GB_R_RESULT_NOT_BOUND);
	ASSERT(strstr(res.detail, "user_data") != NULL);
	ASSERT_REASON(gb_result_check(&doc, payload, sizeof payload - 1, sig,
	    63, &res), GB_R_BAD_RESULT_SIGNATURE);
	sig[10] ^= 1;
	ASSERT_REASON(gb_result_check(&doc, payload, sizeof payload - 1, sig,
	    64, &res), GB_R_BAD_RESULT_SIGNATURE);
	sig[10] ^= 1;
	free(buf);

	/* Without user_data, or with an empty one, a result is not bound:
	 * refused before its signature is looked at, even a good one. */
	doc_with(c, pub, 32, NULL, 0, &buf, &len);
	ASSERT_REASON(gb_verifier_verify(v, buf, len, GB_AT_DOCUMENT, &doc,
	    &res), GB_R_OK);
	ASSERT_REASON(gb_result_check(&doc, payload, sizeof payload - 1, sig,
	    64, &res), GB_R_RESULT_NOT_BOUND);
	ASSERT(strstr(res.detail, "absent") != NULL);
	free(buf);
	doc_with(c, pub, 32, md, 0, &buf, &len);
	ASSERT_REASON(gb_verifier_verify(v, buf, len, GB_AT_DOCUMENT, &doc,
	    &res), GB_R_OK);
	ASSERT_REASON(gb_result_check(&doc, payload, sizeof payload - 1, sig,
	    64, &res), GB_R_RESULT_NOT_BOUND);
	free(buf);
	/* Bound: another key fails, and so does the bare payload signed
	 * without the domain prefix. */
	doc_with(c, pub, 32, md, 32, &buf, &len);
	ASSERT_REASON(gb_verifier_verify(v, buf, len, GB_AT_DOCUMENT, &doc,
	    &res), GB_R_OK);
	ASSERT_EQ(gb_ed25519_sign(other, payload, sizeof payload - 1, sig), 0);
	ASSERT_REASON(gb_result_check(&doc, payload, sizeof payload - 1, sig,
	    64, &res), GB_R_BAD_RESULT_SIGNATURE);
	ASSERT_EQ(gb_ed25519_sign(seed, payload, sizeof payload - 1, sig), 0);
	ASSERT_REASON(gb_result_check(&doc, payload, sizeof payload - 1, sig,
	    64, &res), GB_R_BAD_RESULT_SIGNATURE);
	free(buf);

	/* No key, or not an Ed25519 one. */
	doc_with(c, NULL, 0, NULL, 0, &buf, &len);
	ASSERT_REASON(gb_verifier_verify(v, buf, len, GB_AT_DOCUMENT, &doc,
	    &res), GB_R_OK);
	ASSERT_REASON(gb_result_check(&doc, payload, sizeof payload - 1, sig,
	    64, &res), GB_R_NO_PUBLIC_KEY);
	free(buf);
	doc_with(c, md, 31, NULL, 0, &buf, &len);
	ASSERT_REASON(gb_verifier_verify(v, buf, len, GB_AT_DOCUMENT, &doc,
	    &res), GB_R_OK);
	ASSERT_REASON(gb_result_check(&doc, payload, sizeof payload - 1, sig,
	    64, &res), GB_R_NO_PUBLIC_KEY);
	free(buf);
	gb_verifier_free(v);
	gb_mint_chain_free(c);
}

TEST_MAIN(
	T(results),
)
