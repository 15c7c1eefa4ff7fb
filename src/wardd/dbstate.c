/*
 * dbstate.c - the database wardd scans with, and reloading it without a pause.
 *
 * A reload loads the new database in a thread of its own while every request
 * keeps being served with the current one; the new database then replaces
 * the old with one pointer swap under a lock. Scans in flight hold a
 * reference to the old database and finish on it; it is freed when the last
 * of them lets go. A database that fails to load changes nothing and is
 * logged.
 *
 * A reload reads only the files that changed (the engine takes the others
 * from the current database) and, when the whole set is not in the compile
 * cache, compiles the new patterns alone and scans with them beside the
 * current compiled form: the new signatures are live in milliseconds. The
 * full compile then runs in a child process, and its result replaces the
 * two-part form when it is ready (same signatures, one scan pass).
 */
#include <dirent.h>
#include <spawn.h>
#include <sys/wait.h>
#include <malloc.h>
#include <signal.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "engine/dsig.h"
#include "util/hash.h"
#include "util/log.h"
#include "wardd.h"

static struct {
    pthread_mutex_t lock;
    pthread_cond_t wake;
    ward_db *db;
    uint64_t generation;
    /* reload settings, copied from the configuration */
    char dir[PATH_MAX], cache_dir[PATH_MAX], config[PATH_MAX];
    char *keys[4];
    /* the reload thread */
    pthread_t thread;
    bool thread_started, pending, stopping;
    char why[128];
    /* self-check */
    unsigned self_check;
    time_t last_check;
    uint8_t failed_digest[32]; /* the directory as it was when a reload failed */
    bool failed;
    ward_vcache *cache;
} S = {.lock = PTHREAD_MUTEX_INITIALIZER, .wake = PTHREAD_COND_INITIALIZER};

ward_vcache *wardd_cache(void)
{
    return S.cache;
}

ward_db *wardd_db_acquire(uint64_t *generation)
{
    pthread_mutex_lock(&S.lock);
    ward_db *db = S.db;
    if (db)
        ward_db_ref(db);
    if (generation)
        *generation = S.generation;
    pthread_mutex_unlock(&S.lock);
    return db;
}

uint64_t wardd_db_generation(void)
{
    return __atomic_load_n(&S.generation, __ATOMIC_ACQUIRE);
}

void wardd_db_version(char *out, size_t cap)
{
    ward_db *db = wardd_db_acquire(NULL);
    if (!db) {
        snprintf(out, cap, "0/unknown");
        return;
    }
    const struct ward_db_stats *st = ward_db_stats(db);
    char when[64] = "";
    struct tm tm;
    time_t t = st->build_time;
    /* clamd's format: "Tue Nov 25 10:08:42 2026" */
    if (localtime_r(&t, &tm))
        strftime(when, sizeof when, "%a %b %e %H:%M:%S %Y", &tm);
    snprintf(out, cap, "%u/%s", st->version, when);
    ward_db_unref(db);
}

/*
 * A digest of the database directory's listing (names, sizes, times), so
 * that a reload that failed is not tried again until something changed.
 */
static bool dir_digest(const char *dir, uint8_t out[32])
{
    DIR *d = opendir(dir);
    if (!d)
        return false;
    /* Sum of per-entry digests: independent of readdir order. */
    uint8_t acc[32] = {0};
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.')
            continue;
        char path[PATH_MAX * 2];
        struct stat st;
        snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
        if (stat(path, &st) != 0)
            continue;
        char line[PATH_MAX + 128];
        int n = snprintf(line, sizeof line, "%s|%lld|%llu|%lld.%09ld|%lld.%09ld", de->d_name,
                         (long long)st.st_size, (unsigned long long)st.st_ino,
                         (long long)st.st_mtim.tv_sec, st.st_mtim.tv_nsec,
                         (long long)st.st_ctim.tv_sec, st.st_ctim.tv_nsec);
        uint8_t dg[32];
        ward_digest32(line, (size_t)n, dg);
        for (int i = 0; i < 32; i++)
            acc[i] = (uint8_t)(acc[i] + dg[i]);
    }
    closedir(d);
    memcpy(out, acc, 32);
    return true;
}

extern char **environ;

/* Patterns a reload compiles in the daemon itself, beside the current form. */
#define OVERLAY_MAX 5000

static bool reload_pending(void)
{
    pthread_mutex_lock(&S.lock);
    bool p = S.pending || S.stopping;
    pthread_mutex_unlock(&S.lock);
    return p;
}

/*
 * Compile in a child process (this program, run with --compile-only), which
 * leaves the compiled form in the cache: the compiler's code and memory then
 * never weigh on the daemon, and a compiler crash on hostile signatures costs
 * only the child. The daemon itself then loads the compiled form. With
 * `yield`, a reload or stop requested meanwhile ends the child: the reload
 * comes first, and it will want a compile of its own.
 */
