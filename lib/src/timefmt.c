/*
 * Time parsing and formatting (see gb/timefmt.h). The civil-date arithmetic
 * is the usual era-based conversion, exact for every proleptic Gregorian date.
 */
#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "gb/attest.h"
#include "gb/err.h"
#include "gb/timefmt.h"

int64_t
gb_time_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t
gb_days_from_civil(int64_t y, int m, int d)
{
	int64_t era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static void
civil_from_days(int64_t z, int64_t *y, int *m, int *d)
{
	int64_t era, doe, yoe, doy, mp;

	z += 719468;
	era = (z >= 0 ? z : z - 146096) / 146097;
	doe = z - era * 146097;
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	*d = (int)(doy - (153 * mp + 2) / 5 + 1);
	*m = (int)(mp < 10 ? mp + 3 : mp - 9);
	*y = yoe + era * 400 + (*m <= 2);
}

/* Reads exactly n digits. */
static bool
digits(const char **s, int n, int *out)
{
	int v = 0;

	for (int i = 0; i < n; i++) {
		if (!isdigit((unsigned char)(*s)[i]))
			return false;
		v = v * 10 + ((*s)[i] - '0');
	}
	*s += n;
	*out = v;
	return true;
}

static bool
expect(const char **s, const char *any)
{
	if (**s == '\0' || strchr(any, **s) == NULL)
		return false;
	(*s)++;
	return true;
}

static bool
leap(int y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

int
gb_time_parse_rfc3339(const char *s, int64_t *ms)
{
	static const int mdays[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31,
	    30, 31 };
	int y, mo, d, h, mi, sec, frac = 0, oh = 0, om = 0, sign = 0;

	if (!digits(&s, 4, &y) || !expect(&s, "-") || !digits(&s, 2, &mo) ||
	    !expect(&s, "-") || !digits(&s, 2, &d) || !expect(&s, "Tt ") ||
	    !digits(&s, 2, &h) || !expect(&s, ":") || !digits(&s, 2, &mi) ||
	    !expect(&s, ":") || !digits(&s, 2, &sec))
		return GB_EINVAL;
	if (*s == '.') {
		int n = 0;

		s++;
		if (!isdigit((unsigned char)*s))
			return GB_EINVAL;
		for (; isdigit((unsigned char)*s); s++, n++)
			if (n < 3)
				frac = frac * 10 + (*s - '0');
		for (; n < 3; n++)
			frac *= 10;
	}
	if (*s == 'Z' || *s == 'z') {
		s++;
	} else if (*s == '+' || *s == '-') {
		sign = *s == '-' ? -1 : 1;
		s++;
		if (!digits(&s, 2, &oh) || !expect(&s, ":") ||
		    !digits(&s, 2, &om) || oh > 23 || om > 59)
			return GB_EINVAL;
	} else {
		return GB_EINVAL;
	}
	if (*s != '\0' || mo < 1 || mo > 12 || d < 1 ||
	    d > mdays[mo - 1] + (mo == 2 && leap(y)) || h > 23 || mi > 59 ||
	    sec > 60)
		return GB_EINVAL;
	if (sec == 60)          /* a leap second reads as the next second */
		sec = 59, frac = 999;
	*ms = ((gb_days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 +
	    sec - sign * (oh * 3600 + om * 60)) * 1000) + frac;
	return 0;
}

void
gb_time_format_rfc3339(int64_t ms, char *out, size_t outlen)
{
	int64_t s = ms >= 0 ? ms / 1000 : (ms - 999) / 1000;
	int64_t days = s >= 0 ? s / 86400 : (s - 86399) / 86400;
	int64_t rem = s - days * 86400, y;
	int m, d;

	civil_from_days(days, &y, &m, &d);
	snprintf(out, outlen, "%04lld-%02d-%02dT%02d:%02d:%02d.%03dZ",
	    (long long)y, m, d, (int)(rem / 3600), (int)(rem / 60 % 60),
	    (int)(rem % 60), (int)(ms - s * 1000));
}

int
gb_time_parse_at(const char *s, int64_t *ms)
{
	size_t n = strlen(s);
	int64_t v = 0;

	if (strcmp(s, "now") == 0) {
		*ms = gb_time_now_ms();
		return 0;
	}
	if (strcmp(s, "document") == 0) {
		*ms = GB_AT_DOCUMENT;
		return 0;
	}
	if (n > 0 && n <= 15 && strspn(s, "0123456789") == n) {
		for (size_t i = 0; i < n; i++)
			v = v * 10 + (s[i] - '0');
		*ms = v;
		return 0;
	}
	return gb_time_parse_rfc3339(s, ms);
}
