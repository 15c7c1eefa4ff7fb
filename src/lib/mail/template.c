/* template.c - macro expansion with per-context escaping, and template files. */
#include "mail/template.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "util/file.h"

struct builtin {
    const char *name, *text;
};

/* Kept short and neutral; conf/templates holds the same texts to edit. */
static const struct builtin builtins[] = {
    {"header_clean.txt", ""},
    {"header_clean.html", ""},
    {"footer_clean.txt", "\n-- \nScanned by Ward on %HOSTNAME%: no virus found.\n"},
    {"footer_clean.html", "<p><small>Scanned by Ward on %HOSTNAME%: no virus found.</small></p>\n"},
    {"header_infected.txt",
     "*** Ward found dangerous content in this message: %VIRUSNAME% (%ACTION%). ***\n\n"},
    {"header_infected.html",
     "<p><b>Ward found dangerous content in this message: %VIRUSNAME% (%ACTION%).</b></p>\n"},
    {"footer_infected.txt", "\n-- \nScanned by Ward on %HOSTNAME%: %VIRUSNAME%.\n"},
    {"footer_infected.html", "<p><small>Scanned by Ward on %HOSTNAME%: %VIRUSNAME%.</small></p>\n"},
    {"header_notscanned.txt",
     "*** Ward could not fully scan this message (%VIRUSNAME%): open its attachments with "
     "care. ***\n\n"},
    {"header_notscanned.html",
     "<p><b>Ward could not fully scan this message (%VIRUSNAME%): open its attachments with "
     "care.</b></p>\n"},
    {"footer_notscanned.txt", "\n-- \nNot fully scanned by Ward on %HOSTNAME%: %VIRUSNAME%.\n"},
    {"footer_notscanned.html",
     "<p><small>Not fully scanned by Ward on %HOSTNAME%: %VIRUSNAME%.</small></p>\n"},
    {"removed.txt", "Ward removed an attachment from this message: %VIRUSNAME%.\n"
                    "Ask the sender for a safe copy if you need it.\n"},
    {"notify_sender.txt",
     "Your message to %RECIPIENTS% (subject \"%SUBJECT%\", %DATE%) was not delivered as sent:\n"
     "Ward on %HOSTNAME% found %VIRUSNAME%; action: %ACTION%.\n"},
    {"notify_recipients.txt",
     "A message from %SENDER% to you (subject \"%SUBJECT%\", %DATE%) was not delivered as sent:\n"
     "Ward on %HOSTNAME% found %VIRUSNAME%; action: %ACTION%.\n"},
    {"notify_admin.txt", "Ward on %HOSTNAME% found %VIRUSNAME% in a message.\n\n"
                         "Sender:     %SENDER%\nRecipients: %RECIPIENTS%\nSubject:    %SUBJECT%\n"
                         "Message-ID: %MESSAGEID%\nDate:       %DATE%\nAction:     %ACTION%\n"},
};

const char *ward_template_builtin(const char *name)
{
    for (size_t i = 0; i < sizeof builtins / sizeof builtins[0]; i++)
        if (strcmp(builtins[i].name, name) == 0)
            return builtins[i].text;
    return "";
}

static const char *macro_value(const struct ward_tmpl_vars *v, const char *name, size_t n,
                               bool *known)
{
    static const struct {
        const char *name;
        size_t off;
    } macros[] = {
        {"VIRUSNAME", offsetof(struct ward_tmpl_vars, virusname)},
        {"SENDER", offsetof(struct ward_tmpl_vars, sender)},
        {"RECIPIENTS", offsetof(struct ward_tmpl_vars, recipients)},
        {"SUBJECT", offsetof(struct ward_tmpl_vars, subject)},
        {"MESSAGEID", offsetof(struct ward_tmpl_vars, messageid)},
        {"DATE", offsetof(struct ward_tmpl_vars, date)},
        {"ACTION", offsetof(struct ward_tmpl_vars, action)},
        {"HOSTNAME", offsetof(struct ward_tmpl_vars, hostname)},
    };
    for (size_t i = 0; i < sizeof macros / sizeof macros[0]; i++) {
        if (strlen(macros[i].name) == n && memcmp(macros[i].name, name, n) == 0) {
            *known = true;
            const char *val = *(const char *const *)((const char *)v + macros[i].off);
            return val ? val : "";
        }
    }
    *known = false;
    return NULL;
}

ward_err ward_template_put(ward_buf *out, const char *val, enum ward_tmpl_ctx ctx)
{
    ward_err err = WARD_OK;
    for (size_t i = 0; val[i] && i < WARD_TMPL_MAX_VALUE && !err; i++) {
        unsigned char c = (unsigned char)val[i];
        if (c == '\r' || c == '\n')
            err = ward_buf_putc(out, ' ');
        else if ((c < 0x20 && c != '\t') || c == 0x7f)
            continue;
        else if (ctx == WARD_TMPL_HTML && c == '<')
            err = ward_buf_puts(out, "&lt;");
        else if (ctx == WARD_TMPL_HTML && c == '>')
            err = ward_buf_puts(out, "&gt;");
        else if (ctx == WARD_TMPL_HTML && c == '&')
            err = ward_buf_puts(out, "&amp;");
        else if (ctx == WARD_TMPL_HTML && c == '"')
            err = ward_buf_puts(out, "&quot;");
        else if (ctx == WARD_TMPL_HTML && c == '\'')
            err = ward_buf_puts(out, "&#39;");
        else
            err = ward_buf_putc(out, c);
    }
    return err;
}

ward_err ward_template_expand(const char *tmpl, const struct ward_tmpl_vars *v,
                              enum ward_tmpl_ctx ctx, ward_buf *out)
{
    ward_err err = WARD_OK;
    const char *p = tmpl;
    while (*p && !err) {
        const char *pct = strchr(p, '%');
        size_t lit = pct ? (size_t)(pct - p) : strlen(p);
        if (ctx == WARD_TMPL_HEADER) {
            /* the administrator's own text must not break the header either */
            for (size_t i = 0; i < lit && !err; i++)
                err = ward_buf_putc(out, p[i] == '\r' || p[i] == '\n' ? ' ' : (uint8_t)p[i]);
        } else {
            err = ward_buf_append(out, p, lit);
        }
        if (!pct || err)
            break;
        if (pct[1] == '%') {
            err = ward_buf_putc(out, '%');
            p = pct + 2;
            continue;
        }
        const char *end = strchr(pct + 1, '%');
        bool known = false;
        const char *val = end ? macro_value(v, pct + 1, (size_t)(end - pct - 1), &known) : NULL;
        if (!known) {
            err = ward_buf_putc(out, '%');
            p = pct + 1;
            continue;
        }
        err = ward_template_put(out, val, ctx);
        p = end + 1;
    }
    return err;
}

ward_err ward_template_load(const char *dir, const char *name, ward_buf *out,
                            struct ward_diag *diag)
{
    ward_buf_reset(out);
    if (dir && *dir) {
        char path[4096];
        if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, name) >= sizeof path)
            return ward_diag_set(diag, WARD_ERR_LIMIT, "%s/%s: path too long", dir, name);
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd >= 0) {
            size_t cap = out->cap;
            out->cap = cap < WARD_TMPL_MAX_FILE ? cap : WARD_TMPL_MAX_FILE;
            ward_err err = ward_fd_read_all(fd, path, out, diag);
            out->cap = cap;
            close(fd);
            return err;
        }
        if (errno != ENOENT)
            return ward_diag_set(diag, WARD_ERR_IO, "%s: %s", path, strerror(errno));
    }
    return ward_buf_puts(out, ward_template_builtin(name));
}
