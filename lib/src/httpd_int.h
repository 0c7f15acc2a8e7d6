/*
 * Internal to the HTTP server, and to its fuzz target.
 */
#ifndef GB_HTTPD_INT_H
#define GB_HTTPD_INT_H

#include "gb/httpd.h"

/* Reads one request from fd, answers it (through o->handler), returns;
 * the caller closes fd. */
void gb__httpd_serve(const struct gb_httpd_opts *o, int fd);

#endif /* GB_HTTPD_INT_H */
