/* fetch.c - libcurl transfers with caps, timeouts and a byte count. */
#include "update/fetch.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util/file.h"

struct ward_fetch {
    CURL *curl;
    struct ward_fetch_opts o;
    uint64_t total;
};

struct sink {
    CURL *curl;
    const struct ward_fetch_req *req;
    uint64_t kept;
    long retry_after;
    bool over, range_done, io_error, checked, discard;
};

static pthread_once_t init_once = PTHREAD_ONCE_INIT;
static CURLcode init_rc;

static void global_init(void)
{
    init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

ward_err ward_fetch_new(const struct ward_fetch_opts *opts, ward_fetch **out,
                        struct ward_diag *diag)
{
    pthread_once(&init_once, global_init);
    if (init_rc != CURLE_OK)
        return ward_diag_set(diag, WARD_ERR_INTERNAL, "libcurl: %s", curl_easy_strerror(init_rc));
    ward_fetch *f = calloc(1, sizeof *f);
    if (!f || !(f->curl = curl_easy_init())) {
        free(f);
        return ward_diag_set(diag, WARD_ERR_NOMEM, "out of memory");
    }
    f->o = *opts;
    *out = f;
    return WARD_OK;
}

void ward_fetch_free(ward_fetch *f)
{
    if (!f)
        return;
    curl_easy_cleanup(f->curl);
    free(f);
}

uint64_t ward_fetch_total(const ward_fetch *f)
{
    return f->total;
}

ward_err ward_fetch_url(const char *server, const char *path, char *out, size_t cap)
{
    size_t n = strlen(server);
    while (n && server[n - 1] == '/')
        n--;
    int w = snprintf(out, cap, "%.*s/%s", (int)n, server, path);
    return w < 0 || (size_t)w >= cap ? WARD_ERR_LIMIT : WARD_OK;
}

static size_t on_header(char *p, size_t size, size_t n, void *arg)
{
    struct sink *s = arg;
    size_t len = size * n;
    if (len > 12 && strncasecmp(p, "Retry-After:", 12) == 0) {
        char v[32];
        size_t k = len - 12 < sizeof v - 1 ? len - 12 : sizeof v - 1;
        memcpy(v, p + 12, k);
        v[k] = 0;
        long secs = strtol(v, NULL, 10);
        /* an HTTP date instead of seconds: wait an hour */
        s->retry_after = secs > 0 ? secs : 3600;
    }
    return len;
}

static size_t on_body(char *p, size_t size, size_t n, void *arg)
{
    struct sink *s = arg;
    size_t len = size * n;
    if (!s->checked) {
        /* Only a successful reply's body is the file; an error page is not. */
        long code = 0;
        curl_easy_getinfo(s->curl, CURLINFO_RESPONSE_CODE, &code);
        s->discard = code != 0 && (code < 200 || code > 299);
        s->checked = true;
    }
    if (s->discard)
        return len;
    uint64_t cap = s->req->first_bytes ? s->req->first_bytes
                   : s->req->buf       ? s->req->buf->cap
                                       : s->req->max;
    size_t take = len;
    if (s->kept + len > cap) {
        take = (size_t)(cap - s->kept);
        if (s->req->first_bytes)
            s->range_done = true; /* a server that ignored Range: we have what we asked */
        else
            s->over = true;
    }
    if (take) {
        ward_err e = s->req->buf ? ward_buf_append(s->req->buf, p, take)
                                 : ward_write_full(s->req->fd, p, take);
        if (e) {
            s->io_error = true;
            return 0;
        }
        s->kept += take;
    }
    return take == len ? len : 0;
}

ward_err ward_fetch_get(ward_fetch *f, const struct ward_fetch_req *req,
                        struct ward_fetch_res *res, struct ward_diag *diag)
{
    CURL *c = f->curl;
    struct sink s = {.curl = c, .req = req};
    char range[48];
    curl_easy_reset(c);
    curl_easy_setopt(c, CURLOPT_URL, req->url);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https,file");
    curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(c, CURLOPT_MAXREDIRS, 5L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_USERAGENT, "Ward-update/1");
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, (long)(f->o.connect_timeout ? f->o.connect_timeout : 30));
    /* less than one byte a second for stall_timeout seconds: the server hangs */
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, (long)(f->o.stall_timeout ? f->o.stall_timeout : 60));
    curl_easy_setopt(c, CURLOPT_FILETIME, 1L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &s);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &s);
    if (req->if_modified_since > 0) {
        curl_easy_setopt(c, CURLOPT_TIMECONDITION, (long)CURL_TIMECOND_IFMODSINCE);
        curl_easy_setopt(c, CURLOPT_TIMEVALUE_LARGE, (curl_off_t)req->if_modified_since);
    }
    if (req->first_bytes) {
        snprintf(range, sizeof range, "0-%llu", (unsigned long long)req->first_bytes - 1);
        curl_easy_setopt(c, CURLOPT_RANGE, range);
    }
    if (f->o.proxy && *f->o.proxy) {
        curl_easy_setopt(c, CURLOPT_PROXY, f->o.proxy);
        if (f->o.proxy_user && *f->o.proxy_user) {
            curl_easy_setopt(c, CURLOPT_PROXYUSERNAME, f->o.proxy_user);
            curl_easy_setopt(c, CURLOPT_PROXYPASSWORD, f->o.proxy_pass ? f->o.proxy_pass : "");
        }
    }
    if (f->o.user && *f->o.user) {
        curl_easy_setopt(c, CURLOPT_USERNAME, f->o.user);
        curl_easy_setopt(c, CURLOPT_PASSWORD, f->o.pass ? f->o.pass : "");
        curl_easy_setopt(c, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
    } else if (f->o.netrc && *f->o.netrc) {
        curl_easy_setopt(c, CURLOPT_NETRC, (long)CURL_NETRC_OPTIONAL);
        curl_easy_setopt(c, CURLOPT_NETRC_FILE, f->o.netrc);
    }
    CURLcode rc = curl_easy_perform(c);
    curl_off_t hdr = 0, body = 0;
    long code = 0, unmet = 0;
    curl_off_t filetime = -1;
    curl_easy_getinfo(c, CURLINFO_HEADER_SIZE, &hdr);
    curl_easy_getinfo(c, CURLINFO_SIZE_DOWNLOAD_T, &body);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
    curl_easy_getinfo(c, CURLINFO_CONDITION_UNMET, &unmet);
    curl_easy_getinfo(c, CURLINFO_FILETIME_T, &filetime);
    f->total += (uint64_t)(hdr > 0 ? hdr : 0) + (uint64_t)(body > 0 ? body : 0);
    memset(res, 0, sizeof *res);
    res->modified = (time_t)filetime;
    res->retry_after = s.retry_after;
    res->bytes = s.kept;
    bool is_file = strncasecmp(req->url, "file:", 5) == 0;
    if (rc == CURLE_WRITE_ERROR && s.range_done)
        rc = CURLE_OK;
    if (s.over)
        return ward_diag_set(diag, WARD_ERR_LIMIT, "%s: larger than expected", req->url);
    if (s.io_error)
        return ward_diag_set(diag, WARD_ERR_IO, "%s: cannot store the download", req->url);
    if (is_file && rc == CURLE_FILE_COULDNT_READ_FILE) {
        res->status = 404;
        return WARD_OK;
    }
    if (rc == CURLE_OPERATION_TIMEDOUT)
        return ward_diag_set(diag, WARD_ERR_TIMEOUT, "%s: timed out", req->url);
    if (rc != CURLE_OK)
        return ward_diag_set(diag, WARD_ERR_IO, "%s: %s", req->url, curl_easy_strerror(rc));
    res->status = is_file ? 200 : code;
    if (unmet)
        res->status = 304;
    return WARD_OK;
}
