/*
 * cmd_config.c - `ward config check [FILE]`: report every problem at once,
 * in ward.conf and in the user_config file it names.
 */
#include <stdio.h>
#include <string.h>

#include "common.h"
#include "mail/policy.h"
#include "util/conf.h"
#include "util/options.h"
#include "util/paths.h"

static void print_problem(void *ctx, const char *msg)
{
    (void)ctx;
    printf("%s\n", msg);
}

int cmd_config(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "check") != 0) {
        fputs("usage: ward config check [FILE]\n", argc < 2 ? stderr : stdout);
        return argc >= 2 && !strcmp(argv[1], "--help") ? EXIT_CLEAN : EXIT_ERROR;
    }
    char def[4096];
    const char *path = argc > 2 ? argv[2] : NULL;
    if (!path) {
        if (!ward_path_default_config(def, sizeof def)) {
            cli_error("cannot locate the default configuration");
            return EXIT_ERROR;
        }
        path = def;
    }
    ward_conf *conf;
    struct ward_diag d;
    if (ward_conf_parse_file(path, &conf, &d)) {
        printf("%s\n", d.msg);
        return EXIT_ERROR;
    }
    unsigned n = ward_options_check(conf, print_problem, NULL);
    /* the per-user and group sections, as wardd reads them */
    static const char *const global[] = {"global", NULL};
    const char *uc = ward_opt_str(conf, global, "user_config");
    if (uc && *uc) {
        ward_conf *users;
        if (ward_conf_parse_file(uc, &users, &d)) {
            printf("%s\n", d.msg);
            n++;
        } else {
            n += ward_policy_check(users, print_problem, NULL);
            ward_conf_free(users);
        }
    }
    ward_conf_free(conf);
    if (n) {
        printf("%s: %u problem%s\n", path, n, n == 1 ? "" : "s");
        return EXIT_ERROR;
    }
    printf("%s: OK\n", path);
    return EXIT_CLEAN;
}
