/* json: the only file that includes cJSON.h. Bounded parsing with the
 * traps of cJSON 1.7.15 closed (DEPS.md section 2): trailing garbage is
 * refused, keys match case-sensitively, duplicate keys and invalid UTF-8
 * are refused, numbers read as ids must be integral and below 2^53.
 * Trees are opaque `json *`; a parsed tree and every built tree is freed
 * with json_free (children belong to their parent). */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct json json;

/* Parses buf[0..len) (buf[len] must be '\0'). NULL on error, with a
 * message in err (offset included). Caller frees with json_free. */
json *json_parse(const char *buf, size_t len, char *err, size_t errlen);
void json_free(json *j);

bool json_is_object(const json *j);
bool json_is_array(const json *j);
bool json_is_string(const json *j);
bool json_is_number(const json *j);
bool json_is_null(const json *j);
bool json_is_bool(const json *j);
/* Member `key` of an object (case-sensitive), or NULL. Borrowed. */
json *json_get(const json *obj, const char *key);
/* String value or NULL (borrowed from the tree). */
const char *json_str(const json *j);
/* An integral number in [-2^53, 2^53] into *out; false otherwise. */
bool json_int(const json *j, int64_t *out);
double json_num(const json *j);
bool json_true(const json *j);
/* Array iteration: first element, then next; NULL at the end. */
json *json_first(const json *arr);
json *json_next(const json *item);
int json_size(const json *arr);
/* Name of an object member (for iterating an object's children). */
const char *json_key(const json *item);
/* Whether obj has a member not in allowed (NULL-terminated): then why
 * (n bytes) gets "unknown member 'NAME'", the message every refusal
 * gives. False when obj is not an object. The contract forbids other
 * members (additionalProperties: false), and a misspelt one ignored
 * would be worse: {"annotater": ...} would credit the token's name with
 * the label. */
bool json_unknown_why(const json *obj, const char *const *allowed, char *why,
                      size_t n);

/* Builders. Each returns the new node (owned by the parent once added). */
json *json_new_object(void);
json *json_new_array(void);
void json_set_str(json *obj, const char *key, const char *v); /* NULL: null */
void json_set_int(json *obj, const char *key, int64_t v);
void json_set_num(json *obj, const char *key, double v); /* NaN: null */
void json_set_bool(json *obj, const char *key, bool v);
void json_set_null(json *obj, const char *key);
void json_set(json *obj, const char *key, json *child);
void json_push(json *arr, json *item);
/* Compact text; caller frees with free(). NULL on allocation failure. */
char *json_print(const json *j);

/* An RFC 9457 problem body; caller frees with free(). errors may be NULL
 * (else it is consumed). */
char *json_problem(int status, const char *code, const char *detail,
                   const char *instance, json *errors);

/* True when s is valid UTF-8 with no control characters below 0x20. */
bool json_text_ok(const char *s, size_t max_len);