static bool compile_in_child(bool yield)
{
    char config[PATH_MAX];
    pthread_mutex_lock(&S.lock);
    memcpy(config, S.config, sizeof config);
    bool cached = S.cache_dir[0] != 0;
    pthread_mutex_unlock(&S.lock);
    if (!cached)
        return false; /* nowhere to leave the result: compile here */
    char *argv[] = {"wardd", "--compile-only", config[0] ? "--config" : NULL, config, NULL};
    pid_t pid;
    if (posix_spawn(&pid, "/proc/self/exe", NULL, NULL, argv, environ) != 0)
        return false;
    int status = 0;
    for (;;) {
        pid_t r = waitpid(pid, &status, yield ? WNOHANG : 0);
        if (r == pid || (r < 0 && errno != EINTR))
            break;
        if (r == 0 && reload_pending()) {
            kill(pid, SIGTERM);
            yield = false; /* now wait for it to go */
            continue;
        }
        if (r == 0)
            usleep(20000);
    }
    bool ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
    if (!ok && !reload_pending())
        ward_log(WARD_LOG_INFO, "compiling in a child process failed; compiling here");
    return ok;
}

/*
 * Load with the settings of the moment (copied under the lock: SIGHUP may
 * change them), reusing what `prev` has. With `overlay`, new patterns may be
 * compiled here beside prev's compiled form; a full compile goes to a child.
 */
static ward_db *load(const ward_db *prev, bool overlay, struct ward_diag *d)
{
    char dir[PATH_MAX], cache[PATH_MAX];
    char *keys[4] = {NULL, NULL, NULL, NULL};
    pthread_mutex_lock(&S.lock);
    memcpy(dir, S.dir, sizeof dir);
    memcpy(cache, S.cache_dir, sizeof cache);
    for (int i = 0; i < 4; i++)
        keys[i] = S.keys[i] ? strdup(S.keys[i]) : NULL;
    pthread_mutex_unlock(&S.lock);
    const char *paths[] = {dir};
    struct ward_db_opts o = {0};
    o.cache_dir = cache[0] ? cache : NULL;
    o.keys.cvd_n = keys[0];
    o.keys.cvd_e = keys[1];
    o.keys.info_n = keys[2];
    o.keys.info_e = keys[3];
    o.reuse = prev;
    o.overlay_max = overlay && prev ? OVERLAY_MAX : 0;
    o.no_full_compile = o.cache_dir != NULL;
    ward_db *db = NULL;
    ward_err e = ward_db_load(paths, 1, &o, &db, d);
    if (e == WARD_ERR_AGAIN) {
        /* the whole set must be compiled: in a child, then from the cache */
        if (!compile_in_child(false))
            o.no_full_compile = false;
        e = ward_db_load(paths, 1, &o, &db, d);
        if (e == WARD_ERR_AGAIN) {
            o.no_full_compile = false;
            e = ward_db_load(paths, 1, &o, &db, d);
        }
    }
    for (int i = 0; i < 4; i++)
        free(keys[i]);
    return e ? NULL : db;
}

static void install(ward_db *db)
{
    pthread_mutex_lock(&S.lock);
    ward_db *old = S.db;
    S.db = db;
    __atomic_add_fetch(&S.generation, 1, __ATOMIC_RELEASE);
    pthread_mutex_unlock(&S.lock);
    /* Old verdicts are keyed by the old database digest: drop them now
       (a full compile of the same signatures keeps them). */
    bool same = old && db && memcmp(ward_db_digest(old), ward_db_digest(db), 32) == 0;
    if (S.cache && !same)
        ward_vcache_clear(S.cache);
    if (old)
        ward_db_unref(old);
    /* Loading and compiling freed much more than it kept: give it back to the
       system rather than hold it until the next reload. */
    malloc_trim(0);
}

static void log_loaded(const ward_db *db, const char *what)
{
    const struct ward_db_stats *st = ward_db_stats(db);
    uint64_t n = 0;
    for (int k = 0; k < WARD_KIND_COUNT; k++)
        n += st->kind[k].loaded;
    char partial[128] = "";
    if (st->partial)
        snprintf(partial, sizeof partial, ", %llu new patterns beside the current compiled form",
                 (unsigned long long)st->overlay_patterns);
    ward_log(WARD_LOG_NOTICE,
             "%s: %llu signatures, version %u, load %.3f s (%llu of %llu files unchanged), "
             "compile %.3f s%s%s",
             what, (unsigned long long)n, st->version, st->load_seconds,
             (unsigned long long)st->files_reused, (unsigned long long)st->files,
             st->compile_seconds, st->compile_cached ? " (cached)" : "", partial);
}

