/* libs.c - resolve libarchive and GMime at first use. */
#include "formats/libs.h"

#include <pthread.h>

#include "util/lazylib.h"

static struct ward_archive_lib A;
static struct ward_gmime_lib G;
static bool have_archive, have_gmime;
static char archive_error[256], gmime_error[256];
static pthread_once_t archive_once = PTHREAD_ONCE_INIT, gmime_once = PTHREAD_ONCE_INIT;

#define SYM(table, field, fn) {#fn, (void **)&(table).field}

static void load_archive(void)
{
    static const struct ward_lazy_sym syms[] = {
        SYM(A, read_new, archive_read_new),
        SYM(A, read_free, archive_read_free),
        SYM(A, read_open1, archive_read_open1),
        SYM(A, read_next_header, archive_read_next_header),
        SYM(A, read_data_block, archive_read_data_block),
        SYM(A, set_read_callback, archive_read_set_read_callback),
        SYM(A, set_seek_callback, archive_read_set_seek_callback),
        SYM(A, set_skip_callback, archive_read_set_skip_callback),
        SYM(A, set_callback_data, archive_read_set_callback_data),
        SYM(A, support_filter_all, archive_read_support_filter_all),
        SYM(A, support_format_7zip, archive_read_support_format_7zip),
        SYM(A, support_format_ar, archive_read_support_format_ar),
        SYM(A, support_format_cab, archive_read_support_format_cab),
        SYM(A, support_format_cpio, archive_read_support_format_cpio),
        SYM(A, support_format_iso9660, archive_read_support_format_iso9660),
        SYM(A, support_format_lha, archive_read_support_format_lha),
        SYM(A, support_format_rar, archive_read_support_format_rar),
        SYM(A, support_format_rar5, archive_read_support_format_rar5),
        SYM(A, support_format_raw, archive_read_support_format_raw),
        SYM(A, support_format_tar, archive_read_support_format_tar),
        SYM(A, support_format_xar, archive_read_support_format_xar),
        SYM(A, support_format_zip_seekable, archive_read_support_format_zip_seekable),
        SYM(A, support_format_zip_streamable, archive_read_support_format_zip_streamable),
        SYM(A, error_string, archive_error_string),
        SYM(A, set_error, archive_set_error),
        SYM(A, format, archive_format),
        SYM(A, filter_count, archive_filter_count),
        SYM(A, entry_filetype, archive_entry_filetype),
        SYM(A, entry_pathname, archive_entry_pathname),
        SYM(A, entry_is_data_encrypted, archive_entry_is_data_encrypted),
    };
    have_archive = ward_lazy_load("libarchive.so.13", syms, sizeof syms / sizeof *syms,
                                  archive_error, sizeof archive_error);
}

static void load_gmime(void)
{
    static const struct ward_lazy_sym syms[] = {
        SYM(G, init, g_mime_init),
        SYM(G, stream_mem_new, g_mime_stream_mem_new),
        SYM(G, stream_mem_new_with_buffer, g_mime_stream_mem_new_with_buffer),
        SYM(G, stream_mem_get_byte_array, g_mime_stream_mem_get_byte_array),
        SYM(G, stream_fs_new_with_bounds, g_mime_stream_fs_new_with_bounds),
        SYM(G, parser_new_with_stream, g_mime_parser_new_with_stream),
        SYM(G, parser_set_format, g_mime_parser_set_format),
        SYM(G, parser_construct_message, g_mime_parser_construct_message),
        SYM(G, parser_eos, g_mime_parser_eos),
        SYM(G, message_get_mime_part, g_mime_message_get_mime_part),
        SYM(G, message_part_get_message, g_mime_message_part_get_message),
        SYM(G, multipart_get_count, g_mime_multipart_get_count),
        SYM(G, multipart_get_part, g_mime_multipart_get_part),
        SYM(G, multipart_get_prologue, g_mime_multipart_get_prologue),
        SYM(G, part_get_filename, g_mime_part_get_filename),
        SYM(G, part_get_content, g_mime_part_get_content),
        SYM(G, data_wrapper_write_to_stream, g_mime_data_wrapper_write_to_stream),
        SYM(G, object_write_to_stream, g_mime_object_write_to_stream),
        SYM(G, multipart_get_type, g_mime_multipart_get_type),
        SYM(G, message_part_get_type, g_mime_message_part_get_type),
        SYM(G, part_get_type, g_mime_part_get_type),
        SYM(G, object_unref, g_object_unref),
        SYM(G, type_check_instance_is_a, g_type_check_instance_is_a),
    };
    have_gmime = ward_lazy_load("libgmime-3.0.so.0", syms, sizeof syms / sizeof *syms,
                                gmime_error, sizeof gmime_error);
    if (have_gmime)
        G.init();
}

const struct ward_archive_lib *ward_archive_lib(void)
{
    pthread_once(&archive_once, load_archive);
    return have_archive ? &A : NULL;
}

const struct ward_gmime_lib *ward_gmime_lib(void)
{
    pthread_once(&gmime_once, load_gmime);
    return have_gmime ? &G : NULL;
}

const char *ward_libs_error(void)
{
    return archive_error[0] ? archive_error : gmime_error;
}
