/* arald: the command line. `serve` runs the daemon; init, import, token
 * and backup work on the database file directly.
 *
 * Threads of `serve` (see app.h for what each may touch): main (this
 * file: start-up, the signal wait, shutdown), the MHD pool, and OpenBLAS's
 * idle helpers. Start-up order: database (migrations) -> project ->
 * ranking -> lease table -> HTTP. Shutdown: HTTP (finishes requests in
 * flight) -> store connections -> tables.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "app.h"
#include "err.h"
#include "fault.h"
#include "http.h"
#include "import.h"
#include "json.h"
#include "score.h"
#include "token.h"
#include "util.h"
#include "worker.h"

static const char USAGE[] =
    "usage: arald COMMAND [options]\n"
    "\n"
    "commands:\n"
    "  init   --db FILE --classes NAME,NAME,... (--shape HxWxC | --dim N)\n"
    "         [--keys K,K,...] [--name NAME]\n"
    "         create a project database; keys default to 1..9, 0, a..z;\n"
    "         a sample has at most 16384 values (H*W*C, or N)\n"
    "  import --db FILE (--idx IMAGES[.gz] [--labels LABELS[.gz]] | --images "
    "DIR)\n"
    "         [--split pool|eval]\n"
    "         add samples in one transaction (duplicates are skipped)\n"
    "  serve  --db FILE [--config FILE] [--bind ADDR] [--port N] [--open]\n"
    "         [--threads N] [--lease-ttl SECONDS] [--max-body BYTES]\n"
    "         [--max-batch N] [--timeout SECONDS] [--max-connections N]\n"
    "         [--durability normal|full] [--access-log] [--seed N]\n"
    "         [--port-file FILE] [--strategy NAME]\n"
    "         [--start-strategy typical|random]\n"
    "         [--retrain-every N] [--min-labels N] [--round-iters N]\n"
    "         [--round-candidates N] [--train-threads N]\n"
    "         run the HTTP daemon until SIGTERM or SIGINT\n"
    "  token create --db FILE --role admin|ingest|annotate --name NAME\n"
    "         print a new bearer token (shown once; stored as a hash)\n"
    "  token list --db FILE\n"
    "         every token's id, role, name, and when it was created and\n"
    "         revoked (never the secrets, which are not kept)\n"
    "  token revoke --db FILE --id N\n"
    "         revoke token N: it is refused from the next request on, and\n"
    "         a running arald ends its event streams within a second\n"
    "  backup --db FILE --to FILE\n"
    "         write a consistent copy of a live database\n"
    "  check  --db FILE\n"
    "         run PRAGMA integrity_check\n"
    "\n";

/* A second string: C11 compilers need take string literals of only
 * 4095 bytes. */
static const char USAGE_SERVE[] =
    "serve options (each also a config-file key, as key = value):\n"
    "  --bind ADDR           bind (IPv4), default 127.0.0.1; anything\n"
    "                        else needs --open (key: open = true)\n"
    "  --port N              default 8080; 0 picks a free port\n"
    "  --threads N           HTTP threads, default 4 (at least 2)\n"
    "  --lease-ttl SECONDS   lease lifetime, default 600\n"
    "  --max-body BYTES      largest request body, default 16777216\n"
    "  --max-batch N         items in one samples/labels POST, default 1000\n"
    "  --timeout SECONDS     idle connection timeout, default 30\n"
    "  --max-connections N   default 1000\n"
    "  --durability MODE     normal (survives a killed process; default)\n"
    "                        or full (fsync per commit; survives power loss)\n"
    "  --access-log          one line per request on stderr\n"
    "  --seed N              seed of the random order, default 1\n"
    "  --port-file FILE      write the bound port there once listening\n"
    "  --strategy NAME       how a model orders the pool: typical-mass\n"
    "                        (typical members of the least-labeled clusters\n"
    "                        of the classifier's features, the clusters\n"
    "                        holding the most uncertainty first; from 30\n"
    "                        labels a class on, the most uncertain of each\n"
    "                        cluster's typical half first; default),\n"
    "                        typical (the largest clusters first, the most\n"
    "                        typical members first),\n"
    "                        typical-aral (typical, lowest S(z) first in each\n"
    "                        cluster's typical half), typical-entropy (most\n"
    "                        uncertain first there), aral (lowest S(z) first,\n"
    "                        the paper's), entropy or random\n"
    "  --start-strategy S    the order before the first model: typical\n"
    "                        (typical members of clusters of the inputs'\n"
    "                        whitened principal components, the largest\n"
    "                        first; default) or random\n"
    "  --retrain-every N     a round after N new labels, default 100\n"
    "  --min-labels N        labels (of 2 classes at least) before the\n"
    "                        first round, default 20\n"
    "  --round-iters N       training iterations a round, default 600\n"
    "  --round-candidates N  unlabeled samples a round reads, scores and\n"
    "                        ranks at most, drawn at random from a larger\n"
    "                        pool each round; 0 (default): every one\n"
    "  --train-threads N     OpenBLAS threads of the worker, default 1\n"
    "config keys: db bind port open threads lease_ttl max_body max_batch\n"
    "             timeout max_connections durability access_log seed\n"
    "             strategy start_strategy retrain_every min_labels\n"
    "             round_iters round_candidates train_threads\n"
    "Flags override the config file; an option given twice takes the last.\n";

