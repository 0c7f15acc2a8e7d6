/*
 * Internal to the HTTP server, and to its tests.
 */
#ifndef GB_HTTPD_INT_H
#define GB_HTTPD_INT_H

#include "gb/httpd.h"

#endif /* GB_HTTPD_INT_H */
