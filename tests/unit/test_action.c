/* test_action.c - actions on files: parse, delete, move, copy, exec. */
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "scan/action.h"

static void write_file(const char *path, const char *text)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0755);
    if (fd >= 0) {
        (void)!write(fd, text, strlen(text));
        close(fd);
    }
}

int main(void)
{
    struct ward_action a;
    const char *why;
    CHECK(ward_action_parse("report", &a, &why) == WARD_OK && a.kind == WARD_ACT_REPORT);
    CHECK(ward_action_parse("delete", &a, &why) == WARD_OK && a.kind == WARD_ACT_DELETE);
    CHECK(ward_action_parse("move", &a, &why) != WARD_OK);
    CHECK(ward_action_parse("move=relative/dir", &a, &why) != WARD_OK);
    CHECK(ward_action_parse("delete=x", &a, &why) != WARD_OK);
    CHECK(ward_action_parse("explode", &a, &why) != WARD_OK);
    CHECK(ward_action_parse("exec='unterminated", &a, &why) != WARD_OK);

    char **w = ward_split_words("echo 'a b' \"c \\\"d\" e\\ f", &why);
    CHECK(w && !strcmp(w[0], "echo") && !strcmp(w[1], "a b") && !strcmp(w[2], "c \"d") &&
          !strcmp(w[3], "e f") && !w[4]);
    ward_free_words(w);

    char dir[] = "/tmp/ward-action-XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    char f[256], q[256], out[256], res[512], dest[512];
    snprintf(f, sizeof f, "%s/victim.exe", dir);
    snprintf(q, sizeof q, "%s/q", dir);
    snprintf(out, sizeof out, "%s/out.txt", dir);
    mkdir(q, 0700);

    write_file(f, "payload");
    char spec[600];
    snprintf(spec, sizeof spec, "move=%s", q);
    CHECK(ward_action_parse(spec, &a, &why) == WARD_OK);
    CHECK(ward_action_run(&a, f, "X", res, sizeof res, dest, sizeof dest) == WARD_OK);
    CHECK(access(f, F_OK) != 0);
    struct stat st;
    CHECK(stat(dest, &st) == 0 && (st.st_mode & 0777) == 0600);
    /* a second file of the same name does not overwrite the first */
    write_file(f, "payload2");
    CHECK(ward_action_run(&a, f, "X", res, sizeof res, dest, sizeof dest) == WARD_OK);
    CHECK(strstr(dest, "victim.exe.1") != NULL);
    ward_action_free(&a);

    write_file(f, "payload3");
    snprintf(spec, sizeof spec, "copy=%s", q);
    CHECK(ward_action_parse(spec, &a, &why) == WARD_OK);
    CHECK(ward_action_run(&a, f, "X", res, sizeof res, dest, sizeof dest) == WARD_OK);
    CHECK(access(f, F_OK) == 0 && access(dest, F_OK) == 0);
    ward_action_free(&a);

    /* exec runs without a shell: ';' is an argument, not a separator */
    snprintf(spec, sizeof spec, "exec=sh -c 'printf \"%%s|%%s\" \"$0\" \"$1\" > %s' %%path%% %%name%%",
             out);
    CHECK(ward_action_parse(spec, &a, &why) == WARD_OK);
    CHECK(ward_action_run(&a, f, "Name;rm", res, sizeof res, NULL, 0) == WARD_OK);
    char buf[512] = {0};
    int fd = open(out, O_RDONLY);
    if (fd >= 0) {
        (void)!read(fd, buf, sizeof buf - 1);
        close(fd);
    }
    char want[512];
    snprintf(want, sizeof want, "%s|Name;rm", f);
    CHECK_STR(buf, want);
    ward_action_free(&a);

    CHECK(ward_action_parse("exec=/nonexistent/program", &a, &why) == WARD_OK);
    CHECK(ward_action_run(&a, f, "X", res, sizeof res, NULL, 0) != WARD_OK);
    ward_action_free(&a);

    CHECK(ward_action_parse("delete", &a, &why) == WARD_OK);
    CHECK(ward_action_run(&a, f, "X", res, sizeof res, NULL, 0) == WARD_OK);
    CHECK(access(f, F_OK) != 0);
    CHECK(ward_action_run(&a, f, "X", res, sizeof res, NULL, 0) != WARD_OK);

    /* quarantine: into the store, then the file goes; without a store nothing happens */
    char store[300];
    snprintf(store, sizeof store, "%s/store", dir);
    struct ward_qopts qo = {0, 0, true};
    ward_quarantine *qs = NULL;
    struct ward_diag d;
    CHECK(ward_quarantine_open(store, NULL, &qo, &qs, &d) == WARD_OK);
    struct ward_qmeta m = {.program = "test", .verdict = "infected"};
    struct ward_action_ctx ctx = {qs, &m, false, NULL};
    ward_action_free(&a);
    CHECK(ward_action_parse("quarantine=x", &a, &why) != WARD_OK);
    CHECK(ward_action_parse("quarantine", &a, &why) == WARD_OK && a.kind == WARD_ACT_QUARANTINE);
    write_file(f, "payload4");
    CHECK(ward_action_run(&a, f, "X", res, sizeof res, NULL, 0) != WARD_OK);
    CHECK(access(f, F_OK) == 0);
    CHECK(ward_action_run_ctx(&a, &ctx, f, "X", res, sizeof res, dest, sizeof dest) == WARD_OK);
    CHECK(access(f, F_OK) != 0);
    CHECK(strstr(res, "quarantined as ") && strlen(dest) == WARD_QID_LEN);
    struct ward_qrecord r;
    CHECK(qs && ward_quarantine_get(qs, dest, &r, &d) == WARD_OK);
    CHECK(r.kind == WARD_QKIND_QUARANTINE && r.size == 8 && r.have_attrs && r.mode == 0755);
    CHECK_STR(r.path, f);
    ward_qrecord_free(&r);
    /* backup before delete */
    char bid[WARD_QID_LEN + 1] = "";
    ctx.backup = true;
    ctx.backup_id = bid;
    CHECK(ward_action_parse("delete", &a, &why) == WARD_OK);
    write_file(f, "payload5");
    CHECK(ward_action_run_ctx(&a, &ctx, f, "X", res, sizeof res, NULL, 0) == WARD_OK);
    CHECK(access(f, F_OK) != 0 && strstr(res, "backed up as ") && strstr(res, "removed"));
    CHECK(qs && ward_quarantine_get(qs, bid, &r, &d) == WARD_OK && r.kind == WARD_QKIND_BACKUP);
    ward_qrecord_free(&r);
    /* copy changes nothing: no backup */
    snprintf(spec, sizeof spec, "copy=%s", dir);
    write_file(f, "payload6");
    bid[0] = 0;
    CHECK(ward_action_parse(spec, &a, &why) == WARD_OK);
    CHECK(ward_action_run_ctx(&a, &ctx, f, "X", res, sizeof res, NULL, 0) == WARD_OK);
    CHECK(bid[0] == 0);
    ward_action_free(&a);
    /* a failed backup stops the action */
    ward_quarantine_close(qs);
    chmod(store, 0755); /* a store others can read is refused */
    CHECK(ward_quarantine_open(store, NULL, &qo, &qs, &d) != WARD_OK);
    ctx.store = NULL;
    CHECK(ward_action_parse("delete", &a, &why) == WARD_OK);
    CHECK(ward_action_run_ctx(&a, &ctx, f, "X", res, sizeof res, NULL, 0) != WARD_OK);
    CHECK(access(f, F_OK) == 0 && strstr(res, "not removed"));
    ward_action_free(&a);

    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    (void)!system(cmd);
    return CHECK_DONE();
}