/* ---- argument access. */

typedef struct args {
    int argc;
    char **argv;
} args;

/* Value of --name, or NULL. Given twice, the last wins, so that a wrapper
 * can append an option over its defaults (the first used to win, silently).
 * A flag without a value exits with a reason. */
static const char *arg(const args *a, const char *name)
{
    const char *v = NULL;
    for (int i = 0; i < a->argc; i++)
        if (!strcmp(a->argv[i], name)) {
            if (i + 1 >= a->argc || !strncmp(a->argv[i + 1], "--", 2)) {
                fprintf(stderr, "arald: %s needs a value\n", name);
                exit(2);
            }
            v = a->argv[++i];
        }
    return v;
}

static bool flag(const args *a, const char *name)
{
    for (int i = 0; i < a->argc; i++)
        if (!strcmp(a->argv[i], name))
            return true;
    return false;
}

/* Exits unless every --option is one of `known` (space separated). */
static void only_known(const args *a, const char *known)
{
    for (int i = 0; i < a->argc; i++) {
        const char *s = a->argv[i];
        if (strncmp(s, "--", 2))
            continue;
        char pat[64];
        snprintf(pat, sizeof(pat), " %s ", s);
        char all[600];
        snprintf(all, sizeof(all), " %s ", known);
        if (!strstr(all, pat)) {
            fprintf(stderr, "arald: unknown option %s (see arald --help)\n", s);
            exit(2);
        }
    }
}

static _Noreturn __attribute__((format(printf, 1, 2))) void die(const char *fmt,
                                                                ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "arald: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    exit(1);
}

static const char *need(const args *a, const char *name)
{
    const char *v = arg(a, name);
    if (!v) {
        fprintf(stderr, "arald: %s is required (see arald --help)\n", name);
        exit(2);
    }
    return v;
}

static store *open_db(const char *path, bool create)
{
    char err[300];
    store_opts o = {.create = create};
    if (!create && access(path, F_OK))
        die("no database at %s (create it with arald init)", path);
    store *st = store_open(path, o, err, sizeof(err));
    if (!st)
        die("%s", err);
    return st;
}

static void load_project(store *st, project_info *p)
{
    if (store_project_get(st, p))
        die("%s", "the database has no project (run arald init first)");
}

/* ---- init. */

static int split_list(const char *s, char out[][STORE_NAME_MAX], int max,
                      size_t width)
{
    int n = 0;
    const char *p = s;
    while (*p) {
        size_t len = strcspn(p, ",");
        if (n >= max || len == 0 || len >= width)
            return -1;
        memcpy(out[n], p, len);
        out[n][len] = 0;
        n++;
        p += len + (p[len] == ',');
    }
    return n;
}

