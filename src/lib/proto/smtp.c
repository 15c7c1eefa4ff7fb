/* smtp.c - SMTP/LMTP wire syntax (see smtp.h). */
#include <string.h>
#include <strings.h>

#include "proto/smtp.h"

static const char *const verbs[WARD_SMTP_VERB_COUNT] = {
    "", "HELO", "EHLO", "LHLO", "MAIL", "RCPT", "DATA", "BDAT", "RSET",
    "NOOP", "QUIT", "VRFY", "EXPN", "HELP", "STARTTLS", "XFORWARD", "AUTH",
};

const char *ward_smtp_verb_name(enum ward_smtp_verb v)
{
    return (unsigned)v < WARD_SMTP_VERB_COUNT ? verbs[v] : "";
}

enum ward_smtp_line_result ward_smtp_line(const uint8_t *p, size_t n, size_t max, size_t *len,
                                          size_t *used)
{
    size_t lim = n < max ? n : max;
    const uint8_t *lf = memchr(p, '\n', lim);
    if (!lf)
        return n >= max ? WARD_SMTP_LINE_TOO_LONG : WARD_SMTP_LINE_MORE;
    size_t i = (size_t)(lf - p);
    *used = i + 1;
    *len = i > 0 && p[i - 1] == '\r' ? i - 1 : i;
    return WARD_SMTP_LINE_OK;
}

size_t ward_smtp_skip_line(const uint8_t *p, size_t n, bool *found)
{
    const uint8_t *lf = memchr(p, '\n', n);
    *found = lf != NULL;
    return lf ? (size_t)(lf - p) + 1 : n;
}

static bool is_ctl(unsigned char c)
{
    return (c < 0x20 && c != '\t') || c == 0x7f;
}

void ward_smtp_parse_cmd(const char *line, size_t len, struct ward_smtp_cmd *cmd)
{
    memset(cmd, 0, sizeof *cmd);
    for (size_t i = 0; i < len; i++)
        if (is_ctl((unsigned char)line[i]))
            cmd->bad_bytes = true;
    size_t vlen = 0;
    while (vlen < len && line[vlen] != ' ')
        vlen++;
    for (int v = 1; v < WARD_SMTP_VERB_COUNT; v++) {
        if (strlen(verbs[v]) == vlen && strncasecmp(line, verbs[v], vlen) == 0) {
            cmd->verb = (enum ward_smtp_verb)v;
            break;
        }
    }
    size_t a = vlen;
    while (a < len && line[a] == ' ')
        a++;
    size_t e = len;
    while (e > a && (line[e - 1] == ' ' || line[e - 1] == '\t'))
        e--;
    if (e > a) {
        cmd->arg = line + a;
        cmd->arg_len = e - a;
    }
}

static bool is_alnum(unsigned char c)
{
    return (c >= '0' && c <= '9') || ((c | 0x20) >= 'a' && (c | 0x20) <= 'z');
}

/* esmtp-keyword ["=" esmtp-value], value bytes 33-126 but "=", or UTF-8 (RFC 6531). */
static bool parse_param(const char *p, size_t n, struct ward_smtp_param *out)
{
    size_t k = 0;
    if (n == 0 || !is_alnum((unsigned char)p[0]))
        return false;
    while (k < n && p[k] != '=') {
        if (!is_alnum((unsigned char)p[k]) && p[k] != '-')
            return false;
        k++;
    }
    out->key = p;
    out->key_len = k;
    out->val = NULL;
    out->val_len = 0;
    if (k == n)
        return true;
    if (k + 1 == n)
        return false;
    for (size_t i = k + 1; i < n; i++) {
        unsigned char c = (unsigned char)p[i];
        if (c == '=' || c <= ' ' || c == 0x7f)
            return false;
    }
    out->val = p + k + 1;
    out->val_len = n - k - 1;
    return true;
}

enum ward_smtp_path_result ward_smtp_parse_path(const char *arg, size_t len, const char *prefix,
                                                struct ward_smtp_path *out)
{
    memset(out, 0, sizeof *out);
    size_t pl = strlen(prefix), i;
    if (!arg || len < pl || strncasecmp(arg, prefix, pl) != 0)
        return WARD_SMTP_PATH_SYNTAX;
    for (i = pl; i < len && arg[i] == ' '; i++)
        ;
    if (i == len || arg[i] != '<')
        return WARD_SMTP_PATH_SYNTAX;
    size_t start = ++i;
    bool quoted = false;
    for (; i < len; i++) {
        unsigned char c = (unsigned char)arg[i];
        if (is_ctl(c) || c == '\t')
            return WARD_SMTP_PATH_SYNTAX;
        if (quoted && c == '\\') {
            if (++i == len || is_ctl((unsigned char)arg[i]))
                return WARD_SMTP_PATH_SYNTAX;
            continue;
        }
        if (c == '"')
            quoted = !quoted;
        else if (!quoted && (c == '>' || c == '<' || c == ' '))
            break;
    }
    if (i == len || arg[i] != '>' || i - start > WARD_SMTP_MAX_PATH)
        return WARD_SMTP_PATH_SYNTAX;
    out->addr = arg + start;
    out->addr_len = i - start;
    i++;
    if (i < len && arg[i] != ' ')
        return WARD_SMTP_PATH_SYNTAX;
    while (i < len && arg[i] == ' ')
        i++;
    out->params = arg + i;
    out->params_len = len - i;
    while (i < len) {
        size_t e = i;
        while (e < len && arg[e] != ' ')
            e++;
        if (out->n_params == WARD_SMTP_MAX_PARAMS ||
            !parse_param(arg + i, e - i, &out->param[out->n_params]))
            return WARD_SMTP_PATH_PARAM;
        out->n_params++;
        for (i = e; i < len && arg[i] == ' '; i++)
            ;
    }
    return WARD_SMTP_PATH_OK;
}

