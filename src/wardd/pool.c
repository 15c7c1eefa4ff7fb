/*
 * pool.c - the worker threads. Each keeps a scanner for the database
 * generation it last saw and makes a new one when a reload has installed a
 * newer database, so a reload never stops a worker and no scan ever changes
 * databases half-way.
 */
#include <stdlib.h>
#include <unistd.h>

#include "util/log.h"
#include "wardd.h"

static struct {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    struct job *head, *tail;
    unsigned queued, max_queue, max, live, busy;
    bool stopping;
    pthread_t *threads;
} P = {.lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER};

void job_free(struct job *j)
{
    if (!j)
        return;
    free(j->path);
    if (j->mail)
        ward_mailproto_req_free(j->mail);
    free(j->mail);
    /* only mail jobs set out_fd: other jobs made with calloc have 0 there */
    if (j->kind == JOB_MAIL && j->out_fd >= 0)
        close(j->out_fd);
    ward_tmpspool_free(&j->stream);
    if (j->fd >= 0)
        close(j->fd);
    ward_buf_free(&j->reply);
    free(j);
}

static struct job *pop(void)
{
    pthread_mutex_lock(&P.lock);
    while (!P.head && !P.stopping)
        pthread_cond_wait(&P.cond, &P.lock);
    struct job *j = P.head;
    if (j) {
        P.head = j->next;
        if (!P.head)
            P.tail = NULL;
        P.queued--;
        P.busy++;
    }
    pthread_mutex_unlock(&P.lock);
    return j;
}

static void *worker(void *arg)
{
    (void)arg;
    ward_scanner *sc = NULL;
    ward_db *db = NULL;
    uint64_t gen = 0;
    struct job *j;
    while ((j = pop()) != NULL) {
        if (!db || gen != wardd_db_generation()) {
            ward_scanner_free(sc);
            sc = NULL;
            if (db)
                ward_db_unref(db);
            db = wardd_db_acquire(&gen);
            if (db && ward_scanner_new(db, &sc)) {
                ward_log(WARD_LOG_ERROR, "cannot create a scanner: out of memory");
                sc = NULL;
            }
        }
        scanjob_run(j, sc, db);
        pthread_mutex_lock(&P.lock);
        P.busy--;
        pthread_mutex_unlock(&P.lock);
    }
    ward_scanner_free(sc);
    if (db)
        ward_db_unref(db);
    return NULL;
}

bool pool_start(unsigned threads, unsigned max_queue)
{
    if (threads == 0) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        threads = n > 0 ? (unsigned)n * 2 : 4;
        if (threads < 4)
            threads = 4;
    }
    P.max = threads;
    P.max_queue = max_queue ? max_queue : threads * 10;
    P.threads = calloc(threads, sizeof *P.threads);
    if (!P.threads)
        return false;
    for (unsigned i = 0; i < threads; i++) {
        if (pthread_create(&P.threads[i], NULL, worker, NULL) != 0)
            break;
        P.live++;
    }
    return P.live > 0;
}

static void enqueue(struct job *j)
{
    j->next = NULL;
    if (P.tail)
        P.tail->next = j;
    else
        P.head = j;
    P.tail = j;
    P.queued++;
    pthread_cond_signal(&P.cond);
}

bool pool_submit(struct job *j)
{
    pthread_mutex_lock(&P.lock);
    bool ok = P.queued < P.max_queue && !P.stopping;
    if (ok)
        enqueue(j);
    pthread_mutex_unlock(&P.lock);
    return ok;
}

void pool_submit_force(struct job *j)
{
    pthread_mutex_lock(&P.lock);
    enqueue(j);
    pthread_mutex_unlock(&P.lock);
}

bool pool_full(void)
{
    pthread_mutex_lock(&P.lock);
    bool full = P.queued >= P.max_queue;
    pthread_mutex_unlock(&P.lock);
    return full;
}

void pool_stats(unsigned *live, unsigned *idle, unsigned *max, unsigned *queued)
{
    pthread_mutex_lock(&P.lock);
    *live = P.live;
    *idle = P.live - P.busy;
    *max = P.max;
    *queued = P.queued;
    pthread_mutex_unlock(&P.lock);
}

/* Let queued and running jobs finish, then stop the threads. */
void pool_stop(void)
{
    pthread_mutex_lock(&P.lock);
    while (P.head || P.busy) {
        pthread_mutex_unlock(&P.lock);
        usleep(10000);
        pthread_mutex_lock(&P.lock);
    }
    P.stopping = true;
    pthread_cond_broadcast(&P.cond);
    pthread_mutex_unlock(&P.lock);
    for (unsigned i = 0; i < P.live; i++)
        pthread_join(P.threads[i], NULL);
    free(P.threads);
    P.threads = NULL;
    P.live = 0;
}
