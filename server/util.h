/* util: clocks and small formatting helpers shared by server files. */
#pragma once
#include <stddef.h>
#include <stdint.h>

/* Wall-clock unix milliseconds (lease deadlines, created_at). */
int64_t util_now_ms(void);
/* Sleeps ms milliseconds (0: not at all); a signal may end it early. */
void util_sleep_ms(int ms);
/* Monotonic microseconds (durations). */
int64_t util_mono_us(void);
/* RFC 3339 UTC with milliseconds, e.g. 2026-11-26T23:59:01.123Z. */
void util_iso8601(int64_t ms, char *out, size_t n);
/* Lower-case hex of n bytes into out (2n + 1 chars). */
void util_hex(const uint8_t *p, size_t n, char *out);
/* Parses a decimal int64 in [lo, hi] that is the whole string. */
int util_parse_i64(const char *s, int64_t lo, int64_t hi, int64_t *out);
/* n cryptographically random bytes (getrandom); 0 or ARAL_EIO. */
int util_random(void *buf, size_t n);
