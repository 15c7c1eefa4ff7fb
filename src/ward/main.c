/*
 * main.c - `ward`, the administrator's command: scan, db, quarantine, config, version.
 */
#include <stdio.h>
#include <string.h>

#include <hs/hs.h>

#include "common.h"
#include "ward_config.h"

static void usage(FILE *f)
{
    fputs("usage: ward COMMAND [OPTIONS] [ARGS]\n\n"
          "Commands:\n"
          "  scan PATH...        scan files and directories (ward scan --help)\n"
          "  db info|check|list  inspect signature databases\n"
          "  db keygen|build|verify  sign and publish Ward signature bundles\n"
          "  update              download and install signature updates (ward update --help)\n"
          "  quarantine COMMAND  list, show, restore, export, delete, purge, verify the\n"
          "                      quarantine and backup store (ward quarantine --help)\n"
          "  config check [FILE] check a configuration file\n"
          "  version             print versions\n",
          f);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return EXIT_ERROR;
    }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "scan"))
        return cmd_scan(argc - 1, argv + 1);
    if (!strcmp(cmd, "db"))
        return cmd_db(argc - 1, argv + 1);
    if (!strcmp(cmd, "update"))
        return cmd_update(argc - 1, argv + 1);
    if (!strcmp(cmd, "quarantine"))
        return cmd_quarantine(argc - 1, argv + 1);
    if (!strcmp(cmd, "config"))
        return cmd_config(argc - 1, argv + 1);
    if (!strcmp(cmd, "version") || !strcmp(cmd, "--version") || !strcmp(cmd, "-V")) {
        printf("Ward %s (Vectorscan %s)\n", WARD_VERSION, hs_version());
        return EXIT_CLEAN;
    }
    if (!strcmp(cmd, "help") || !strcmp(cmd, "--help") || !strcmp(cmd, "-h")) {
        usage(stdout);
        return EXIT_CLEAN;
    }
    fprintf(stderr, "ward: unknown command '%s'\n", cmd);
    usage(stderr);
    return EXIT_ERROR;
}
