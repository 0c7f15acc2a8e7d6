/*
 * The registry's OpenPGP keyring, through gpgme, in a GNUPGHOME that belongs
 * to the registry: never the user's keyring, never a keyserver. It only ever
 * holds keys that the log added; whether a key may sign is the log's
 * decision (keys table), not OpenPGP's trust model.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <gpgme.h>

#include "gb/fileio.h"
#include "reg_int.h"

/* Room gpg needs on the keyring's disk beyond the keyring and the data
 * at hand (its lock files, trustdb updates, a new pubring.kbx written
 * beside the old one): below it, a failing gpg call is put down to the
 * disk. */
#define KEYRING_ROOM_BYTES (256 * 1024)

struct gb__keyring {
	gpgme_ctx_t ctx;
	char *home;                     /* from malloc() */
};

/*
 * Whether the disk that holds the keyring is (nearly) full. gpg reports a
 * full disk as a failure of whatever it was doing ("End of file", "general
 * error"), never as ENOSPC, and a full disk must not be blamed on the key
 * or the signature (it is io_error), so after a failed gpg call the disk
 * itself is asked. need: the bytes the call had to store.
 */
static bool
no_room(const struct gb__keyring *k, size_t need)
{
	struct statvfs vfs;
	struct stat sb;
	char path[4096];
	uint64_t room, want = (uint64_t)need + KEYRING_ROOM_BYTES;

	if (statvfs(k->home, &vfs) != 0)
		return false;
	if (snprintf(path, sizeof path, "%s/pubring.kbx", k->home) <
	    (int)sizeof path && stat(path, &sb) == 0)
		want += (uint64_t)sb.st_size;   /* rewritten as a new file */
	room = (uint64_t)vfs.f_bavail * vfs.f_frsize;
	return room < want || vfs.f_favail == 0;
}

/* Sets e to io_error if the disk is full, else to code and the message;
 * returns -1. */
