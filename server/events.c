#include "events.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "router.h" /* STREAM_END */

struct event_sub {
    events *hub;
    event_sub *next;
    uint64_t cursor; /* the next event to send */
    char *pending;   /* the first state or a heartbeat, before events */
    size_t sent;     /* bytes of the current text already sent */
    bool waiting;    /* suspended until resumed */
    bool ended;      /* its token was revoked: ends after the current text */
    int64_t token_id;
    void (*suspend)(void *), (*resume)(void *);
    void *handle;
};

struct events {
    pthread_mutex_t mu;
    char *ring[EVENTS_RING];
    uint64_t seq; /* events published; event k is ring[k % RING] */
    event_sub *subs;
    bool closed;
};

static char *format(const char *name, const char *data)
{
    size_t n = strlen(name) + strlen(data) + 20;
    char *s = malloc(n);
    if (s)
        snprintf(s, n, "event: %s\ndata: %s\n\n", name, data);
    return s;
}

events *events_new(void)
{
    events *h = calloc(1, sizeof(*h));
    if (h)
        pthread_mutex_init(&h->mu, NULL);
    return h;
}

void events_free(events *h)
{
    if (!h)
        return;
    for (int i = 0; i < EVENTS_RING; i++)
        free(h->ring[i]);
    pthread_mutex_destroy(&h->mu);
    free(h);
}

/* Under mu: every suspended subscriber goes on. */
static void wake_all(events *h)
{
    for (event_sub *s = h->subs; s; s = s->next)
        if (s->waiting) {
            s->waiting = false;
            s->resume(s->handle);
        }
}

void events_publish(events *h, const char *name, const char *data)
{
    char *text = format(name, data);
    if (!h || !text) {
        free(text);
        return;
    }
    pthread_mutex_lock(&h->mu);
    char **slot = &h->ring[h->seq % EVENTS_RING];
    free(*slot);
    *slot = text;
    h->seq++;
    wake_all(h);
    pthread_mutex_unlock(&h->mu);
}

void events_heartbeat(events *h)
{
    pthread_mutex_lock(&h->mu);
    for (event_sub *s = h->subs; s; s = s->next)
        if (!s->pending && s->waiting)
            s->pending = strdup(": ping\n\n");
    wake_all(h);
    pthread_mutex_unlock(&h->mu);
}

void events_close(events *h)
{
    pthread_mutex_lock(&h->mu);
    h->closed = true;
    wake_all(h);
    pthread_mutex_unlock(&h->mu);
}

void events_end_token(events *h, int64_t token_id)
{
    pthread_mutex_lock(&h->mu);
    for (event_sub *s = h->subs; s; s = s->next)
        if (s->token_id == token_id && !s->ended) {
            s->ended = true;
            if (s->waiting) {
                s->waiting = false;
                s->resume(s->handle);
            }
        }
    pthread_mutex_unlock(&h->mu);
}

event_sub *events_subscribe(events *h, int64_t token_id, const char *first_name,
                            const char *first_data)
{
    event_sub *s = calloc(1, sizeof(*s));
    if (!s || !(s->pending = format(first_name, first_data))) {
        free(s);
        return NULL;
    }
    s->hub = h;
    s->token_id = token_id;
    pthread_mutex_lock(&h->mu);
    s->cursor = h->seq; /* the state it starts with covers the past */
    s->next = h->subs;
    h->subs = s;
    pthread_mutex_unlock(&h->mu);
    return s;
}

void events_attach(void *sub, void (*suspend)(void *), void (*resume)(void *),
                   void *handle)
{
    event_sub *s = sub;
    pthread_mutex_lock(&s->hub->mu);
    s->suspend = suspend, s->resume = resume, s->handle = handle;
    pthread_mutex_unlock(&s->hub->mu);
}

/* Copies what is left of text from s->sent on; true when all of it went. */
static bool copy_out(event_sub *s, const char *text, char *buf, size_t max,
                     long *n)
{
    size_t left = strlen(text) - s->sent;
    size_t k = left < max ? left : max;
    memcpy(buf, text + s->sent, k);
    *n = (long)k;
    s->sent += k;
    if (s->sent < strlen(text))
        return false;
    s->sent = 0;
    return true;
}

/* Under mu: the next text to send, or NULL. */
static const char *next_text(event_sub *s)
{
    events *h = s->hub;
    if (s->pending)
        return s->pending;
    if (s->cursor >= h->seq)
        return NULL;
    if (h->seq - s->cursor > EVENTS_RING) { /* fell behind: the newest */
        s->cursor = h->seq - 1;
        s->sent = 0;
    }
    return h->ring[s->cursor % EVENTS_RING];
}

long events_read(void *sub, char *buf, size_t max)
{
    event_sub *s = sub;
    long n = 0;
    pthread_mutex_lock(&s->hub->mu);
    bool cut = s->ended && s->sent == 0; /* never inside an event */
    const char *text = cut ? NULL : next_text(s);
    if (cut) {
        n = STREAM_END;
    } else if (text && copy_out(s, text, buf, max, &n)) {
        if (s->pending) {
            free(s->pending);
            s->pending = NULL;
        } else {
            s->cursor++;
        }
    } else if (!text && s->hub->closed) {
        n = STREAM_END;
    } else if (!text && s->suspend) {
        s->waiting = true;
        s->suspend(s->handle);
    }
    pthread_mutex_unlock(&s->hub->mu);
    return n;
}

void events_unsubscribe(void *sub)
{
    event_sub *s = sub;
    events *h = s->hub;
    pthread_mutex_lock(&h->mu);
    for (event_sub **p = &h->subs; *p; p = &(*p)->next)
        if (*p == s) {
            *p = s->next;
            break;
        }
    pthread_mutex_unlock(&h->mu);
    free(s->pending);
    free(s);
}
