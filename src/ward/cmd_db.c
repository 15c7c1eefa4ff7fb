/*
 * cmd_db.c - `ward db info|check|list`: what a signature database holds
 * (keygen, build and verify are in cmd_dbsign.c).
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "common.h"

static void usage(FILE *f)
{
    fputs("usage: ward db info [PATH...]    kinds, counts loaded and skipped, version\n"
          "       ward db check PATH...     parse only, report every error\n"
          "       ward db list [PATH...]    names of all detectable threats\n"
          "       ward db keygen|build|verify  sign and publish bundles (ward db build --help)\n"
          "PATH is a signature file or directory; default: the configured database.\n"
          "Options: -c, --config FILE\n",
          f);
}

static void print_name(void *ctx, const char *name)
{
    (void)ctx;
    puts(name);
}

struct check_ctx {
    unsigned errors;
};

static void count_error(void *ctx, const char *msg)
{
    (void)msg;
    ((struct check_ctx *)ctx)->errors++;
}

static void print_info(const ward_db *db, struct cli_env *env)
{
    const struct ward_db_stats *st = ward_db_stats(db);
    printf("Database: ");
    for (size_t i = 0; i < env->n_databases; i++)
        printf("%s%s", i ? ", " : "", env->databases[i]);
    printf("\n");
    if (st->version)
        printf("Version: %u\n", st->version);
    else
        printf("Version: none (plain signature files)\n");
    if (st->build_time) {
        char when[64];
        struct tm tm;
        gmtime_r(&st->build_time, &tm);
        strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S UTC", &tm);
        printf("Built: %s\n", when);
    }
    printf("Files read: %llu\n", (unsigned long long)st->files);
    printf("%-8s %10s %10s\n", "kind", "loaded", "skipped");
    unsigned long long loaded = 0, skipped = 0;
    for (int k = 0; k < WARD_KIND_COUNT; k++) {
        const struct ward_kind_stats *ks = &st->kind[k];
        if (!ks->loaded && !ks->skipped)
            continue;
        printf("%-8s %10llu %10llu\n", ward_kind_name((enum ward_sigkind)k),
               (unsigned long long)ks->loaded, (unsigned long long)ks->skipped);
        loaded += ks->loaded;
        skipped += ks->skipped;
    }
    printf("%-8s %10llu %10llu\n", "total", loaded, skipped);
    if (st->ignored)
        printf("Ignored by .ign2: %llu\n", (unsigned long long)st->ignored);
    if (st->flevel_skipped)
        printf("For other engine levels: %llu\n", (unsigned long long)st->flevel_skipped);
    if (st->skipped_files)
        printf("Files of unknown kind: %llu\n", (unsigned long long)st->skipped_files);
    printf("Body patterns compiled: %llu (%llu approximate, confirmed by PCRE2)\n",
           (unsigned long long)st->body_patterns, (unsigned long long)st->prefilter_patterns);
    if (st->uncompiled_patterns)
        printf("Body patterns Vectorscan cannot compile (never match): %llu\n",
               (unsigned long long)st->uncompiled_patterns);
    printf("Load: %.3f s, compile: %.3f s%s\n", st->load_seconds, st->compile_seconds,
           st->compile_cached ? " (from cache)" : "");
}

int cmd_db(int argc, char **argv)
{
    struct cli_env env = {0};
    const char *config = NULL;
    static const struct option opts[] = {{"config", required_argument, NULL, 'c'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    int ch, rc = EXIT_ERROR;
    if (argc < 2) {
        usage(stderr);
        return EXIT_ERROR;
    }
    const char *sub = argv[1];
    if (!strcmp(sub, "keygen") || !strcmp(sub, "build") || !strcmp(sub, "verify"))
        return cmd_db_sign(argc, argv);
    optind = 2;
    while ((ch = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
        if (ch == 'c') {
            config = optarg;
        } else if (ch == 'h') {
            usage(stdout);
            return EXIT_CLEAN;
        } else {
            usage(stderr);
            return EXIT_ERROR;
        }
    }
    if (!cli_load_config(&env, config))
        return EXIT_ERROR;
    for (int i = optind; i < argc; i++)
        if (!cli_add_database(&env, argv[i]))
            goto out;

    if (strcmp(sub, "check") == 0) {
        if (env.n_databases == 0) {
            cli_error("db check: give at least one signature file or directory");
            goto out;
        }
        /* Parse only; every malformed line is printed as it is found. */
        ward_db *db = cli_load_database(&env, true, true);
        if (db) {
            const struct ward_db_stats *st = ward_db_stats(db);
            unsigned long long n = 0;
            for (int k = 0; k < WARD_KIND_COUNT; k++)
                n += st->kind[k].loaded;
            printf("OK: %llu signatures\n", n);
            ward_db_unref(db);
            rc = EXIT_CLEAN;
        } else {
            printf("FAILED\n");
        }
    } else if (strcmp(sub, "info") == 0) {
        ward_db *db = cli_load_database(&env, false, false);
        if (db) {
            print_info(db, &env);
            ward_db_unref(db);
            rc = EXIT_CLEAN;
        }
    } else if (strcmp(sub, "list") == 0) {
        ward_db *db = cli_load_database(&env, true, false);
        if (db) {
            ward_db_each_name(db, print_name, NULL);
            ward_db_unref(db);
            rc = EXIT_CLEAN;
        }
    } else {
        cli_error("db: unknown command '%s'", sub);
        usage(stderr);
    }
out:
    cli_env_free(&env);
    (void)count_error;
    return rc;
}