static void parse_shape(const args *a, project_info *p)
{
    const char *shape = arg(a, "--shape"), *dim = arg(a, "--dim");
    int64_t d;
    if ((shape != NULL) == (dim != NULL))
        die("%s", "give exactly one of --shape HxWxC or --dim N");
    if (dim) {
        if (util_parse_i64(dim, 1, PROJECT_MAX_VALUES, &d))
            die("--dim must be 1..%d, not %s", PROJECT_MAX_VALUES, dim);
        p->dim = (int)d;
        return;
    }
    char extra;
    if (sscanf(shape, "%dx%dx%d%c", &p->height, &p->width, &p->channels,
               &extra) != 3 ||
        p->height < 1 || p->width < 1 || p->height > 4096 || p->width > 4096 ||
        (p->channels != 1 && p->channels != 3))
        die("--shape must be HxWxC with C 1 or 3, not %s", shape);
    long values = (long)p->height * p->width * p->channels;
    if (values > PROJECT_MAX_VALUES)
        die("--shape %s is %ld values a sample; ARAL reads a sample as one "
            "vector of at most %d (128x128x1): resize the images, or import "
            "an embedding of each as a vector project (--dim)",
            shape, values, PROJECT_MAX_VALUES);
}

static void default_keys(project_info *p)
{
    static const char keys[] = "1234567890abcdefghijklmnopqrstuvwxyz";
    for (int i = 0; i < p->n_classes; i++)
        snprintf(p->keys[i], sizeof(p->keys[i]), "%c", i < 36 ? keys[i] : '?');
}

static int cmd_init(const args *a)
{
    only_known(a, "--db --classes --shape --dim --keys --name");
    project_info p = {0};
    const char *db = need(a, "--db"), *classes = need(a, "--classes");
    parse_shape(a, &p);
    p.n_classes =
        split_list(classes, p.classes, STORE_MAX_CLASSES, STORE_NAME_MAX);
    if (p.n_classes < 2)
        die("--classes needs 2..256 distinct names of 1-63 characters, "
            "comma separated: %s",
            classes);
    for (int i = 0; i < p.n_classes; i++)
        if (!json_text_ok(p.classes[i], STORE_NAME_MAX - 1))
            die("class name %s has control characters", p.classes[i]);
    default_keys(&p);
    if (arg(a, "--keys")) {
        char keys[STORE_MAX_CLASSES][STORE_NAME_MAX];
        if (split_list(arg(a, "--keys"), keys, STORE_MAX_CLASSES, 8) !=
            p.n_classes)
            die("--keys needs one key per class: %s", arg(a, "--keys"));
        for (int i = 0; i < p.n_classes; i++)
            snprintf(p.keys[i], sizeof(p.keys[i]), "%s", keys[i]);
    }
    snprintf(p.name, sizeof(p.name), "%s",
             arg(a, "--name") ? arg(a, "--name") : "project");
    if (!access(db, F_OK))
        die("%s exists already; init creates a new project", db);
    store *st = open_db(db, true);
    int rc = store_project_init(st, &p, util_now_ms());
    store_close(st);
    if (rc) {
        unlink(db);
        die("cannot create the project: %s (duplicate class names?)",
            aral_strerror(rc));
    }
    printf("created %s: %d classes, %s\n", db, p.n_classes,
           p.dim ? "vectors" : "images");
    return 0;
}

/* ---- import. */

static const char *split_arg(const args *a)
{
    const char *split = arg(a, "--split");
    if (!split)
        return "pool";
    if (strcmp(split, "pool") && strcmp(split, "eval"))
        die("--split is pool or eval, not %s", split);
    return split;
}

static const char *base_name(const char *path)
{
    const char *s = strrchr(path, '/');
    return s ? s + 1 : path;
}

