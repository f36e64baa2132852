/* events: server-sent events for /v1/events. The worker publishes
 * (round started, progress, finished, failed; label counts); every
 * subscriber reads at its own pace from a ring of the last EVENTS_RING
 * events, so a slow or dead client never blocks the publisher and holds
 * no memory beyond the ring: one that falls behind skips to the newest
 * event (each event carries the whole status, so nothing is lost but
 * steps). A subscriber with nothing to read suspends its connection
 * (through callbacks from http.c, which alone knows MHD) under the hub's
 * lock, and the publisher resumes it under the same lock, so a resume
 * never reaches a connection that is not suspended.
 */
#pragma once
#include <stddef.h>
#include <stdint.h>

#define EVENTS_RING 64

typedef struct events events;
typedef struct event_sub event_sub;

events *events_new(void);
void events_free(events *h);
/* Appends "event: name / data: data" for every subscriber. */
void events_publish(events *h, const char *name, const char *data);
/* A comment line to every subscriber: writing it is what shows a dead
 * client (a suspended connection never notices a disconnect). */
void events_heartbeat(events *h);
/* Shutdown: every stream ends; later subscribers end at once. */
void events_close(events *h);

/* Ends the streams of token_id (revoked), each after the text it is
 * sending. */
void events_end_token(events *h, int64_t token_id);

/* A new subscriber, authorised by token_id, whose stream starts with
 * event `first_name` carrying `first_data` (the current state). NULL on
 * allocation failure. */
event_sub *events_subscribe(events *h, int64_t token_id, const char *first_name,
                            const char *first_data);
/* The stream_fn of its response (router.h): bytes, STREAM_END, or 0
 * after suspending through the attached callbacks. */
long events_read(void *sub, char *buf, size_t max);
/* Called by http.c with how to suspend and resume this connection. */
void events_attach(void *sub, void (*suspend)(void *), void (*resume)(void *),
                   void *handle);
/* The stream's free function. */
void events_unsubscribe(void *sub);
