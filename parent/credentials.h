/*
 * The parent's service for the enclave (credentials.c): the instance
 * role's temporary credentials from IMDSv2, and the store of the enclave's
 * sealed key blob.
 */
#ifndef GB_PARENT_CREDENTIALS_H
#define GB_PARENT_CREDENTIALS_H

#include <stdbool.h>

#define CREDENTIALS_USAGE \
"  --credentials LISTEN serve the enclave (vsock:PORT in production;\n" \
"                       unix:/path or tcp:HOST:PORT in tests):\n" \
"                       GET /credentials, the instance role's credentials\n" \
"                       from IMDSv2, refreshed 5 minutes before they\n" \
"                       expire (never logged or written); GET/POST /sealed\n" \
"                       with --sealed-file (docs/enclave.md)\n" \
"  --imds URL           the instance metadata service (default\n" \
"                       http://169.254.169.254)\n" \
"  --sealed-file FILE   where the enclave's sealed key blob is kept (the\n" \
"                       one before a replacement as FILE.prev); these\n" \
"                       three are flags only, not --config lines\n"

/* Takes a long option by name if it is one of the above: returns 0
 * (taken), 1 (not ours) or -1 (bad value, message printed). */
int credentials_option(const char *name, const char *arg);

/* Whether --credentials was given. */
bool credentials_enabled(void);

/* Opens the listener and starts serving; prints "credentials on ADDR".
 * Returns 0 or -1 (message printed). */
int credentials_start(void);
void credentials_stop(void);

#endif /* GB_PARENT_CREDENTIALS_H */
