/*
 * zeek.h — Zeek logs (TSV with headers, or JSON lines) into events typed onto the
 * network-event schema (docs/netevent.md).
 *
 * One parser state per file (struct sl_zeek): the TSV header lines (#separator,
 * #set_separator, #empty_field, #unset_field, #path, #fields, #types) set how the data lines
 * that follow are split and typed. Lines starting with '{' are Zeek JSON (dotted or
 * underscore names). The log's path (`#path`, else the file name up to its first dot:
 * conn.log, http.json, conn.00:00:00-01:00:00.log.gz...) selects the message type: conn →
 * GENERAL, ftp → FTP, http → HTTP, ldap/ldap_search → LDAP, smb_files/smb_mapping → SMB,
 * smtp → SMTP, tds* → TDS, dce_rpc → DCE_RPC. For a typed log the event gets `type` first and
 * Zeek's names become the schema's (id.orig_h → origIp, orig_ip_bytes → origIpBytes); columns
 * the schema does not have keep Zeek's name. An unknown path keeps every Zeek name and sets
 * no `type`.
 *
 * Values (TSV): unset (`-`) → field absent; empty (`(empty)`) → "" or []; time → double
 * seconds, as Zeek's JSON writes it (`ts` also sets the event time, and in a typed log `ts`
 * becomes a timestamp, as the FlatBuffers decoder makes it, so a Zeek file and a collector's
 * messages give the same events and Parquet schemas); count/int/port → int;
 * double/interval → double; bool T/F; addr/subnet/enum/string → string; set/vector → list.
 * \xHH escapes are decoded. The caller owns the thread the state is used on.
 */
#ifndef SL_CODEC_ZEEK_H
#define SL_CODEC_ZEEK_H

#include "base/err.h"
#include "codec/netevent.h"
#include "core/event.h"

#include <stddef.h>

#define SL_ZEEK_MAX_COLUMNS 1024u

struct sl_zeek;

/* where: the file's path (its base name gives the log path until a #path line says
 * otherwise), or NULL. Copied. Aborts on OOM (small). */
struct sl_zeek *sl_zeek_new(const char *where);
/* NULL is a no-op. */
void sl_zeek_free(struct sl_zeek *z);

/*
 * One line (no newline). A data line appends one event to b (ts_ns from `ts`, else 0); header
 * and comment lines only update the state. Strings may point into p: keep p in b's memory.
 * Errors (nothing appended): SL_EPARSE (bad value, wrong column count, data before #fields,
 * bad JSON), SL_E2BIG (too many columns), SL_ELIMIT (field names), SL_ENOMEM, with d->msg.
 */
int sl_zeek_parse_line(struct sl_zeek *z, struct sl_batch *b, const char *p, size_t n,
                       struct sl_diag *d);

/* The message type of the log as known now (SL_NETEVENT_NONE: unknown path). */
enum sl_netevent_type sl_zeek_type(const struct sl_zeek *z);

#endif
