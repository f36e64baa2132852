/* embed: files compiled into arald by tools/embed.py (schema/ and web/). */
#pragma once
#include <stddef.h>

struct migration {
    int version;     /* the NNNN of schema/NNNN_name.sql */
    const char *sql; /* NUL-terminated */
};
extern const struct migration schema_migrations[]; /* ascending version */
extern const int schema_migration_count;

struct web_file {
    const char *path; /* URL path: "/" for index.html, else "/name" */
    const char *type; /* Content-Type */
    const unsigned char *data;
    size_t len;
    const char *etag; /* quoted strong ETag */
};
extern const struct web_file web_files[];
extern const int web_file_count;
