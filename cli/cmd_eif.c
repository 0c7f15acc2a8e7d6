/*
 * glassbox eif measure|build: an enclave image's PCRs from the file itself
 * (gb/eif.h), and small synthetic images for tests and demos.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "gb/codec.h"
#include "gb/eif.h"
#include "gb/err.h"

static const char usage_text[] =
"usage: glassbox eif measure [--json] [--check-signature] FILE.eif\n"
"       glassbox eif build --kernel FILE --cmdline TEXT --ramdisk FILE...\n"
"                          [--metadata FILE] [--sign-cert PEM --sign-key PEM]\n"
"                          --output FILE.eif\n"
"\n"
"measure  checks the header, every section size and the CRC, computes\n"
"         PCR0, PCR1, PCR2 (and PCR8 of a signed image) in one pass over\n"
"         the file, and checks a signed image's COSE_Sign1 over PCR0 with\n"
"         the certificate it carries. --json prints what nitro-cli\n"
"         describe-eif prints for the image, field for field.\n"
"         --check-signature also fails (exit 1) an image that is unsigned\n"
"         or whose signature does not check.\n"
"build    writes a small synthetic image from the given parts, for tests\n"
"         and demos: it has the EIF layout but is NOT a bootable image.\n"
"\n"
"Problems are reported on stderr as \"glassbox eif: FILE: REASON: text\",\n"
"REASON one of bad_eif, crc_mismatch, bad_signature, unsigned (and the\n"
"note metadata_not_described, which does not change the exit status).\n"
"Exit status: 0 done (measure: the CRC matches; with --check-signature,\n"
"the signature checks too), 1 a malformed image, a CRC mismatch or (with\n"
"--check-signature) a signature that does not check, 2 usage or I/O error.\n";

static int
usage_error(const char *what)
{
	fprintf(stderr, "glassbox eif: %s\n%s", what, usage_text);
	return 2;
}

static void
hex48(char out[97], const uint8_t v[48])
{
	gb_hex_encode(out, v, 48);
}

static int
measure(int argc, char **argv)
{
	bool json = false, check_sig = false;
	const char *path;
	struct gb_eif e;
	char note[200] = "";
	int err, rc = 0;

	for (int i = 1; i < argc - 1; i++)
		if (strcmp(argv[i], "--json") == 0)
			json = true;
		else if (strcmp(argv[i], "--check-signature") == 0)
			check_sig = true;
		else
			return usage_error("measure takes --json, "
			    "--check-signature and a file");
	if (argc < 2 || argv[argc - 1][0] == '-')
		return usage_error("measure needs a file");
	path = argv[argc - 1];
	err = gb_eif_measure_file(path, &e);
	if (err != 0) {
		if (e.error[0] && err == GB_EINVAL) {
			fprintf(stderr, "glassbox eif: %s: bad_eif: %s\n", path,
			    e.error);
			return 1;
		}
		fprintf(stderr, "glassbox eif: %s: %s\n", path,
		    e.error[0] ? e.error : gb_strerror(err));
		return 2;
	}
	if (json) {
		char *text;
		size_t len;

		if ((err = gb_eif_describe(&e, &text, &len, note,
		    sizeof note)) != 0) {
			fprintf(stderr, "glassbox eif: %s: cannot describe it: "
			    "%s\n", path, gb_strerror(err));
			gb_eif_free(&e);
			return 2;
		}
		fwrite(text, 1, len, stdout);
		free(text);
		if (note[0] != '\0')
			fprintf(stderr, "glassbox eif: %s: "
			    "metadata_not_described: %s (nitro-cli describe-eif "
			    "stops with an error on this image)\n", path, note);
	} else {
		char p[97];

		printf("EIF version %u, %u sections, CRC %s\n", e.version,
		    e.nsections, e.crc_ok ? "ok" : "MISMATCH");
		hex48(p, e.pcr0), printf("PCR0  %s\n", p);
		hex48(p, e.pcr1), printf("PCR1  %s\n", p);
		hex48(p, e.pcr2), printf("PCR2  %s\n", p);
		if (e.is_signed) {
			hex48(p, e.pcr8), printf("PCR8  %s\n", p);
			printf("signature %s\n", e.sig_ok ? "ok" : "BAD");
		} else {
			printf("unsigned\n");
		}
		if (e.stale_sizes > 0)
			printf("the header's size table is stale for the "
			    "signature section (a re-signed image)\n");
	}
	if (!e.crc_ok) {
		fprintf(stderr, "glassbox eif: %s: crc_mismatch: CRC mismatch: "
		    "the file says %08x, its contents give %08x\n", path,
		    e.crc_stored, e.crc_computed);
		rc = 1;
	}
	if (e.is_signed && !e.sig_ok) {
		fprintf(stderr, "glassbox eif: %s: bad_signature: %s\n", path,
		    e.sig_error);
		if (check_sig)
			rc = 1;
	}
	if (!e.is_signed && check_sig) {
		fprintf(stderr, "glassbox eif: %s: unsigned: the image has no "
		    "signature section\n", path);
		rc = 1;
	}
	gb_eif_free(&e);
	return rc;
}

static int
build(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "kernel", required_argument, NULL, 'k' },
		{ "cmdline", required_argument, NULL, 'c' },
		{ "ramdisk", required_argument, NULL, 'r' },
		{ "metadata", required_argument, NULL, 'm' },
		{ "sign-cert", required_argument, NULL, 's' },
		{ "sign-key", required_argument, NULL, 'K' },
		{ "output", required_argument, NULL, 'o' },
		{ NULL, 0, NULL, 0 },
	};
	const char *kernel = NULL, *cmdline = NULL, *meta = NULL, *out = NULL;
	const char *cert = NULL, *key = NULL, *rd[GB_EIF_MAX_SECTIONS];
	struct gb_eif_part parts[GB_EIF_MAX_SECTIONS], kp = { NULL, 0 };
	struct gb_eif_part mp = { "{}", 2 }, sp = { NULL, 0 };
	uint8_t *bufs[GB_EIF_MAX_SECTIONS + 4] = { NULL };
	size_t nrd = 0, nb = 0, len;
	int c, rc = 2;

	optind = 1;
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
		case 'k': kernel = optarg; break;
		case 'c': cmdline = optarg; break;
		case 'm': meta = optarg; break;
		case 's': cert = optarg; break;
		case 'K': key = optarg; break;
		case 'o': out = optarg; break;
		case 'r':
			if (nrd == GB_EIF_MAX_SECTIONS - 5)
				return usage_error("too many ramdisks");
			rd[nrd++] = optarg;
			break;
		default:
			return usage_error("unknown option");
		}
	}
	if (kernel == NULL || cmdline == NULL || nrd == 0 || out == NULL ||
	    optind != argc || (cert == NULL) != (key == NULL))
		return usage_error("build needs --kernel, --cmdline, "
		    "--ramdisk and --output (--sign-cert with --sign-key)");
#define LOAD(path, part) do {                                               \
	if (gb_read_file(path, (size_t)1 << 34, &bufs[nb], &len) != 0) {    \
		fprintf(stderr, "glassbox eif: cannot read %s\n", path);    \
		goto out;                                                   \
	}                                                                   \
	(part) = (struct gb_eif_part){ bufs[nb++], len };                   \
} while (0)
	LOAD(kernel, kp);
	if (meta != NULL)
		LOAD(meta, mp);
	for (size_t i = 0; i < nrd; i++)
		LOAD(rd[i], parts[i]);
	if (cert != NULL) {
		struct gb_eif_part cp, keyp;
		struct gb_eif e;
		uint8_t *sig;

		LOAD(cert, cp);
		LOAD(key, keyp);
		/* PCR0 of the image without its signature, which it signs. */
		if (gb_eif_build(out, kp, (struct gb_eif_part){ cmdline,
		    strlen(cmdline) }, mp, parts, nrd, sp) != 0 ||
		    gb_eif_measure_file(out, &e) != 0) {
			fprintf(stderr, "glassbox eif: cannot write %s\n", out);
			goto out;
		}
		gb_eif_free(&e);
		if (gb_eif_signature_section((const char *)cp.data,
		    (const char *)keyp.data, e.pcr0, &sig, &len) != 0) {
			fprintf(stderr, "glassbox eif: cannot sign with %s and "
			    "%s (a PEM certificate and its P-384 key)\n", cert,
			    key);
			goto out;
		}
		bufs[nb++] = sig;
		sp = (struct gb_eif_part){ sig, len };
	}
#undef LOAD
	if (gb_eif_build(out, kp, (struct gb_eif_part){ cmdline,
	    strlen(cmdline) }, mp, parts, nrd, sp) != 0) {
		fprintf(stderr, "glassbox eif: cannot write %s\n", out);
		goto out;
	}
	printf("wrote %s (synthetic, not bootable)\n", out);
	rc = 0;
out:
	for (size_t i = 0; i < nb; i++)
		free(bufs[i]);
	return rc;
}

int
cmd_eif(int argc, char **argv)
{
	if (argc >= 2 && (strcmp(argv[1], "--help") == 0 ||
	    strcmp(argv[1], "-h") == 0)) {
		fputs(usage_text, stdout);
		return 0;
	}
	if (argc >= 2 && strcmp(argv[1], "measure") == 0)
		return measure(argc - 1, argv + 1);
	if (argc >= 2 && strcmp(argv[1], "build") == 0)
		return build(argc - 1, argv + 1);
	return usage_error("measure or build?");
}