static int import_idx_cmd(const args *a, store *st, const project_info *p)
{
    char why[300];
    idx_data img, lab = {0};
    const char *images = arg(a, "--idx"), *labels = arg(a, "--labels");
    if (idx_read_file(images, &img, why, sizeof(why)))
        die("%s", why);
    if (labels && idx_read_file(labels, &lab, why, sizeof(why)))
        die("%s", why);
    import_stats s;
    int rc =
        import_idx_into(st, p, &img, labels ? &lab : NULL, split_arg(a),
                        base_name(images), util_now_ms(), &s, why, sizeof(why));
    free(img.data);
    free(lab.data);
    if (rc)
        die("%s; nothing was imported", why);
    printf("imported %d samples into %s (%d duplicates skipped)\n", s.inserted,
           split_arg(a), s.duplicates);
    return 0;
}

static uint8_t *read_file(const char *path, size_t *len, size_t max)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    uint8_t *buf = malloc(max);
    *len = buf ? fread(buf, 1, max, f) : 0;
    bool over = buf && fgetc(f) != EOF;
    fclose(f);
    if (over) {
        free(buf);
        return NULL;
    }
    return buf;
}

static bool is_image_name(const char *n)
{
    const char *dot = strrchr(n, '.');
    return dot && (!strcasecmp(dot, ".png") || !strcasecmp(dot, ".jpg") ||
                   !strcasecmp(dot, ".jpeg"));
}

static int by_name(const struct dirent **x, const struct dirent **y)
{
    return strcmp((*x)->d_name, (*y)->d_name);
}

/* Decodes one file and inserts it; returns 0 or prints why. */
static int import_one_image(store *st, const project_info *p, const char *dir,
                            const char *name, const char *split, uint8_t *px,
                            int *dups)
{
    char path[4096], why[300];
    size_t len;
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    uint8_t *buf = read_file(path, &len, 64u << 20);
    if (!buf) {
        fprintf(stderr, "arald: %s: unreadable or over 64 MiB\n", path);
        return ARAL_EINVAL;
    }
    int rc = import_decode_image(p, buf, len, px, why, sizeof(why));
    free(buf);
    if (rc) {
        fprintf(stderr, "arald: %s: %s\n", path, why);
        return rc;
    }
    uint8_t hash[32];
    int64_t id;
    bool dup;
    size_t bytes = project_sample_bytes(p);
    import_sample_hash(px, bytes, hash);
    rc = store_sample_insert(st, hash, name, split, px, bytes, -1,
                             util_now_ms(), &id, &dup);
    *dups += dup;
    return rc;
}

static int import_dir_cmd(const args *a, store *st, const project_info *p)
{
    const char *dir = arg(a, "--images");
    struct dirent **list;
    int n = scandir(dir, &list, NULL, by_name), rc = 0, count = 0, dups = 0;
    if (n < 0)
        die("cannot read directory %s", dir);
    uint8_t *px = malloc(project_sample_bytes(p) + 1);
    if (!px || store_begin(st))
        die("%s", "out of memory or database busy");
    for (int i = 0; i < n; i++) {
        if (!rc && is_image_name(list[i]->d_name)) {
            rc = import_one_image(st, p, dir, list[i]->d_name, split_arg(a), px,
                                  &dups);
            count++;
        }
        free(list[i]);
    }
    free(list);
    free(px);
    if (rc) {
        store_rollback(st);
        die("%s", "nothing was imported");
    }
    if (store_commit(st))
        die("%s", "the import could not be committed");
    printf("imported %d images into %s (%d duplicates skipped)\n", count - dups,
           split_arg(a), dups);
    return 0;
}

static int cmd_import(const args *a)
{
    only_known(a, "--db --idx --labels --images --split");
    const char *db = need(a, "--db");
    if ((arg(a, "--idx") != NULL) == (arg(a, "--images") != NULL))
        die("%s", "give exactly one of --idx FILE or --images DIR");
    if (arg(a, "--labels") && !arg(a, "--idx"))
        die("%s", "--labels goes with --idx");
    store *st = open_db(db, false);
    project_info p;
    load_project(st, &p);
    int rc =
        arg(a, "--idx") ? import_idx_cmd(a, st, &p) : import_dir_cmd(a, st, &p);
    store_close(st);
    return rc;
}

/* ---- token, backup, check. */

