/*
 * The glassbox subcommands. Each takes argv from its own name on and returns
 * the process exit status: 0 success, 1 a negative answer (a rejected
 * document), 2 usage or I/O error.
 */
#ifndef GB_CLI_H
#define GB_CLI_H

#define GB_VERSION "0.1.0"

int cmd_verify(int argc, char **argv);
int cmd_check_verdict(int argc, char **argv);
int cmd_registry(int argc, char **argv);
int cmd_eif(int argc, char **argv);
int cmd_kms_policy(int argc, char **argv);
int cmd_witness(int argc, char **argv);

#endif /* GB_CLI_H */
