/* worker: the retrain worker thread. It owns the ARAL model and every
 * BLAS call in the process; HTTP threads only read its status.
 *
 * A round: read the whole database in one snapshot (no write lock),
 * train round_iters iterations warm-started from the last model, score
 * every pool sample, evaluate on the eval split, then store model,
 * ranking and round in one transaction and publish the ranking through
 * app_publish_read (samples imported meanwhile follow its order, as after
 * any import). Labels that arrive meanwhile stay labeled: the lease
 * table skips them, and they count toward the next round. A round that
 * fails or is stopped publishes nothing and is recorded with its reason;
 * the model goes back to the last stored checkpoint.
 *
 * Events (events.h): round_started, round_progress (at most 4 a second),
 * round_finished, round_failed, labels (when the count changed, at most
 * 4 a second), and a heartbeat comment every 15 s.
 *
 * Triggers: retrain_every labels since the model, worker_retrain, and at
 * start when labels exist but no model does (min_labels of 2 classes at
 * least before any model). Until then the pool is served in the order of
 * the label-free start (typical members of clusters of the inputs;
 * start_strategy), computed at start and once an import settles, or at
 * random.
 */
#pragma once
#include <stdbool.h>
#include <stdint.h>

#include "aral.h"
#include "json.h"

struct app;
typedef struct worker worker;

typedef struct worker_status {
    char state[12];        /* idle, training, scoring */
    int64_t model_version; /* -1: none */
    int64_t round;         /* running or last run, 0: none */
    int iteration, iterations_total;
    double eta_seconds; /* < 0: unknown */
    bool has_losses;
    aral_losses losses;      /* of the last iteration */
    int64_t labels_at_model; /* labels the model was trained on */
    double eval_accuracy;    /* of the model; < 0: no eval split */
    int64_t rounds_total;    /* published since start */
    double round_seconds[5]; /* the last published round, by phase */
    char last_error[300];    /* why the last round did not publish */
} worker_status;

/* Loads the newest stored model and serves its ranking, then starts the
 * thread. NULL with a reason in err. */
worker *worker_start(struct app *a, char *err, size_t n);
/* Stops a running round (within a second) and joins the thread. */
void worker_stop(worker *w);
/* Labels changed: look at the triggers again. */
void worker_poke(worker *w);
/* Asks for a round now: 0, or ARAL_EBUSY while one runs. The round runs
 * under the caller's fault plan (tests; fault.h). */
int worker_retrain(worker *w);
void worker_status_get(worker *w, worker_status *out);
/* The status as JSON (the fields /v1/model and /v1/events share, API.md),
 * with the snapshot it was made of in *s; caller frees with json_free. */
json *worker_status_json(worker *w, worker_status *s);
/* The same as the data of an event; caller frees. NULL on allocation
 * failure. */
char *worker_event_data(worker *w);
