/* serve.c - answering one request of ward-mirrord from the mirror tree. */
#include <errno.h>
#include <fcntl.h>
#include <microhttpd.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mirrord.h"
#include "update/httphdr.h"
#include "util/log.h"

static enum MHD_Result reply_text(struct MHD_Connection *c, unsigned code, const char *text)
{
    struct MHD_Response *r =
        MHD_create_response_from_buffer(strlen(text), (void *)text, MHD_RESPMEM_PERSISTENT);
    if (!r)
        return MHD_NO;
    MHD_add_response_header(r, "Content-Type", "text/plain");
    enum MHD_Result ret = MHD_queue_response(c, code, r);
    MHD_destroy_response(r);
    return ret;
}

/* A path inside the tree: no "..", no dot files, no empty segments. */
static bool path_ok(const char *url)
{
    if (url[0] != '/' || strlen(url) > 1024)
        return false;
    for (const char *seg = url + 1; *seg;) {
        const char *slash = strchr(seg, '/');
        size_t n = slash ? (size_t)(slash - seg) : strlen(seg);
        if (n == 0 || seg[0] == '.')
            return false;
        seg += n + (slash != NULL);
        if (slash && !*seg)
            return false;
    }
    return url[1] != 0;
}

/* Compare secrets in time that does not depend on where they differ. */
static bool same_secret(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    unsigned char diff = la != lb;
    for (size_t i = 0; i < la && i < lb; i++)
        diff |= (unsigned char)(a[i] ^ b[i]);
    return diff == 0;
}

static bool authorized(struct MHD_Connection *c, const struct mirrord_cfg *cfg)
{
    if (!cfg->user[0])
        return true;
    char *pass = NULL;
    char *user = MHD_basic_auth_get_username_password(c, &pass);
    bool ok = user && pass && same_secret(user, cfg->user) && same_secret(pass, cfg->pass);
    MHD_free(user);
    MHD_free(pass);
    return ok;
}

static enum MHD_Result serve_file(struct MHD_Connection *c, const char *path, bool head)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        if (fd >= 0)
            close(fd);
        return reply_text(c, MHD_HTTP_NOT_FOUND, "not found\n");
    }
    char lm[40];
    ward_http_date_format(st.st_mtime, lm, sizeof lm);
    const char *ims = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "If-Modified-Since");
    time_t since;
    if (ims && ward_http_date_parse(ims, strlen(ims), &since) && st.st_mtime <= since) {
        close(fd);
        struct MHD_Response *r = MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);
        MHD_add_response_header(r, "Last-Modified", lm);
        enum MHD_Result ret = MHD_queue_response(c, MHD_HTTP_NOT_MODIFIED, r);
        MHD_destroy_response(r);
        return ret;
    }
    uint64_t size = (uint64_t)st.st_size, first = 0, last = size ? size - 1 : 0;
    unsigned code = MHD_HTTP_OK;
    const char *range = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Range");
    enum ward_range rk = range ? ward_http_range(range, strlen(range), size, &first, &last)
                               : WARD_RANGE_NONE;
    if (rk == WARD_RANGE_UNSATISFIABLE) {
        close(fd);
        char cr[64];
        snprintf(cr, sizeof cr, "bytes */%llu", (unsigned long long)size);
        struct MHD_Response *r = MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);
        MHD_add_response_header(r, "Content-Range", cr);
        enum MHD_Result ret = MHD_queue_response(c, MHD_HTTP_RANGE_NOT_SATISFIABLE, r);
        MHD_destroy_response(r);
        return ret;
    }
    uint64_t len = size ? last - first + 1 : 0;
    if (rk == WARD_RANGE_OK)
        code = MHD_HTTP_PARTIAL_CONTENT;
    struct MHD_Response *r;
    if (head) {
        close(fd);
        r = MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);
    } else {
        r = MHD_create_response_from_fd_at_offset64(len, fd, (int64_t)first); /* owns fd */
    }
    if (!r)
        return MHD_NO;
    MHD_add_response_header(r, "Last-Modified", lm);
    MHD_add_response_header(r, "Accept-Ranges", "bytes");
    MHD_add_response_header(r, "Content-Type", "application/octet-stream");
    if (code == MHD_HTTP_PARTIAL_CONTENT) {
        char cr[96];
        snprintf(cr, sizeof cr, "bytes %llu-%llu/%llu", (unsigned long long)first,
                 (unsigned long long)last, (unsigned long long)size);
        MHD_add_response_header(r, "Content-Range", cr);
    }
    enum MHD_Result ret = MHD_queue_response(c, code, r);
    MHD_destroy_response(r);
    return ret;
}

int mirrord_serve(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                  const char *version, const char *upload, size_t *upload_size, void **state)
{
    const struct mirrord_cfg *cfg = cls;
    (void)version;
    (void)upload;
    if (*state == NULL) {
        /* first call: headers only; answer on the second, once any body is read */
        static int marker;
        *state = &marker;
        return MHD_YES;
    }
    if (*upload_size) {
        *upload_size = 0; /* a body we do not want */
        return MHD_YES;
    }
    bool head = strcmp(method, MHD_HTTP_METHOD_HEAD) == 0;
    if (!head && strcmp(method, MHD_HTTP_METHOD_GET) != 0)
        return reply_text(c, MHD_HTTP_METHOD_NOT_ALLOWED, "only GET and HEAD\n");
    if (!authorized(c, cfg)) {
        struct MHD_Response *r =
            MHD_create_response_from_buffer(13, (void *)"unauthorized\n", MHD_RESPMEM_PERSISTENT);
        enum MHD_Result ret = MHD_queue_basic_auth_fail_response(c, "Ward mirror", r);
        MHD_destroy_response(r);
        ward_log(WARD_LOG_INFO, "%s %s: 401", method, url);
        return ret;
    }
    char path[PATH_MAX + 1100];
    if (!path_ok(url) || snprintf(path, sizeof path, "%s%s", cfg->dir, url) >= (int)sizeof path)
        return reply_text(c, MHD_HTTP_NOT_FOUND, "not found\n");
    const char *range = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Range");
    ward_log(WARD_LOG_INFO, "%s %s%s%.40s", method, url, range ? " Range: " : "", range ? range : "");
    return serve_file(c, path, head);
}
