/* http: the only file that includes microhttpd.h. Starts the MHD thread
 * pool, accumulates bodies under a size limit, turns each request into a
 * struct req for the router and the struct resp back into a response. */
#pragma once
#include <stddef.h>

#include "app.h"

typedef struct http_server http_server;

/* Binds cfg.bind:cfg.port (port 0: any free port) and starts serving.
 * NULL with a reason in err on failure. Caller stops with http_stop. */
http_server *http_start(struct app *a, char *err, size_t n);
/* The port actually bound. */
int http_port(const http_server *h);
/* Stops accepting, finishes the requests in flight, joins the threads. */
void http_stop(http_server *h);
