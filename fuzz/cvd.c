/*
 * cvd.c - the .cvd/.cld/.cud container reader (engine/cvd.c) through
 * ward_load_source: the 512-byte header, the MD5 and RSA header signature
 * (engine/dsig.c), gzip, the tar walk, the .info list with its PSS DSIG
 * line, and the member loaders behind it.
 *
 * The first input byte selects the case, the rest is the container:
 *   bits 0-1: name ends in .cvd, .cld, .cud, .cld
 *   bit 2:    verify with ClamAV's keys instead of the test key below
 *   bit 3:    call it daily.* rather than main.*
 * The test key (2048-bit RSA, e = 65537, made by make-seeds.py, which signs
 * the seeds with it) lets seeds pass verification and reach the members.
 */
#include "sigload.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char test_n[] =
    "248145363955819944916021262968882637567337546344771366126168901256607520354828741247"
    "296324706355993906598336748268607583022670449918416261260663167263544192909452833218"
    "721562990918243506649049813144268958935860276168661600488173078309430986801418418490"
    "287485845501319723311895490302944963492793397823858055180916047097570058299544864631"
    "119428647589995327149279045593584116611276881281379383551701415202121505051265159113"
    "211380214952764603675850554582639516561154026278920482643104861907206705530622151583"
    "284108009742614740920482683540254280747699209992291375493920014158127495244562209008"
    "84439101139883326840119365683";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const exts[] = {".cvd", ".cld", ".cud", ".cld"};
    if (size < 1)
        return 0;
    char name[32];
    snprintf(name, sizeof name, "%s%s", (data[0] & 8) ? "daily" : "main", exts[data[0] & 3]);
    struct ward_db_opts opts = {0};
    opts.check_only = true;
    opts.collect_errors = true;
    opts.on_error = fuzz_on_error;
    if (!(data[0] & 4)) {
        opts.keys.cvd_n = opts.keys.info_n = test_n;
        opts.keys.cvd_e = opts.keys.info_e = "65537";
    }
    uint64_t errors = 0;
    ward_seg *db = fuzz_seg_new();
    (void)fuzz_load(db, &opts, name, data + 1, size - 1, &errors);
    fuzz_check_pats(db);
    ward_seg_unref(db);
    if (errors) {
        opts.collect_errors = false;
        db = fuzz_seg_new();
        (void)fuzz_load(db, &opts, name, data + 1, size - 1, NULL);
        ward_seg_unref(db);
    }
    return 0;
}
