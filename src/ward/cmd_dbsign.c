/*
 * cmd_dbsign.c - `ward db keygen|build|verify`: the publisher's commands for
 * Ward's own signed bundles (update/publish.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common.h"
#include "update/minisign.h"
#include "update/publish.h"
#include "util/file.h"
#include "util/strutil.h"

static void usage(FILE *f)
{
    fputs("usage: ward db keygen --secret FILE --public FILE [--force]\n"
          "       ward db build --key SECRET --version N --out DIR [--name NAME]\n"
          "                     [--min-engine VERSION] SOURCE_DIR\n"
          "       ward db verify --public-key FILE [--public-key FILE...] DIR\n",
          f);
}

/* Create path with mode (exclusively unless force) and write the buffer. */
static bool write_new(const char *path, const ward_buf *b, mode_t mode, bool force)
{
    if (force)
        unlink(path);
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
    if (fd < 0) {
        cli_error("%s: %s%s", path, strerror(errno),
                  errno == EEXIST ? " (use --force to replace it)" : "");
        return false;
    }
    bool ok = fchmod(fd, mode) == 0 && !ward_write_full(fd, b->data, b->len);
    if (close(fd) != 0 || !ok) {
        cli_error("%s: cannot write: %s", path, strerror(errno));
        unlink(path);
        return false;
    }
    return true;
}

static int keygen(const char *secret, const char *public, bool force)
{
    struct ward_minisign_pub pub;
    struct ward_minisign_sec sec;
    ward_buf s, p;
    if (!secret || !public) {
        cli_error("db keygen: --secret and --public are required");
        return EXIT_ERROR;
    }
    if (ward_minisign_keygen(&pub, &sec)) {
        cli_error("db keygen: no source of random numbers");
        return EXIT_ERROR;
    }
    ward_buf_init(&s, WARD_MINISIGN_MAX_FILE);
    ward_buf_init(&p, WARD_MINISIGN_MAX_FILE);
    bool ok = !ward_minisign_sec_write(&sec, &s) && !ward_minisign_pub_write(&pub, &p) &&
              write_new(secret, &s, 0600, force) && write_new(public, &p, 0644, force);
    char id[17];
    ward_minisign_id_hex(pub.id, id);
    if (ok)
        printf("key %s: secret key %s (keep it private), public key %s\n", id, secret, public);
    memset(&sec, 0, sizeof sec);
    memset(s.data, 0, s.len);
    ward_buf_free(&s);
    ward_buf_free(&p);
    return ok ? EXIT_CLEAN : EXIT_ERROR;
}

static bool read_key_file(const char *path, bool secret, void *key)
{
    ward_buf b;
    struct ward_diag d;
    struct stat st;
    ward_buf_init(&b, WARD_MINISIGN_MAX_FILE);
    ward_err e = ward_file_read_all(path, &b, &d);
    if (!e && secret && stat(path, &st) == 0 && (st.st_mode & 077))
        fprintf(stderr, "ward: warning: %s is readable by others (mode %04o); chmod 600 it\n",
                path, (unsigned)(st.st_mode & 07777));
    if (!e)
        e = secret ? ward_minisign_sec_parse(path, b.data, b.len, key, &d)
                   : ward_minisign_pub_parse(path, b.data, b.len, key, &d);
    if (b.data)
        memset(b.data, 0, b.len);
    ward_buf_free(&b);
    if (e)
        cli_error("%s", d.msg);
    return !e;
}

static int build(const char *key, const char *version, const char *out, const char *name,
                 const char *min_engine, const char *src)
{
    struct ward_publish p = {.name = name ? name : "ward", .min_engine = min_engine,
                             .source_dir = src, .out_dir = out};
    struct ward_minisign_sec sec;
    if (!key || !version || !out || !src) {
        cli_error("db build: --key, --version, --out and SOURCE_DIR are required");
        return EXIT_ERROR;
    }
    if (!ward_parse_u64(version, &p.version) || p.version == 0) {
        cli_error("db build: --version must be a whole number above 0");
        return EXIT_ERROR;
    }
    if (!read_key_file(key, true, &sec))
        return EXIT_ERROR;
    /* publish nothing that would not load: parse the sources first */
    struct cli_env env = {0};
    if (!cli_add_database(&env, src))
        return EXIT_ERROR;
    ward_db *db = cli_load_database(&env, true, false);
    cli_env_free(&env);
    if (!db)
        return EXIT_ERROR;
    ward_db_unref(db);
    p.key = &sec;
    struct ward_publish_stats st;
    struct ward_diag d;
    ward_err e = ward_bundle_publish(&p, &st, &d);
    memset(&sec, 0, sizeof sec);
    if (e) {
        cli_error("db build: %s", d.msg);
        return EXIT_ERROR;
    }
    printf("bundle %s version %llu: %zu files, %llu bytes, %zu new in %s/ward/objects\n", p.name,
           (unsigned long long)p.version, st.files, (unsigned long long)st.bytes, st.new_objects,
           out);
    return EXIT_CLEAN;
}

static void print_verified(void *ctx, const char *name, uint64_t version, size_t files)
{
    (void)ctx;
    printf("%s version %llu: OK, %zu files\n", name, (unsigned long long)version, files);
}

int cmd_db_sign(int argc, char **argv)
{
    static const struct option opts[] = {
        {"secret", required_argument, NULL, 's'},  {"public", required_argument, NULL, 'p'},
        {"force", no_argument, NULL, 'f'},         {"key", required_argument, NULL, 'k'},
        {"version", required_argument, NULL, 'v'}, {"out", required_argument, NULL, 'o'},
        {"name", required_argument, NULL, 'n'},    {"min-engine", required_argument, NULL, 'm'},
        {"public-key", required_argument, NULL, 'P'}, {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    const char *secret = NULL, *public = NULL, *key = NULL, *version = NULL, *out = NULL;
    const char *name = NULL, *min_engine = NULL, *pubs[16];
    size_t n_pubs = 0;
    bool force = false;
    int ch;
    const char *sub = argv[1];
    optind = 2;
    while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (ch) {
        case 's': secret = optarg; break;
        case 'p': public = optarg; break;
        case 'f': force = true; break;
        case 'k': key = optarg; break;
        case 'v': version = optarg; break;
        case 'o': out = optarg; break;
        case 'n': name = optarg; break;
        case 'm': min_engine = optarg; break;
        case 'P':
            if (n_pubs == sizeof pubs / sizeof *pubs) {
                cli_error("too many --public-key options");
                return EXIT_ERROR;
            }
            pubs[n_pubs++] = optarg;
            break;
        case 'h': usage(stdout); return EXIT_CLEAN;
        default: usage(stderr); return EXIT_ERROR;
        }
    }
    if (!strcmp(sub, "keygen"))
        return optind == argc ? keygen(secret, public, force) : (usage(stderr), EXIT_ERROR);
    if (!strcmp(sub, "build"))
        return optind == argc - 1 ? build(key, version, out, name, min_engine, argv[optind])
                                  : (usage(stderr), EXIT_ERROR);
    /* verify */
    if (optind != argc - 1 || n_pubs == 0) {
        usage(stderr);
        return EXIT_ERROR;
    }
    struct ward_minisign_pub keys[16];
    for (size_t i = 0; i < n_pubs; i++)
        if (!read_key_file(pubs[i], false, &keys[i]))
            return EXIT_ERROR;
    struct ward_diag d;
    if (ward_bundle_verify(argv[optind], keys, n_pubs, print_verified, NULL, &d)) {
        cli_error("db verify: %s", d.msg);
        return EXIT_ERROR;
    }
    return EXIT_CLEAN;
}
