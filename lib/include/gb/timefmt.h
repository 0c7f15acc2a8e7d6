/*
 * Times as Glassbox uses them: int64_t milliseconds since the Unix epoch,
 * UTC, parsed from and printed as RFC 3339.
 */
#ifndef GB_TIMEFMT_H
#define GB_TIMEFMT_H

#include <stddef.h>
#include <stdint.h>

/* The real-time clock in ms. */
int64_t gb_time_now_ms(void);

/* Days from 1970-01-01 to a proleptic Gregorian date (m 1..12, d 1..31). */
int64_t gb_days_from_civil(int64_t y, int m, int d);

/*
 * Parses "YYYY-MM-DDTHH:MM:SS[.fraction](Z|+HH:MM|-HH:MM)" (RFC 3339 5.6;
 * 't', 'z' and a space for 'T' accepted; the fraction is cut to ms). Returns
 * 0 and *ms, or GB_EINVAL.
 */
int gb_time_parse_rfc3339(const char *s, int64_t *ms);

/* Formats ms as "YYYY-MM-DDTHH:MM:SS.mmmZ" into out (at least 32 bytes). */
void gb_time_format_rfc3339(int64_t ms, char *out, size_t outlen);

/* A --at argument: "now", "document" (GB_AT_DOCUMENT), digits of ms, or
 * RFC 3339. Returns 0 and *ms, or GB_EINVAL. */
int gb_time_parse_at(const char *s, int64_t *ms);

#endif /* GB_TIMEFMT_H */
