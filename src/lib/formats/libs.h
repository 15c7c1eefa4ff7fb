/*
 * libs.h - libarchive and GMime (with GLib), loaded by the first scan that
 * needs them (see util/lazylib.h): an idle daemon does not carry them.
 *
 * archive.c and mail.c call these libraries through the tables below; the
 * macros in archive_calls.h and gmime_calls.h let their code keep the
 * libraries' own names. ward_archive_lib() and ward_gmime_lib() return NULL
 * (with a message from ward_libs_error()) when a library cannot be loaded.
 */
#ifndef WARD_FORMATS_LIBS_H
#define WARD_FORMATS_LIBS_H

#include <archive.h>
#include <archive_entry.h>
#define G_DISABLE_CAST_CHECKS 1 /* GObject casts as plain C casts: no symbol needed */
#include <gmime/gmime.h>

struct ward_archive_lib {
    __typeof__(&archive_read_new) read_new;
    __typeof__(&archive_read_free) read_free;
    __typeof__(&archive_read_open1) read_open1;
    __typeof__(&archive_read_next_header) read_next_header;
    __typeof__(&archive_read_data_block) read_data_block;
    __typeof__(&archive_read_set_read_callback) set_read_callback;
    __typeof__(&archive_read_set_seek_callback) set_seek_callback;
    __typeof__(&archive_read_set_skip_callback) set_skip_callback;
    __typeof__(&archive_read_set_callback_data) set_callback_data;
    __typeof__(&archive_read_support_filter_all) support_filter_all;
    __typeof__(&archive_read_support_format_7zip) support_format_7zip;
    __typeof__(&archive_read_support_format_ar) support_format_ar;
    __typeof__(&archive_read_support_format_cab) support_format_cab;
    __typeof__(&archive_read_support_format_cpio) support_format_cpio;
    __typeof__(&archive_read_support_format_iso9660) support_format_iso9660;
    __typeof__(&archive_read_support_format_lha) support_format_lha;
    __typeof__(&archive_read_support_format_rar) support_format_rar;
    __typeof__(&archive_read_support_format_rar5) support_format_rar5;
    __typeof__(&archive_read_support_format_raw) support_format_raw;
    __typeof__(&archive_read_support_format_tar) support_format_tar;
    __typeof__(&archive_read_support_format_xar) support_format_xar;
    __typeof__(&archive_read_support_format_zip_seekable) support_format_zip_seekable;
    __typeof__(&archive_read_support_format_zip_streamable) support_format_zip_streamable;
    __typeof__(&archive_error_string) error_string;
    __typeof__(&archive_set_error) set_error;
    __typeof__(&archive_format) format;
    __typeof__(&archive_filter_count) filter_count;
    __typeof__(&archive_entry_filetype) entry_filetype;
    __typeof__(&archive_entry_pathname) entry_pathname;
    __typeof__(&archive_entry_is_data_encrypted) entry_is_data_encrypted;
};

struct ward_gmime_lib {
    __typeof__(&g_mime_init) init;
    __typeof__(&g_mime_stream_mem_new) stream_mem_new;
    __typeof__(&g_mime_stream_mem_new_with_buffer) stream_mem_new_with_buffer;
    __typeof__(&g_mime_stream_mem_get_byte_array) stream_mem_get_byte_array;
    __typeof__(&g_mime_stream_fs_new_with_bounds) stream_fs_new_with_bounds;
    __typeof__(&g_mime_parser_new_with_stream) parser_new_with_stream;
    __typeof__(&g_mime_parser_set_format) parser_set_format;
    __typeof__(&g_mime_parser_construct_message) parser_construct_message;
    __typeof__(&g_mime_parser_eos) parser_eos;
    __typeof__(&g_mime_message_get_mime_part) message_get_mime_part;
    __typeof__(&g_mime_message_part_get_message) message_part_get_message;
    __typeof__(&g_mime_multipart_get_count) multipart_get_count;
    __typeof__(&g_mime_multipart_get_part) multipart_get_part;
    __typeof__(&g_mime_multipart_get_prologue) multipart_get_prologue;
    __typeof__(&g_mime_part_get_filename) part_get_filename;
    __typeof__(&g_mime_part_get_content) part_get_content;
    __typeof__(&g_mime_data_wrapper_write_to_stream) data_wrapper_write_to_stream;
    __typeof__(&g_mime_object_write_to_stream) object_write_to_stream;
    __typeof__(&g_mime_multipart_get_type) multipart_get_type;
    __typeof__(&g_mime_message_part_get_type) message_part_get_type;
    __typeof__(&g_mime_part_get_type) part_get_type;
    __typeof__(&g_object_unref) object_unref;
    __typeof__(&g_type_check_instance_is_a) type_check_instance_is_a;
};

const struct ward_archive_lib *ward_archive_lib(void);
const struct ward_gmime_lib *ward_gmime_lib(void);
const char *ward_libs_error(void);

#endif
