/*
 * vsock-proxy's command line (vsockproxy.c), so that glassbox-parent can
 * stand in for aws-nitro-enclaves-cli's vsock-proxy.
 */
#ifndef GB_PARENT_VSOCKPROXY_H
#define GB_PARENT_VSOCKPROXY_H

#include <stdbool.h>

/* Whether argv is vsock-proxy's command line: the program is called
 * vsock-proxy (a link), or its first argument is "vsock-proxy". */
bool vsockproxy_mode(int argc, char **argv);

/*
 * Translates vsock-proxy's command line into glassbox-parent's options
 * (the new argv is the module's, kept until exit). Returns 0 with *argc
 * and *argv replaced; 1 when it printed the help (exit 0); -1 on a usage
 * error, with a message printed (exit 2).
 */
int vsockproxy_args(int argc, char **argv, int *outc, char ***outv);

#endif /* GB_PARENT_VSOCKPROXY_H */