/* One write transaction around fn; exits with a reason if it fails. */
static void in_txn(store *st, int (*fn)(store *st, void *ctx), void *ctx,
                   const char *what)
{
    int rc = store_begin(st);
    if (!rc && (rc = fn(st, ctx)) != 0)
        store_rollback(st);
    else if (!rc)
        rc = store_commit(st);
    if (rc) {
        store_close(st);
        die("cannot %s: %s", what, aral_strerror(rc));
    }
}

typedef struct new_token {
    const char *name, *role;
    char text[TOKEN_TEXT_MAX];
    uint8_t hash[32];
    int64_t id;
} new_token;

static int insert_token(store *st, void *ctx)
{
    new_token *t = ctx;
    return store_token_insert(st, t->name, t->role, t->hash, util_now_ms(),
                              &t->id);
}

static int cmd_token_create(const args *a)
{
    only_known(a, "--db --role --name");
    const char *db = need(a, "--db");
    new_token t = {.name = need(a, "--name"), .role = need(a, "--role")};
    if (!token_role_ok(t.role))
        die("--role is admin, ingest or annotate, not %s", t.role);
    if (!token_name_ok(t.name))
        die("--name must be 1-63 printable characters: %s", t.name);
    if (token_new(t.text, t.hash))
        die("%s", "no randomness available");
    store *st = open_db(db, false);
    in_txn(st, insert_token, &t, "store the token");
    store_close(st);
    /* The secret stays the last word: scripts take it from there. */
    printf("%s token %lld for %s: %s\n", t.role, (long long)t.id, t.name,
           t.text);
    return 0;
}

typedef struct token_lines {
    int64_t last;
    int n;
} token_lines;

static void print_token(void *ctx, const token_row *t)
{
    token_lines *p = ctx;
    char made[40], gone[40] = "-";
    util_iso8601(t->created_at, made, sizeof(made));
    if (t->revoked_at)
        util_iso8601(t->revoked_at, gone, sizeof(gone));
    printf("%-6lld %-8s %-24s %-24s %s\n", (long long)t->id, t->role, made,
           gone, t->name);
    p->last = t->id, p->n++;
}

#define TOKEN_PAGE 500

static int cmd_token_list(const args *a)
{
    only_known(a, "--db");
    store *st = open_db(need(a, "--db"), false);
    token_lines p = {0, TOKEN_PAGE};
    printf("%-6s %-8s %-24s %-24s %s\n", "id", "role", "created", "revoked",
           "name");
    while (p.n == TOKEN_PAGE) {
        p.n = 0;
        int rc = store_token_page(st, p.last, TOKEN_PAGE, print_token, &p);
        if (rc) {
            store_close(st);
            die("cannot read the tokens: %s", aral_strerror(rc));
        }
    }
    store_close(st);
    return 0;
}

typedef struct revoke_job {
    int64_t id;
    int released; /* live leases given back to the pool */
} revoke_job;

/* A running arald sees the leases given back within a second (app.c). */
static int revoke_token(store *st, void *ctx)
{
    revoke_job *job = ctx;
    int64_t now = util_now_ms();
    int rc = store_token_revoke(st, job->id, now);
    return rc ? rc
              : store_token_leases_release(st, job->id, now, NULL, NULL,
                                           &job->released);
}

/* Unlike DELETE /v1/tokens/{id}, this may revoke the last admin token:
 * whoever holds the database can always create another. */
static int cmd_token_revoke(const args *a)
{
    only_known(a, "--db --id");
    const char *db = need(a, "--db"), *ids = need(a, "--id");
    revoke_job job = {0};
    if (util_parse_i64(ids, 1, (int64_t)1 << 53, &job.id))
        die("--id is a token id (see arald token list), not %s", ids);
    int64_t id = job.id;
    store *st = open_db(db, false);
    token_row t;
    int rc = store_token_get(st, id, &t);
    if (rc) {
        store_close(st);
        die("no token %lld (%s)", (long long)id, aral_strerror(rc));
    }
    if (!t.revoked_at)
        in_txn(st, revoke_token, &job, "revoke the token");
    store_close(st);
    if (t.revoked_at)
        printf("token %lld (%s, %s) is revoked (already)\n", (long long)id,
               t.role, t.name);
    else
        printf("token %lld (%s, %s) is revoked; %d lease%s went back to the "
               "pool\n",
               (long long)id, t.role, t.name, job.released,
               job.released == 1 ? "" : "s");
    return 0;
}

