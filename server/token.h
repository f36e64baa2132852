/* token: bearer tokens, as `arald token` and /v1/tokens make them: "arl_"
 * and 48 hex digits of randomness, of which the database keeps only the
 * SHA-256 (handlers_tokens.c). */
#pragma once
#include <stdbool.h>
#include <stdint.h>

#define TOKEN_TEXT_MAX 64

bool token_role_ok(const char *role);
/* 1-63 bytes of UTF-8 text without control characters. */
bool token_name_ok(const char *name);
/* A new secret and its hash; ARAL_EIO when there is no randomness. */
int token_new(char text[TOKEN_TEXT_MAX], uint8_t hash[32]);
