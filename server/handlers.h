/* handlers: one plain function per route (see router.c for the table). */
#pragma once
#include "router.h"

typedef void (*handler_fn)(const struct req *rq, struct resp *rs);

void handle_health(const struct req *rq, struct resp *rs);
void handle_ready(const struct req *rq, struct resp *rs);
void handle_version(const struct req *rq, struct resp *rs);
void handle_metrics(const struct req *rq, struct resp *rs);
void handle_project(const struct req *rq, struct resp *rs);

void handle_samples_list(const struct req *rq, struct resp *rs);
void handle_sample_get(const struct req *rq, struct resp *rs);
void handle_sample_image(const struct req *rq, struct resp *rs);
void handle_samples_post(const struct req *rq, struct resp *rs);

void handle_leases_post(const struct req *rq, struct resp *rs);
void handle_lease_delete(const struct req *rq, struct resp *rs);
void handle_queue(const struct req *rq, struct resp *rs);

void handle_labels_post(const struct req *rq, struct resp *rs);
void handle_label_undo(const struct req *rq, struct resp *rs);
void handle_labels_list(const struct req *rq, struct resp *rs);
void handle_export(const struct req *rq, struct resp *rs);
void handle_stats(const struct req *rq, struct resp *rs);

void handle_static(const struct req *rq, struct resp *rs);
void handle_openapi(const struct req *rq, struct resp *rs);

void handle_model(const struct req *rq, struct resp *rs);
void handle_model_retrain(const struct req *rq, struct resp *rs);
void handle_rounds(const struct req *rq, struct resp *rs);
void handle_round(const struct req *rq, struct resp *rs);
void handle_events(const struct req *rq, struct resp *rs);

void handle_me(const struct req *rq, struct resp *rs);
void handle_tokens_list(const struct req *rq, struct resp *rs);
void handle_tokens_post(const struct req *rq, struct resp *rs);
void handle_token_delete(const struct req *rq, struct resp *rs);
