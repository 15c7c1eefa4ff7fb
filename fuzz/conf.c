/*
 * conf.c - the INI reader (util/conf.c, ward_conf_parse_mem on the raw,
 * unterminated input) and option validation (util/options.c,
 * ward_options_check and the typed getters). Oracles: every entry is found
 * again by ward_conf_find, and its section by ward_conf_section; every
 * report is a bounded string.
 */
#include <stdlib.h>
#include <string.h>

#include "util/conf.h"
#include "util/options.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void on_report(void *ctx, const char *msg)
{
    (*(unsigned *)ctx)++;
    if (!msg[0] || strlen(msg) >= 1024)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ward_conf *c = NULL;
    struct ward_diag diag;
    diag.msg[0] = 0;
    if (ward_conf_parse_mem("fuzz.conf", (const char *)data, size, &c, &diag)) {
        if (strnlen(diag.msg, sizeof diag.msg) == sizeof diag.msg)
            abort();
        return 0;
    }
    for (size_t i = 0; i < c->n_entries; i++) {
        const struct ward_conf_entry *e = &c->entries[i];
        if (!ward_conf_find(c, e->section, e->key) || !ward_conf_section(c, e->section))
            abort();
    }
    unsigned reports = 0;
    unsigned problems = ward_options_check(c, on_report, &reports);
    if (problems != reports)
        abort();
    static const char *const sections[] = {"scan", "global", NULL};
    for (const struct ward_opt *o = ward_options; o->key; o++) {
        (void)ward_opt_str(c, sections, o->key);
        (void)ward_opt_u64(c, sections, o->key);
    }
    ward_conf_free(c);
    return 0;
}
