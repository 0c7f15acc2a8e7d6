/*
 * glassbox: the command-line tool of release managers and auditors. main()
 * only dispatches; each subcommand lives in its own cmd_*.c and is a thin
 * wrapper over lib/.
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"

static const struct {
	const char *name;
	int (*run)(int argc, char **argv);
	const char *summary;
} commands[] = {
	{ "verify", cmd_verify, "verify a Nitro attestation document" },
	{ "check-verdict", cmd_check_verdict, "check offline a verdict the "
	    "verifier signed" },
	{ "registry", cmd_registry, "the release registry and its log" },
	{ "eif", cmd_eif, "measure (or build) an enclave image file" },
	{ "kms-policy", cmd_kms_policy, "a KMS key policy trusting "
	    "releases' PCRs" },
	{ "witness", cmd_witness, "a C2SP tlog-witness that cosigns logs' "
	    "checkpoints" },
};

static void
usage(FILE *f)
{
	fprintf(f, "usage: glassbox COMMAND [OPTIONS] ...\n\ncommands:\n");
	for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
		fprintf(f, "  %-13s %s\n", commands[i].name, commands[i].summary);
	fprintf(f, "\n'glassbox COMMAND --help' describes a command.\n");
}

int
main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		usage(stdout);
		return 0;
	}
	if (strcmp(argv[1], "--version") == 0) {
		printf("glassbox %s\n", GB_VERSION);
		return 0;
	}
	for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
		if (strcmp(argv[1], commands[i].name) == 0)
			return commands[i].run(argc - 1, argv + 1);
	fprintf(stderr, "glassbox: unknown command '%s'\n", argv[1]);
	usage(stderr);
	return 2;
}
