/* json: cJSON behind a small typed interface. */
#include "json.h"

#include <cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define AS(j) ((cJSON *)(j))
#define MAX_SAFE 9007199254740992.0 /* 2^53 */

static bool has_duplicate_keys(const cJSON *j, int depth)
{
    if (depth > 64)
        return true; /* deeper than any body we accept */
    for (const cJSON *a = j->child; a; a = a->next) {
        if (cJSON_IsObject(j))
            for (const cJSON *b = a->next; b; b = b->next)
                if (!strcmp(a->string, b->string))
                    return true;
        if (a->child && has_duplicate_keys(a, depth + 1))
            return true;
    }
    return false;
}

static bool strings_ok(const cJSON *j)
{
    for (const cJSON *a = j->child; a; a = a->next) {
        if (a->string && !json_text_ok(a->string, 1 << 20))
            return false;
        if (cJSON_IsString(a) && !json_text_ok(a->valuestring, 1 << 30))
            return false;
        if (a->child && !strings_ok(a))
            return false;
    }
    return true;
}

/* Whether a string holds the escape \u0000. cJSON decodes it to a NUL
 * that ends the C string early, so "a\u0000junk" would read as "a" and
 * pass every later check. Backslashes occur only inside strings, and
 * skipping each escaped character keeps "\\u0000" (a backslash, then
 * the text u0000) legal. */
static bool has_nul_escape(const char *buf, size_t len)
{
    const char *end = buf + len;
    /* memchr: a body of base64 images has no backslash to stop at */
    for (const char *p = memchr(buf, '\\', len); p && end - p >= 2;
         p = memchr(p + 2, '\\', (size_t)(end - p - 2))) {
        if (p[1] == 'u' && end - p >= 6 && !memcmp(p + 2, "0000", 4))
            return true;
    } /* p + 2: the escaped character is skipped */
    return false;
}

json *json_parse(const char *buf, size_t len, char *err, size_t errlen)
{
    const char *end = NULL;
    if (len == 0) {
        snprintf(err, errlen, "empty body");
        return NULL;
    }
    if (memchr(buf, 0, len)) {
        snprintf(err, errlen, "body contains a NUL byte");
        return NULL;
    }
    /* len + 1 with the NUL: require_null_terminated then refuses any
     * trailing garbage (ParseWithLength alone accepts it). */
    cJSON *j = cJSON_ParseWithLengthOpts(buf, len + 1, &end, 1);
    if (!j) {
        snprintf(err, errlen, "malformed JSON at byte %ld",
                 end ? (long)(end - buf) : 0L);
        return NULL;
    }
    if (has_duplicate_keys(j, 0)) {
        snprintf(err, errlen, "duplicate object key or nesting too deep");
        cJSON_Delete(j);
        return NULL;
    }
    if ((cJSON_IsString(j) && !json_text_ok(j->valuestring, 1 << 30)) ||
        !strings_ok(j) || has_nul_escape(buf, len)) {
        snprintf(err, errlen, "invalid UTF-8 or control character in a string");
        cJSON_Delete(j);
        return NULL;
    }
    return (json *)j;
}

void json_free(json *j)
{
    cJSON_Delete(AS(j));
}

bool json_is_object(const json *j)
{
    return j && cJSON_IsObject(AS(j));
}
bool json_is_array(const json *j)
{
    return j && cJSON_IsArray(AS(j));
}
bool json_is_string(const json *j)
{
    return j && cJSON_IsString(AS(j));
}
bool json_is_number(const json *j)
{
    return j && cJSON_IsNumber(AS(j));
}
bool json_is_null(const json *j)
{
    return j && cJSON_IsNull(AS(j));
}
bool json_is_bool(const json *j)
{
    return j && cJSON_IsBool(AS(j));
}
bool json_true(const json *j)
{
    return j && cJSON_IsTrue(AS(j));
}

json *json_get(const json *obj, const char *key)
{
    if (!json_is_object(obj))
        return NULL;
    return (json *)cJSON_GetObjectItemCaseSensitive(AS(obj), key);
}

const char *json_str(const json *j)
{
    return json_is_string(j) ? AS(j)->valuestring : NULL;
}

bool json_int(const json *j, int64_t *out)
{
    if (!json_is_number(j))
        return false;
    double d = AS(j)->valuedouble;
    if (!isfinite(d) || d != floor(d) || fabs(d) > MAX_SAFE)
        return false;
    *out = (int64_t)d;
    return true;
}

double json_num(const json *j)
{
    return json_is_number(j) ? AS(j)->valuedouble : NAN;
}