static int gpg_fail(const struct gb__keyring *k, size_t need,
    struct gb_reg_error *e, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

static int
gpg_fail(const struct gb__keyring *k, size_t need, struct gb_reg_error *e,
    const char *code, const char *fmt, ...)
{
	char msg[sizeof e->message];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	if (no_room(k, need))
		return gb__reg_fail(e, "io_error", "the disk holding the keyring "
		    "%s is full (gpg: %.200s)", k->home, msg);
	return gb__reg_fail(e, code, "%s", msg);
}

/* Options that keep gpg from looking anything up anywhere. */
static const char gpg_conf[] =
    "# Written by glassbox: this keyring only holds keys of the log.\n"
    "no-auto-key-retrieve\n"
    "auto-key-locate local\n"
    "keyserver-options no-auto-key-retrieve\n"
    "no-autostart\n";

static int
ensure_home(const char *home, struct gb_reg_error *e)
{
	struct stat st;
	char path[4096];

	if (mkdir(home, 0700) != 0 && errno != EEXIST)
		return gb__reg_fail(e, "io_error", "cannot create %s: %s", home,
		    strerror(errno));
	if (stat(home, &st) != 0 || !S_ISDIR(st.st_mode))
		return gb__reg_fail(e, "io_error", "%s is not a directory",
		    home);
	if (st.st_mode & 077)
		return gb__reg_fail(e, "bad_permissions", "%s is open to other "
		    "users (mode %03o); it must be 0700", home,
		    (unsigned)st.st_mode & 0777);
	if (snprintf(path, sizeof path, "%s/gpg.conf", home) >=
	    (int)sizeof path)
		return gb__reg_fail(e, "io_error", "path too long: %s", home);
	if (access(path, F_OK) != 0 && gb_write_file_atomic(path, gpg_conf,
	    sizeof gpg_conf - 1, 0600, GB_WRITE_EXCL) != 0 && errno != EEXIST)
		return gb__reg_fail(e, "io_error", "cannot write %s: %s", path,
		    strerror(errno));
	return 0;
}

int
gb__keyring_open(const char *home, struct gb__keyring **out,
    struct gb_reg_error *e)
{
	struct gb__keyring *k;
	gpgme_error_t err;

	*out = NULL;
	if (ensure_home(home, e) != 0)
		return -1;
	if (gpgme_check_version("1.11.0") == NULL)
		return gb__reg_fail(e, "gpg_error", "gpgme is older than 1.11");
	if ((k = calloc(1, sizeof *k)) == NULL ||
	    (k->home = strdup(home)) == NULL) {
		free(k);
		return gb__reg_fail(e, "no_memory", "out of memory");
	}
	if ((err = gpgme_new(&k->ctx)) != 0 ||
	    (err = gpgme_ctx_set_engine_info(k->ctx, GPGME_PROTOCOL_OpenPGP,
	    NULL, home)) != 0) {
		gb__keyring_close(k);
		return gb__reg_fail(e, "gpg_error", "gpgme: %s",
		    gpgme_strerror(err));
	}
	gpgme_set_offline(k->ctx, 1);
	gpgme_set_armor(k->ctx, 1);
	*out = k;
	return 0;
}

void
gb__keyring_close(struct gb__keyring *k)
{
	if (k == NULL)
		return;
	gpgme_release(k->ctx);
	free(k->home);
	free(k);
}

static bool
has_private_block(const char *s, size_t len)
{
	static const char tag[] = "PRIVATE KEY BLOCK";

	for (size_t i = 0; i + sizeof tag - 1 <= len; i++)
		if (memcmp(s + i, tag, sizeof tag - 1) == 0)
			return true;
	return false;
}

int
gb__keyring_import(struct gb__keyring *k, const char *armored, size_t len,
    char fpr[65], struct gb_reg_error *e)
{
	gpgme_data_t d = NULL;
	gpgme_key_t key = NULL, extra = NULL;
	gpgme_import_result_t ir;
	gpgme_error_t err;
	int rc = -1;

	if (len > GB_REG_KEY_MAX)
		return gb__reg_fail(e, "too_large", "the key is larger than %d "
		    "bytes", GB_REG_KEY_MAX);
	if (has_private_block(armored, len))
		return gb__reg_fail(e, "bad_key", "this is a private key: add "
		    "the public key only (gpg --armor --export)");
	if (gpgme_data_new_from_mem(&d, armored, len, 0) != 0)
		return gb__reg_fail(e, "no_memory", "out of memory");

	/* Look before importing: exactly one public key, usable. */
	if ((err = gpgme_op_keylist_from_data_start(k->ctx, d, 0)) != 0 ||
	    (err = gpgme_op_keylist_next(k->ctx, &key)) != 0) {
		gpg_fail(k, len, e, "bad_key", "not an OpenPGP public key (%s)",
		    gpgme_strerror(err));
		goto out;
	}
	if (gpgme_op_keylist_next(k->ctx, &extra) == 0) {
		gb__reg_fail(e, "bad_key", "the file holds more than one key; "
		    "add them one by one");
		goto out;
	}
	gpgme_op_keylist_end(k->ctx);
	if (key->secret || key->subkeys == NULL ||
	    strlen(key->subkeys->fpr) > 64) {
		gb__reg_fail(e, "bad_key", "not a usable public key");
		goto out;
	}
	if (key->revoked || key->expired || key->disabled || key->invalid) {
		gb__reg_fail(e, key->expired ? "key_expired" : "key_revoked",
		    "key %s is %s", key->subkeys->fpr, key->expired ?
		    "expired" : "revoked or unusable");
		goto out;
	}
	if (!key->can_sign) {
		gb__reg_fail(e, "bad_key", "key %s cannot sign",
		    key->subkeys->fpr);
		goto out;
	}
	strcpy(fpr, key->subkeys->fpr);

	gpgme_data_seek(d, 0, SEEK_SET);
	if ((err = gpgme_op_import(k->ctx, d)) != 0 ||
	    (ir = gpgme_op_import_result(k->ctx)) == NULL ||
	    ir->imported + ir->unchanged < 1) {
		/* gpg read this very key above: the failure is the machine's
		 * (a full disk, most often), not the key's. */
		gpg_fail(k, len, e, "gpg_error", "gpg did not store the key in "
		    "the keyring (%s)", err != 0 ? gpgme_strerror(err) :
		    "nothing imported");
		goto out;
	}
	if (ir->secret_imported > 0) {
		gb__reg_fail(e, "bad_key", "this holds a private key: add the "
		    "public key only (gpg --armor --export)");
		goto out;
	}
	rc = 0;
out:
	gpgme_key_unref(key);
	gpgme_key_unref(extra);
	gpgme_data_release(d);
	return rc;
}

static bool
strong_digest(gpgme_hash_algo_t a)
{
	return a == GPGME_MD_SHA256 || a == GPGME_MD_SHA384 ||
	    a == GPGME_MD_SHA512;
}

int
gb__keyring_verify(struct gb__keyring *k, const char *data, size_t len,
    const char *sig, size_t sig_len, bool allow_expired, char fpr[65],
    struct gb_reg_error *e)
{
	gpgme_data_t dd = NULL, ds = NULL;
	gpgme_verify_result_t vr;
	gpgme_signature_t s;
	gpgme_key_t key = NULL;
	gpgme_error_t err;
	int rc = -1;

	if (sig_len > GB_REG_SIGNATURE_MAX)
		return gb__reg_fail(e, "too_large", "the signature is larger "
		    "than %d bytes", GB_REG_SIGNATURE_MAX);
	if (gpgme_data_new_from_mem(&dd, data, len, 0) != 0 ||
	    gpgme_data_new_from_mem(&ds, sig, sig_len, 0) != 0) {
		gb__reg_fail(e, "no_memory", "out of memory");
		goto out;
	}
	err = gpgme_op_verify(k->ctx, ds, dd, NULL);
	vr = gpgme_op_verify_result(k->ctx);
	if (err != 0 || vr == NULL || (s = vr->signatures) == NULL) {
		gpg_fail(k, len, e, "bad_signature", "not a detached OpenPGP "
		    "signature (%s)", gpgme_strerror(err));
		goto out;
	}
	if (s->next != NULL) {
		gb__reg_fail(e, "bad_signature", "more than one signature: "
		    "sign with one key");
		goto out;
	}
	/* A digest weaker than SHA-256 (SHA-1, MD5, RIPEMD-160, SHA-224) lets
	 * a signature stand for other bytes: refused, whatever gpg thinks.
	 * An unknown digest (0) only passes on to a status that fails. */
	if (!strong_digest(s->hash_algo) && (s->hash_algo != 0 ||
	    gpgme_err_code(s->status) == GPG_ERR_NO_ERROR)) {
		const char *name = gpgme_hash_algo_name(s->hash_algo);

		gb__reg_fail(e, "weak_signature", "the signature uses the %s "
		    "digest; sign with SHA-256 or stronger (gpg "
		    "--digest-algo SHA512)", name != NULL ? name : "unknown");
		goto out;
	}
	switch (gpgme_err_code(s->status)) {
	case GPG_ERR_NO_ERROR:
		break;
	case GPG_ERR_KEY_EXPIRED:
		if (allow_expired)
			break;
		gb__reg_fail(e, "key_expired", "signed by key %s, which has "
		    "expired", s->fpr);
		goto out;
	case GPG_ERR_NO_PUBKEY:
		gb__reg_fail(e, "unknown_key", "signed by key %s, which is not "
		    "in the registry (glassbox registry key add)", s->fpr);
		goto out;
	case GPG_ERR_CERT_REVOKED:
		gb__reg_fail(e, "key_revoked", "signed by key %s, which its "
		    "owner has revoked", s->fpr);
		goto out;
	case GPG_ERR_BAD_SIGNATURE:
		gb__reg_fail(e, "bad_signature", "the signature does not match "
		    "these bytes: it was made over something else, or they "
		    "were changed");
		goto out;
	default:
		gpg_fail(k, len, e, "bad_signature", "the signature does not "
		    "verify (%s)", gpgme_strerror(s->status));
		goto out;
	}
	if ((s->summary & GPGME_SIGSUM_KEY_REVOKED)) {
		gb__reg_fail(e, "key_revoked", "signed by key %s, which its "
		    "owner has revoked", s->fpr);
		goto out;
	}
	if ((s->summary & GPGME_SIGSUM_KEY_EXPIRED) && !allow_expired) {
		gb__reg_fail(e, "key_expired", "signed by key %s, which has "
		    "expired", s->fpr);
		goto out;
	}
	if ((s->summary & (GPGME_SIGSUM_RED | GPGME_SIGSUM_SIG_EXPIRED))) {
		gb__reg_fail(e, "bad_signature", "the signature is not good "
		    "(expired or refused by gpg)");
		goto out;
	}
	/* The signing key may be a subkey: the log knows primary keys. */
	if ((err = gpgme_get_key(k->ctx, s->fpr, &key, 0)) != 0 ||
	    key->subkeys == NULL || strlen(key->subkeys->fpr) > 64) {
		gb__reg_fail(e, "unknown_key", "cannot find the key of %s",
		    s->fpr);
		goto out;
	}
	strcpy(fpr, key->subkeys->fpr);
	rc = 0;
out:
	gpgme_key_unref(key);
	gpgme_data_release(dd);
	gpgme_data_release(ds);
	return rc;
}
