/*
 * wardd.h - the scanning daemon's parts and what they share.
 *
 *   config.c   [wardd] and [global] options, read at start and on SIGHUP
 *   dbstate.c  the current signature database; reloads in the background
 *   autoupdate.c  runs `ward update` every [update] update_period minutes
 *   pool.c     worker threads that run scans, each with its own scanner
 *   listen.c   the unix and TCP listening sockets
 *   conn.c     one client connection: framing, sessions, INSTREAM, FILDES
 *   scanjob.c  what a scan command does and the reply it produces
 *   main.c     start-up, signals, the event loop
 *
 * Threads: one event loop thread does all socket I/O; worker threads only
 * scan and hand finished replies back to the loop, which writes them.
 */
#ifndef WARDD_H
#define WARDD_H

#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "engine/db.h"
#include "proto/clamd.h"
#include "proto/mailproto.h"
#include "scan/scan.h"
#include "scan/vcache.h"
#include "util/buf.h"
#include "util/conf.h"
#include "util/spool.h"

struct event_base;

/* ---- configuration ------------------------------------------------------ */

struct wardd_cfg {
    char config_path[PATH_MAX];
    char database_dir[PATH_MAX];
    char cache_dir[PATH_MAX];
    char tmp_dir[PATH_MAX];
    char socket_path[PATH_MAX];
    unsigned socket_mode;
    char socket_group[256];
    char tcp_listen[300];
    char pid_file[PATH_MAX];
    char user[256];
    unsigned max_threads;
    unsigned max_queue;
    unsigned max_connections;
    unsigned read_timeout;  /* seconds */
    unsigned idle_timeout;  /* seconds */
    uint64_t stream_max_length;
    unsigned self_check;    /* seconds, 0: never */
    int log_level;
    char log_file[PATH_MAX];
    bool syslog;
    uint64_t cache_size;
    char cvd_key[PATH_MAX];
    char info_key[PATH_MAX];
    struct ward_scan_limits limits;
};

/* Read and check FILE; every problem is printed/logged through `report`. */
bool wardd_cfg_load(const char *path, struct wardd_cfg *cfg,
                    void (*report)(void *ctx, const char *msg), void *ctx);

/* ---- the database ---------------------------------------------------------- */

/* Take a reference to the current database (release with ward_db_unref). */
ward_db *wardd_db_acquire(uint64_t *generation);
uint64_t wardd_db_generation(void);
/* Load the first database (blocking); false with a message on failure. */
bool wardd_db_start(const struct wardd_cfg *cfg, struct ward_diag *diag);
/* Ask for a reload (RELOAD, SIGUSR2, self-check); it runs in the background. */
void wardd_db_request_reload(const char *why);
/* Apply new settings (paths, keys) for later reloads. */
void wardd_db_configure(const struct wardd_cfg *cfg);
/* Called once a second from the loop: self-check timer. */
void wardd_db_tick(void);
void wardd_db_stop(void);
/* The verdict cache shared by all workers. */
ward_vcache *wardd_cache(void);
/* Version string of the loaded database for VERSION: "N/DATE" */
void wardd_db_version(char *out, size_t cap);

/* ---- periodic updates (autoupdate.c) ----------------------------------------- */

/* Read [update] update_period (at start and SIGHUP). */
void wardd_autoupdate_configure(const char *config_path);
/* Called once a second: start `ward update` when due, reap it when done. */
void wardd_autoupdate_tick(void);

/* ---- work ------------------------------------------------------------------ */

enum job_kind { JOB_PATH, JOB_STREAM, JOB_FD, JOB_MULTI_FILE, JOB_MAIL };

struct conn;
struct multi;

struct job {
    enum job_kind kind;
    enum ward_clamd_kind cmd; /* SCAN, CONTSCAN, MULTISCAN, ALLMATCHSCAN, INSTREAM, FILDES */
    enum ward_clamd_framing framing; /* of the command: the replies end the same way */
    struct conn *conn;
    unsigned id;              /* IDSESSION request number, 0 outside sessions */
    char *path;               /* JOB_PATH, JOB_MULTI_FILE */
    struct ward_tmpspool stream; /* JOB_STREAM */
    int fd;                   /* JOB_FD */
    struct multi *multi;      /* JOB_MULTI_FILE: the MULTISCAN it belongs to */
    struct ward_mailproto_req *mail; /* JOB_MAIL: the envelope */
    int out_fd;               /* JOB_MAIL: a changed message to pass back, or -1 */
    ward_buf reply;           /* filled by the worker (JOB_MAIL: bytes sent as they are) */
    struct job *next;
};

bool pool_start(unsigned threads, unsigned max_queue);
/* Queue a job; false when the queue is full (the caller keeps it). */
bool pool_submit(struct job *j);
/* Queue a job even when full (follow-up work of a running MULTISCAN). */
void pool_submit_force(struct job *j);
bool pool_full(void);
void pool_stop(void);
void pool_stats(unsigned *live, unsigned *idle, unsigned *max, unsigned *queued);
/* Free a job and what it owns. */
void job_free(struct job *j);

/* Run a job in a worker (scanjob.c). */
void scanjob_run(struct job *j, ward_scanner *sc, ward_db *db);

/* MAILSCAN (mailjob.c): ward.conf and its user_config, read at start and on SIGHUP
   (false, with the problems logged, keeps the previous ones). */
bool mailjob_configure(const char *config_path);
void mailjob_stop(void);
void mailjob_run(struct job *j, ward_scanner *sc);
/* Make j's reply a defer carrying `why` (a request that could not be read). */
void mailjob_fail(struct job *j, const char *why);

/* ---- the event loop side ------------------------------------------------- */

/* Worker -> loop: a finished job whose reply the loop sends. */
void loop_complete(struct job *j);
/* Ask the loop to stop (SHUTDOWN, SIGTERM). */
void loop_request_stop(void);

/* Connections (conn.c), used by the loop in main.c. */
void conn_setup(struct event_base *base, const struct wardd_cfg *cfg);
void conn_accept(int fd, bool unix_sock);
char job_delim(const struct job *j);
void conn_finish_job(struct job *j);
void conn_pump_waiting(void);
void conn_sweep(void);
void conn_drain_all(void);
bool conn_busy(void);
unsigned conn_count(void);

/* Listening sockets (listen.c). */
int listen_unix(const struct wardd_cfg *cfg, struct ward_diag *diag);
int listen_tcp(const char *hostport, struct ward_diag *diag);

/* Settings the workers read (main.c); replaced on SIGHUP between scans. */
extern struct ward_scan_limits wardd_limits;
extern char wardd_tmpdir[PATH_MAX];

struct wardd_stats {
    uint64_t connections, commands, scans, infected, errors;
};
extern struct wardd_stats wardd_stats;

#endif