/* The first member name of obj not in allowed, or NULL. */
static const char *json_unknown_key(const json *obj, const char *const *allowed)
{
    if (!json_is_object(obj)) /* an array's members have no names */
        return NULL;
    for (const json *m = json_first(obj); m; m = json_next(m)) {
        const char *const *a = allowed;
        while (*a && strcmp(*a, json_key(m)))
            a++;
        if (!*a)
            return json_key(m);
    }
    return NULL;
}

bool json_unknown_why(const json *obj, const char *const *allowed, char *why,
                      size_t n)
{
    const char *bad = json_unknown_key(obj, allowed);
    if (bad)
        snprintf(why, n, "unknown member '%.64s'", bad);
    return bad != NULL;
}

json *json_first(const json *arr)
{
    return arr ? (json *)AS(arr)->child : NULL;
}

json *json_next(const json *item)
{
    return item ? (json *)AS(item)->next : NULL;
}

int json_size(const json *arr)
{
    return arr ? cJSON_GetArraySize(AS(arr)) : 0;
}

const char *json_key(const json *item)
{
    return item ? AS(item)->string : NULL;
}

json *json_new_object(void)
{
    return (json *)cJSON_CreateObject();
}
json *json_new_array(void)
{
    return (json *)cJSON_CreateArray();
}

void json_set_str(json *obj, const char *key, const char *v)
{
    if (v)
        cJSON_AddStringToObject(AS(obj), key, v);
    else
        cJSON_AddNullToObject(AS(obj), key);
}

void json_set_int(json *obj, const char *key, int64_t v)
{
    /* Ids stay below 2^53, where a double is exact and cJSON prints all
     * digits; print through Raw so large values never go to %1.15g. */
    char buf[32];
    snprintf(buf, sizeof(buf), "%lld", (long long)v);
    cJSON_AddRawToObject(AS(obj), key, buf);
}

void json_set_num(json *obj, const char *key, double v)
{
    if (!isfinite(v)) {
        cJSON_AddNullToObject(AS(obj), key);
        return;
    }
    char buf[32];
    snprintf(buf, sizeof(buf), "%.6g", v);
    cJSON_AddRawToObject(AS(obj), key, buf);
}

void json_set_bool(json *obj, const char *key, bool v)
{
    cJSON_AddBoolToObject(AS(obj), key, v);
}

void json_set_null(json *obj, const char *key)
{
    cJSON_AddNullToObject(AS(obj), key);
}

void json_set(json *obj, const char *key, json *child)
{
    cJSON_AddItemToObject(AS(obj), key, AS(child));
}

void json_push(json *arr, json *item)
{
    cJSON_AddItemToArray(AS(arr), AS(item));
}

char *json_print(const json *j)
{
    return cJSON_PrintUnformatted(AS(j));
}

static const char *status_title(int status)
{
    switch (status) {
    case 400:
        return "Bad Request";
    case 401:
        return "Unauthorized";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 409:
        return "Conflict";
    case 413:
        return "Content Too Large";
    case 415:
        return "Unsupported Media Type";
    case 422:
        return "Unprocessable Content";
    case 429:
        return "Too Many Requests";
    case 503:
        return "Service Unavailable";
    default:
        return status >= 500 ? "Internal Server Error" : "Error";
    }
}

char *json_problem(int status, const char *code, const char *detail,
                   const char *instance, json *errors)
{
    json *p = json_new_object();
    char type[96];
    snprintf(type, sizeof(type), "https://arald.invalid/problems/%s", code);
    json_set_str(p, "type", type);
    json_set_str(p, "title", status_title(status));
    json_set_int(p, "status", status);
    json_set_str(p, "detail", detail);
    json_set_str(p, "instance", instance);
    json_set_str(p, "code", code);
    json_set(p, "errors", errors ? errors : json_new_array());
    char *s = json_print(p);
    json_free(p);
    return s;
}

bool json_text_ok(const char *s, size_t max_len)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t n = 0;
    while (*p) {
        if (++n > max_len)
            return false;
        unsigned c = *p;
        int extra = c < 0x80             ? 0
                    : (c & 0xe0) == 0xc0 ? 1
                    : (c & 0xf0) == 0xe0 ? 2
                    : (c & 0xf8) == 0xf0 ? 3
                                         : -1;
        if (extra < 0 || (c < 0x20) || (c == 0xc0 || c == 0xc1) || c > 0xf4)
            return false;
        p++;
        for (int i = 0; i < extra; i++, p++)
            if ((*p & 0xc0) != 0x80)
                return false;
    }
    return true;
}
