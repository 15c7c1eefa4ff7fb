/*
 * mailpool.c - wardd connections kept open between MAILSCAN requests.
 *
 * A stack per process: the connection used last is handed out first, so
 * under light load a few stay busy and the rest age out. One target only
 * (an agent talks to one wardd); another target empties the pool.
 */
#include <poll.h>
#include <pthread.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "proto/mailpool.h"
#include "proto/mailproto.h"

#define POOL_MAX 256
#define TARGET_MAX 256
/* below wardd's default idle_timeout (30 s), so it is the client that closes */
#define MAX_IDLE_MS 20000

static struct {
    pthread_mutex_t mu;
    unsigned max;               /* 0: off */
    char target[TARGET_MAX];
    int socks[POOL_MAX];
    int64_t idle_since[POOL_MAX];
    unsigned n;
} pool = {.mu = PTHREAD_MUTEX_INITIALIZER};

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void ward_mailproto_keep_connections(unsigned max)
{
    pthread_mutex_lock(&pool.mu);
    pool.max = max < POOL_MAX ? max : POOL_MAX;
    while (pool.n > pool.max)
        close(pool.socks[--pool.n]);
    pthread_mutex_unlock(&pool.mu);
}

bool ward_mailpool_on(void)
{
    pthread_mutex_lock(&pool.mu);
    bool on = pool.max > 0;
    pthread_mutex_unlock(&pool.mu);
    return on;
}

/* Still open, and nothing waiting to be read (an idle connection has nothing to say). */
static bool still_open(int sock)
{
    struct pollfd pfd = {sock, POLLIN, 0};
    return poll(&pfd, 1, 0) == 0;
}

int ward_mailpool_take(const char *target)
{
    int64_t now = now_ms();
    int drop[POOL_MAX];
    unsigned n_drop = 0;
    int sock = -1;
    pthread_mutex_lock(&pool.mu);
    if (strcmp(pool.target, target) == 0) {
        while (pool.n && sock < 0) {
            int s = pool.socks[--pool.n];
            if (now - pool.idle_since[pool.n] < MAX_IDLE_MS)
                sock = s;
            else
                drop[n_drop++] = s;
        }
        /* the oldest ones at the bottom of the stack have aged out too */
        unsigned k = 0;
        while (k < pool.n && now - pool.idle_since[k] >= MAX_IDLE_MS)
            drop[n_drop++] = pool.socks[k++];
        if (k) {
            memmove(pool.socks, pool.socks + k, (pool.n - k) * sizeof pool.socks[0]);
            memmove(pool.idle_since, pool.idle_since + k, (pool.n - k) * sizeof pool.idle_since[0]);
            pool.n -= k;
        }
    }
    pthread_mutex_unlock(&pool.mu);
    for (unsigned i = 0; i < n_drop; i++)
        close(drop[i]);
    if (sock >= 0 && !still_open(sock)) {
        close(sock);
        return ward_mailpool_take(target); /* the others were left by the same wardd: bounded */
    }
    return sock;
}

void ward_mailpool_give(const char *target, int sock)
{
    int drop[POOL_MAX];
    unsigned n_drop = 0;
    bool kept = false;
    size_t len = strlen(target);
    pthread_mutex_lock(&pool.mu);
    if (pool.max && len < TARGET_MAX) {
        if (strcmp(pool.target, target) != 0) {
            while (pool.n)
                drop[n_drop++] = pool.socks[--pool.n];
            memcpy(pool.target, target, len + 1);
        }
        if (pool.n < pool.max) {
            pool.socks[pool.n] = sock;
            pool.idle_since[pool.n] = now_ms();
            pool.n++;
            kept = true;
        }
    }
    pthread_mutex_unlock(&pool.mu);
    for (unsigned i = 0; i < n_drop; i++)
        close(drop[i]);
    if (!kept)
        close(sock);
}