const struct ward_smtp_param *ward_smtp_param_get(const struct ward_smtp_path *p, const char *key)
{
    size_t kl = strlen(key);
    for (size_t i = 0; i < p->n_params; i++)
        if (p->param[i].key_len == kl && strncasecmp(p->param[i].key, key, kl) == 0)
            return &p->param[i];
    return NULL;
}

bool ward_smtp_parse_reply(const char *line, size_t len, unsigned *code, bool *last)
{
    if (len < 3)
        return false;
    for (int i = 0; i < 3; i++)
        if (line[i] < '0' || line[i] > '9')
            return false;
    if (line[0] < '2' || line[0] > '5')
        return false;
    *code = (unsigned)(line[0] - '0') * 100 + (unsigned)(line[1] - '0') * 10 +
            (unsigned)(line[2] - '0');
    if (len == 3) {
        *last = true;
        return true;
    }
    if (line[3] != ' ' && line[3] != '-')
        return false;
    *last = line[3] == ' ';
    return true;
}

/* ---- DATA ---------------------------------------------------------------- */

/* Copy in[i..] up to the next CR or LF to out + *o; returns where it stopped. */
static size_t copy_text(const uint8_t *in, size_t i, size_t n, uint8_t *out, size_t *o)
{
    size_t j = i;
    while (j < n && in[j] != '\r' && in[j] != '\n')
        j++;
    memcpy(out + *o, in + i, j - i);
    *o += j - i;
    return j;
}

enum { D_BOL = 0, D_TEXT, D_CR, D_DOT, D_DOT_CR };

void ward_smtp_data_init(struct ward_smtp_data *d)
{
    memset(d, 0, sizeof *d);
    d->state = D_BOL;
}

size_t ward_smtp_data_feed(struct ward_smtp_data *d, const uint8_t *in, size_t n, uint8_t *out,
                           size_t *out_len, bool *done)
{
    size_t o = 0, i;
    int st = d->state;
    *done = false;
    for (i = 0; i < n; i++) {
        uint8_t c = in[i];
        switch (st) {
        case D_TEXT:
            /* the common case: copy up to the next line-end byte */
            if (c != '\r' && c != '\n') {
                i = copy_text(in, i, n, out, &o) - 1;
                continue;
            }
            if (c == '\r') {
                st = D_CR;
            } else {
                out[o++] = '\r', out[o++] = '\n', d->bare++;
            }
            break;
        case D_BOL:
            if (c == '.') {
                st = D_DOT;
            } else if (c == '\r') {
                st = D_CR;
            } else if (c == '\n') {
                out[o++] = '\r', out[o++] = '\n', d->bare++;
                st = D_TEXT;
            } else {
                out[o++] = c;
                st = D_TEXT;
            }
            break;
        case D_CR:
            out[o++] = '\r', out[o++] = '\n';
            if (c == '\n') {
                st = D_BOL;
            } else {
                d->bare++;
                if (c != '\r') {
                    out[o++] = c;
                    st = D_TEXT;
                }
            }
            break;
        case D_DOT:
            if (c == '\r') {
                st = D_DOT_CR;
            } else if (c == '\n') {
                /* ".<LF>": not an end; the dot stays, re-stuffed on output */
                out[o++] = '.', out[o++] = '\r', out[o++] = '\n', d->bare++;
                st = D_TEXT;
            } else {
                out[o++] = c; /* the stuffed dot goes */
                st = D_TEXT;
            }
            break;
        case D_DOT_CR:
            if (c == '\n') {
                d->state = D_BOL;
                d->out += o;
                *out_len = o;
                *done = true;
                return i + 1;
            }
            out[o++] = '.', out[o++] = '\r', out[o++] = '\n', d->bare++;
            if (c == '\r') {
                st = D_CR;
            } else {
                out[o++] = c;
                st = D_TEXT;
            }
            break;
        }
    }
    d->state = st;
    d->out += o;
    *out_len = o;
    return n;
}

enum { S_BOL = 0, S_TEXT, S_CR };

void ward_smtp_stuff_init(struct ward_smtp_stuff *s)
{
    s->state = S_BOL;
}

size_t ward_smtp_stuff_feed(struct ward_smtp_stuff *s, const uint8_t *in, size_t n, uint8_t *out)
{
    size_t o = 0;
    int st = s->state;
    for (size_t i = 0; i < n; i++) {
        uint8_t c = in[i];
        if (st == S_TEXT && c != '\r' && c != '\n') {
            i = copy_text(in, i, n, out, &o) - 1;
            continue;
        }
        if (st == S_CR) {
            out[o++] = '\r', out[o++] = '\n';
            st = S_BOL;
            if (c == '\n')
                continue;
        }
        if (c == '\r') {
            st = S_CR;
        } else if (c == '\n') {
            out[o++] = '\r', out[o++] = '\n';
            st = S_BOL;
        } else {
            if (st == S_BOL && c == '.')
                out[o++] = '.';
            out[o++] = c;
            st = S_TEXT;
        }
    }
    s->state = st;
    return o;
}

size_t ward_smtp_stuff_end(struct ward_smtp_stuff *s, uint8_t *out)
{
    size_t o = 0;
    if (s->state != S_BOL)
        out[o++] = '\r', out[o++] = '\n';
    out[o++] = '.', out[o++] = '\r', out[o++] = '\n';
    s->state = S_BOL;
    return o;
}