static int cmd_token(int argc, char **argv)
{
    args t = {argc - 3, argv + 3};
    const char *verb = argc > 2 ? argv[2] : "";
    if (!strcmp(verb, "create"))
        return cmd_token_create(&t);
    if (!strcmp(verb, "list"))
        return cmd_token_list(&t);
    if (!strcmp(verb, "revoke"))
        return cmd_token_revoke(&t);
    fprintf(stderr, "arald: token takes create, list or revoke, not '%s'\n",
            verb);
    return 2;
}

static int cmd_backup(const args *a)
{
    only_known(a, "--db --to");
    const char *db = need(a, "--db"), *to = need(a, "--to");
    if (!access(to, F_OK))
        die("%s exists already; backup writes a new file", to);
    char err[300];
    store *st = open_db(db, false);
    int rc = store_backup(st, to, err, sizeof(err));
    store_close(st);
    if (rc)
        die("%s", err);
    printf("backup written to %s\n", to);
    return 0;
}

static int cmd_check(const args *a)
{
    only_known(a, "--db");
    store *st = open_db(need(a, "--db"), false);
    bool ok = store_integrity_ok(st);
    store_close(st);
    printf("%s\n", ok ? "ok" : "integrity check FAILED");
    return ok ? 0 : 1;
}

/* ---- serve. */

static void config_defaults(app_config *c)
{
    memset(c, 0, sizeof(*c));
    snprintf(c->bind, sizeof(c->bind), "127.0.0.1");
    c->port = 8080;
    c->threads = 4;
    c->lease_ttl_s = 600;
    c->max_body = 16L << 20;
    c->max_batch = 1000;
    c->conn_timeout_s = 30;
    c->max_connections = 1000;
    c->seed = 1;
    snprintf(c->strategy, sizeof(c->strategy), "%s",
             strategy_name(STRATEGY_DEFAULT));
    c->start_typical = true;
    c->retrain_every = 100;
    c->min_labels = 20;
    c->round_iters = 600;
    c->round_candidates = 0; /* every one: a draw costs the picks */
    c->train_threads = 1;
}

static bool parse_bool(const char *v, bool *out)
{
    if (!strcmp(v, "true") || !strcmp(v, "1") || !strcmp(v, "yes"))
        return *out = true, true;
    if (!strcmp(v, "false") || !strcmp(v, "0") || !strcmp(v, "no"))
        return *out = false, true;
    return false;
}

/* Sets one option by its config key: NULL, or why not (a static string,
 * or a buffer good until the next call; options are read before any
 * thread starts). */