/* Replace a two-part database by its full compile, unless a reload comes first. */
static void compact(void)
{
    ward_db *cur = wardd_db_acquire(NULL);
    if (!cur || !ward_db_stats(cur)->partial || !compile_in_child(true)) {
        ward_db_unref(cur);
        return;
    }
    struct ward_diag d;
    ward_db *db = reload_pending() ? NULL : load(cur, false, &d);
    if (db && !ward_db_stats(db)->partial && !reload_pending()) {
        log_loaded(db, "database compiled in full");
        install(db);
    } else {
        ward_db_unref(db);
    }
    ward_db_unref(cur);
}

static void *reload_main(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&S.lock);
    for (;;) {
        while (!S.pending && !S.stopping)
            pthread_cond_wait(&S.wake, &S.lock);
        if (S.stopping)
            break;
        S.pending = false;
        char why[sizeof S.why];
        memcpy(why, S.why, sizeof why);
        pthread_mutex_unlock(&S.lock);

        ward_log(WARD_LOG_NOTICE, "reloading the database (%s)", why);
        uint8_t digest[32];
        bool have_digest = dir_digest(S.dir, digest);
        struct ward_diag d;
        ward_db *cur = wardd_db_acquire(NULL);
        ward_db *db = load(cur, true, &d);
        ward_db_unref(cur);
        if (db) {
            log_loaded(db, "database reloaded");
            install(db);
            S.failed = false;
            compact();
        } else {
            ward_log(WARD_LOG_ERROR, "reload failed, keeping the current database: %s",
                     d.msg);
            /* Do not retry the same broken files every self-check. */
            S.failed = have_digest;
            if (have_digest)
                memcpy(S.failed_digest, digest, 32);
        }
        pthread_mutex_lock(&S.lock);
    }
    pthread_mutex_unlock(&S.lock);
    return NULL;
}

void wardd_db_configure(const struct wardd_cfg *cfg)
{
    pthread_mutex_lock(&S.lock);
    snprintf(S.dir, sizeof S.dir, "%s", cfg->database_dir);
    snprintf(S.cache_dir, sizeof S.cache_dir, "%s", cfg->cache_dir);
    for (int i = 0; i < 4; i++) {
        free(S.keys[i]);
        S.keys[i] = NULL;
    }
    const char *pems[2] = {cfg->cvd_key, cfg->info_key};
    for (int i = 0; i < 2; i++) {
        struct ward_diag d;
        if (pems[i][0] && ward_dsig_load_pem(pems[i], &S.keys[2 * i], &S.keys[2 * i + 1], &d))
            ward_log(WARD_LOG_ERROR, "%s", d.msg);
    }
    S.self_check = cfg->self_check;
    snprintf(S.config, sizeof S.config, "%s", cfg->config_path);
    pthread_mutex_unlock(&S.lock);
}

bool wardd_db_start(const struct wardd_cfg *cfg, struct ward_diag *diag)
{
    wardd_db_configure(cfg);
    if (ward_vcache_new(cfg->cache_size, &S.cache))
        return ward_diag_set(diag, WARD_ERR_NOMEM, "out of memory"), false;
    ward_db *db = load(NULL, false, diag);
    if (!db)
        return false;
    log_loaded(db, "database loaded");
    install(db);
    S.last_check = time(NULL);
    if (pthread_create(&S.thread, NULL, reload_main, NULL) != 0)
        return ward_diag_set(diag, WARD_ERR_INTERNAL, "cannot start the reload thread"), false;
    S.thread_started = true;
    return true;
}

void wardd_db_request_reload(const char *why)
{
    pthread_mutex_lock(&S.lock);
    S.pending = true;
    snprintf(S.why, sizeof S.why, "%s", why);
    pthread_cond_signal(&S.wake);
    pthread_mutex_unlock(&S.lock);
}

void wardd_db_tick(void)
{
    time_t now = time(NULL);
    if (!S.self_check || now - S.last_check < (time_t)S.self_check)
        return;
    S.last_check = now;
    uint8_t digest[32];
    if (S.failed) {
        if (dir_digest(S.dir, digest) && memcmp(digest, S.failed_digest, 32) != 0)
            wardd_db_request_reload("database directory changed");
        return;
    }
    ward_db *db = wardd_db_acquire(NULL);
    const char *paths[] = {S.dir};
    if (db && ward_db_stale(db, paths, 1))
        wardd_db_request_reload("database directory changed");
    ward_db_unref(db);
}

void wardd_db_stop(void)
{
    if (S.thread_started) {
        pthread_mutex_lock(&S.lock);
        S.stopping = true;
        pthread_cond_signal(&S.wake);
        pthread_mutex_unlock(&S.lock);
        pthread_join(S.thread, NULL);
        S.thread_started = false;
    }
    install(NULL);
    ward_vcache_free(S.cache);
    S.cache = NULL;
    for (int i = 0; i < 4; i++) {
        free(S.keys[i]);
        S.keys[i] = NULL;
    }
}
