/* handlers_static: web/ is compiled in (tools/embed.py); a URL is looked
 * up in that table by exact string and nothing ever reaches the file
 * system, so `..`, encoded slashes and NUL tricks can only miss. */
#include <stdbool.h>
#include <string.h>

#include "embed.h"
#include "handlers.h"

/* Serves the compiled-in file at path, with its ETag; false if none. */
static bool serve_file(const struct req *rq, struct resp *rs, const char *path)
{
    for (int i = 0; i < web_file_count; i++) {
        const struct web_file *f = &web_files[i];
        if (strcmp(f->path, path))
            continue;
        resp_header(rs, "ETag", f->etag);
        resp_header(rs, "Cache-Control", "no-cache");
        resp_header(rs, "Content-Security-Policy",
                    "default-src 'self'; img-src 'self' data: blob:");
        if (rq->if_none_match && !strcmp(rq->if_none_match, f->etag)) {
            rs->status = 304;
            rs->body_static = true;
            rs->body = (char *)"";
            rs->len = 0;
            return true;
        }
        rs->status = 200;
        rs->content_type = f->type;
        rs->body = (char *)f->data;
        rs->len = f->len;
        rs->body_static = true;
        return true;
    }
    return false;
}

void handle_static(const struct req *rq, struct resp *rs)
{
    if (strcmp(rq->method, "GET") && strcmp(rq->method, "HEAD")) {
        resp_problem(rs, rq, 405, "method_not_allowed",
                     "static files are GET only");
        return;
    }
    const char *path = !strcmp(rq->path, "/index.html")  ? "/"
                       : !strcmp(rq->path, "/docs")      ? "/docs.html"
                       : !strcmp(rq->path, "/dashboard") ? "/dashboard.html"
                                                         : rq->path;
    if (!serve_file(rq, rs, path))
        resp_problem(rs, rq, 404, "not_found", "no such file");
}

/* docs/openapi.yaml, compiled in beside web/ (tools/embed.py). */
void handle_openapi(const struct req *rq, struct resp *rs)
{
    if (!serve_file(rq, rs, "/openapi.yaml"))
        resp_problem(rs, rq, 404, "not_found", "no document compiled in");
}
