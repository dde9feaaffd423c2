/*
 * command_store.h — the distribution history of the `commands` source, in SQLite.
 *
 * The store keeps three things across restarts:
 *   - the current command set: its version (content hash, 16 hex digits), body and the wall
 *     clock when it was fetched;
 *   - the deliveries of that version: (collector id, version, time), at most one per
 *     collector and version — the record that makes "exactly once per collector per
 *     version" hold across concurrent requests and restarts;
 *   - what each input (the `url`, the `file`) last gave: content hash and ETag, so that a
 *     restart neither re-fetches a body the server says is unchanged nor mistakes an
 *     unchanged input for a new version;
 *   - the collector ids admitted so far (of any version; not cleared by a new version), so
 *     that their number can be bounded when no allow-list names the collectors.
 *
 * Thread-safe: every call takes the store's lock (one SQLite connection, serialised).
 */
#ifndef SL_STATE_COMMAND_STORE_H
#define SL_STATE_COMMAND_STORE_H

#include "base/err.h"

#include <stddef.h>
#include <stdint.h>

#define SL_CMDSTORE_VERSION_LEN 16 /* hex digits of a version (XXH3-64 of the body) */
#define SL_CMDSTORE_ETAG_MAX    256

struct sl_cmdstore;

/* Open (creating it and its directory when missing) the SQLite file at `path` (":memory:"
 * for a store that lives as long as the process). 0, or SL_EIO / SL_ECONFIG with d set (a
 * file that is not a database, a schema newer than this sluice's). */
int sl_cmdstore_open(const char *path, struct sl_cmdstore **out, struct sl_diag *d);
/* Close; NULL is a no-op. */
void sl_cmdstore_free(struct sl_cmdstore *s);

/* The current set: 0 with version (NUL-terminated), *body (sl_malloc'd, owned by the
 * caller, NUL-terminated after body_len bytes) and *fetched_ms; SL_ENOENT when no set was
 * ever stored; SL_ENOMEM; SL_EIO. */
int sl_cmdstore_current(struct sl_cmdstore *s, char version[SL_CMDSTORE_VERSION_LEN + 1],
                        char **body, size_t *body_len, int64_t *fetched_ms);

/* In one transaction: make (version, body) the current set and delete every delivery. 0 or
 * SL_EIO (nothing changed). */
int sl_cmdstore_replace(struct sl_cmdstore *s, const char *version, const char *body,
                        size_t body_len, int64_t fetched_ms);

/* Record that collector `id` got `version`: 1 when recorded by this call (the first time),
 * 0 when it was already recorded, SL_EIO. Committed (fsynced) before it returns 1. */
int sl_cmdstore_deliver(struct sl_cmdstore *s, const char *id, size_t id_len, const char *version,
                        int64_t at_ms);

/* Forget that collector `id` got `version` (the answer did not go out): 1 when a record was
 * removed, 0 when there was none (another version came meanwhile), SL_EIO. */
int sl_cmdstore_undeliver(struct sl_cmdstore *s, const char *id, size_t id_len,
                          const char *version);

/* Number of deliveries recorded (of any version; after a replace, of the current one). */
int64_t sl_cmdstore_delivery_count(struct sl_cmdstore *s);

/* Admit collector `id` to the known collectors unless `max` are known already: 1 when this
 * call added it (committed), 0 when it was known, SL_ELIMIT when it is not known and the table
 * holds `max` ids (nothing written), SL_EIO. */
int sl_cmdstore_admit(struct sl_cmdstore *s, const char *id, size_t id_len, int64_t max,
                      int64_t at_ms);
/* Number of known collectors (sl_cmdstore_admit). */
int64_t sl_cmdstore_collector_count(struct sl_cmdstore *s);

/* What input `name` ("url", "file") last gave while it pointed at `location`: 0 with hash
 * (16 hex digits, or "" when it never gave a valid set) and etag ("" when none); SL_ENOENT
 * when nothing is recorded for this name and location. */
int sl_cmdstore_input_get(struct sl_cmdstore *s, const char *name, const char *location,
                          char hash[SL_CMDSTORE_VERSION_LEN + 1], char etag[SL_CMDSTORE_ETAG_MAX]);
/* Record it (replacing what `name` had, whatever its location). 0 or SL_EIO. */
int sl_cmdstore_input_put(struct sl_cmdstore *s, const char *name, const char *location,
                          const char *hash, const char *etag);

/* The hex version of a body: XXH3-64, 16 lowercase hex digits and a NUL. */
void sl_cmdstore_version_of(const char *body, size_t len, char out[SL_CMDSTORE_VERSION_LEN + 1]);

#endif