static const char *set_option(app_config *c, const char *k, const char *v)
{
    static char why[120];
    int64_t n;
#define INT_OPT(key, field, lo, hi)                                            \
    if (!strcmp(k, key)) {                                                     \
        if (util_parse_i64(v, lo, hi, &n) == 0)                                \
            return (c->field = n), NULL;                                       \
        snprintf(why, sizeof(why), "%s is an integer in %lld..%lld", key,      \
                 (long long)(lo), (long long)(hi));                            \
        return why;                                                            \
    }
    INT_OPT("port", port, 0, 65535)
    INT_OPT("threads", threads, 2, 64)
    INT_OPT("lease_ttl", lease_ttl_s, 1, 7 * 24 * 3600)
    INT_OPT("max_body", max_body, 1024, 1L << 30)
    INT_OPT("max_batch", max_batch, 1, 100000)
    INT_OPT("timeout", conn_timeout_s, 1, 3600)
    INT_OPT("max_connections", max_connections, 4, 60000)
    INT_OPT("retrain_every", retrain_every, 1, 1000000)
    INT_OPT("min_labels", min_labels, 2, 1000000)
    INT_OPT("round_iters", round_iters, 1, 1000000)
    INT_OPT("round_candidates", round_candidates, 0, 100000000)
    INT_OPT("train_threads", train_threads, 1, 64)
    INT_OPT("seed", seed, 0, INT64_MAX)
#undef INT_OPT
    strategy st;
    if (!strcmp(k, "strategy"))
        return strategy_parse(v, &st) == 0 &&
                       snprintf(c->strategy, sizeof(c->strategy), "%s", v) > 0
                   ? NULL
                   : "strategy is not known (arald --help lists them)";
    if (!strcmp(k, "start_strategy"))
        return !strcmp(v, "typical") || !strcmp(v, "random")
                   ? (c->start_typical = !strcmp(v, "typical"), NULL)
                   : "start_strategy is typical or random";
#define STR_OPT(key, field)                                                    \
    if (!strcmp(k, key))                                                       \
        return snprintf(c->field, sizeof(c->field), "%s", v) <                 \
                       (int)sizeof(c->field)                                   \
                   ? NULL                                                      \
                   : key " is too long";
    STR_OPT("db", db)
    STR_OPT("bind", bind)
    STR_OPT("port_file", port_file)
#undef STR_OPT
    if (!strcmp(k, "open"))
        return parse_bool(v, &c->open) ? NULL : "open is true or false";
    if (!strcmp(k, "access_log"))
        return parse_bool(v, &c->access_log) ? NULL
                                             : "access_log is true or false";
    if (!strcmp(k, "durability")) {
        c->durable_full = !strcmp(v, "full");
        return !strcmp(v, "normal") || c->durable_full
                   ? NULL
                   : "durability is normal or full";
    }
    snprintf(why, sizeof(why),
             "unknown key %.40s (arald --help lists the keys)", k);
    return why;
}

static char *trim(char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    char *e = s + strlen(s);
    while (e > s &&
           (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\n' || e[-1] == '\r'))
        *--e = 0;
    return s;
}

static void load_config(app_config *c, const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        die("cannot read config file %s", path);
    char line[1024];
    int lineno = 0;
    while (fgets(line, sizeof(line), f)) {
        lineno++;
        char *s = trim(line), *eq = strchr(s, '=');
        if (!*s || *s == '#')
            continue;
        if (eq)
            *eq = 0;
        const char *why = eq ? set_option(c, trim(s), trim(eq + 1))
                             : "not a line of key = value";
        if (why) {
            fprintf(stderr, "arald: %s:%d: %s\n", path, lineno, why);
            exit(2);
        }
    }
    fclose(f);
}

/* Applies --flag VALUE options over the config (flag = key with - for _). */
static void apply_flags(app_config *c, const args *a)
{
    static const char *const with_value[] = {"db",
                                             "bind",
                                             "port",
                                             "threads",
                                             "lease-ttl",
                                             "max-body",
                                             "max-batch",
                                             "timeout",
                                             "max-connections",
                                             "durability",
                                             "seed",
                                             "port-file",
                                             "strategy",
                                             "start-strategy",
                                             "retrain-every",
                                             "min-labels",
                                             "round-iters",
                                             "train-threads",
                                             "round-candidates"};
    for (size_t i = 0; i < sizeof(with_value) / sizeof(*with_value); i++) {
        char flag_name[40], key[40];
        snprintf(flag_name, sizeof(flag_name), "--%s", with_value[i]);
        snprintf(key, sizeof(key), "%s", with_value[i]);
        for (char *p = key; *p; p++)
            *p = *p == '-' ? '_' : *p;
        const char *v = arg(a, flag_name);
        const char *why = v ? set_option(c, key, v) : NULL;
        if (why) {
            fprintf(stderr, "arald: bad value for %s: %s (%s)\n", flag_name, v,
                    why);
            exit(2);
        }
    }
    if (flag(a, "--open"))
        c->open = true;
    if (flag(a, "--access-log"))
        c->access_log = true;
}

static int signal_pipe[2];

static void on_signal(int sig)
{
    int saved = errno;
    ssize_t w = write(signal_pipe[1], &sig, sizeof(sig));
    (void)w;
    errno = saved;
}

static void install_signals(void)
{
    if (pipe(signal_pipe))
        die("%s", "pipe failed");
    struct sigaction sa = {0};
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
}

static void write_port_file(const char *path, int port)
{
    char tmp[600];
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (!f || fprintf(f, "%d\n", port) < 0 || fclose(f) || rename(tmp, path))
        die("cannot write port file %s", path);
}

static bool loopback(const char *bind)
{
    return !strncmp(bind, "127.", 4);
}

static void start_app(struct app *a)
{
    store *st = app_store(a);
    if (!st)
        die("%s", "cannot open the database");
    load_project(st, &a->project);
    a->leases = lease_table_new();
    a->metrics = metrics_new();
    if (!a->leases || !a->metrics)
        die("%s", "out of memory");
    /* The pool is published by worker_start, in the stored model's order
     * when there is one. */
    a->started_ms = util_now_ms();
}

static int cmd_serve(const args *a)
{
    only_known(a, "--db --config --bind --port --open --threads --lease-ttl "
                  "--max-body --max-batch --timeout --max-connections "
                  "--durability --access-log --seed --port-file "
                  "--strategy --start-strategy --retrain-every --min-labels "
                  "--round-iters --round-candidates --train-threads");
    static struct app app;
    config_defaults(&app.cfg);
    if (arg(a, "--config"))
        load_config(&app.cfg, arg(a, "--config"));
    apply_flags(&app.cfg, a);
    if (!app.cfg.db[0])
        die("%s", "--db (or db in the config file) is required");
    if (!loopback(app.cfg.bind) && !app.cfg.open)
        die("refusing to listen on %s without --open", app.cfg.bind);
    store_close(open_db(app.cfg.db, false)); /* migrations, clear errors */
    fault_init();
    start_app(&app);
    install_signals();
    if (app_checkpointer_start(&app))
        die("%s", "cannot start the checkpointer thread");
    char err[300];
    if (!(app.events = events_new()))
        die("%s", "out of memory");
    app.worker = worker_start(&app, err, sizeof(err));
    if (!app.worker)
        die("%s", err);
    http_server *h = http_start(&app, err, sizeof(err));
    if (!h)
        die("%s", err);
    atomic_store(&app.ready, true);
    if (app.cfg.port_file[0])
        write_port_file(app.cfg.port_file, http_port(h));
    fprintf(stderr, "arald: serving %s on http://%s:%d/ (%s)\n", app.cfg.db,
            app.cfg.bind, http_port(h),
            app.cfg.durable_full ? "durability full" : "durability normal");
    int sig = 0;
    while (read(signal_pipe[0], &sig, sizeof(sig)) < 0 && errno == EINTR)
        ;
    fprintf(stderr, "arald: signal %d, stopping\n", sig);
    atomic_store(&app.ready, false);
    events_close(app.events); /* MHD must not stop with streams suspended */
    http_stop(h);
    worker_stop(app.worker);
    events_free(app.events);
    app_checkpointer_stop();
    app_stores_close();
    lease_table_free(app.leases);
    ranking_publish(&app.ranking, NULL);
    metrics_free(app.metrics);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        fputs(USAGE, argc < 2 ? stderr : stdout);
        fputs(USAGE_SERVE, argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (!strcmp(argv[1], "--version")) {
        printf("arald %s (schema %d)\n", ARALD_VERSION, store_schema_latest());
        return 0;
    }
    args a = {argc - 2, argv + 2};
    if (flag(&a, "--help")) {
        fputs(USAGE, stdout);
        return 0;
    }
    if (!strcmp(argv[1], "init"))
        return cmd_init(&a);
    if (!strcmp(argv[1], "import"))
        return cmd_import(&a);
    if (!strcmp(argv[1], "serve"))
        return cmd_serve(&a);
    if (!strcmp(argv[1], "backup"))
        return cmd_backup(&a);
    if (!strcmp(argv[1], "check"))
        return cmd_check(&a);
    if (!strcmp(argv[1], "token"))
        return cmd_token(argc, argv);
    fprintf(stderr, "arald: unknown command %s (see arald --help)\n", argv[1]);
    return 2;
}
