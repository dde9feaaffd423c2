/*
 * netevent_int.h — the schema as netevent.c knows it (module-private; tests read it to check
 * that schemas/netevent.fbs and the decoder agree field for field).
 */
#ifndef SL_CODEC_NETEVENT_INT_H
#define SL_CODEC_NETEVENT_INT_H

#include "codec/netevent.h"

#include <stdint.h>

/* Field kinds, with the .fbs spelling of each. */
#define SL_NE_KINDS(X)                                                                             \
    X(BOOL, "bool")                                                                                \
    X(U16, "ushort")                                                                               \
    X(I64, "long")                                                                                 \
    X(U64, "ulong")                                                                                \
    X(F64, "double")                                                                               \
    X(TIME, "long (time)")                                                                         \
    X(STR, "string")                                                                               \
    X(VSTR, "[string]")                                                                            \
    X(TABLE, "table")

enum sl_netevent__kind {
#define SL_NE_KIND_ENUM(n, s) SL_NE_K_##n,
    SL_NE_KINDS(SL_NE_KIND_ENUM)
#undef SL_NE_KIND_ENUM
};

struct sl_netevent__field {
    const char *name;
    uint8_t kind; /* enum sl_netevent__kind */
};

struct sl_netevent__table {
    const char *fbs_name;   /* "GeneralData"; "NetEvent" for the root */
    const char *root_field; /* its field in NetEvent ("general"); NULL for the root */
    const struct sl_netevent__field *fields;
    uint32_t count;
};

/* [0] the root's common fields (slots 0..9; the type tables follow in slots 10..19),
 * [type] the type tables in enum order. */
const struct sl_netevent__table *sl_netevent__table(unsigned index);
/* .fbs spelling of a kind */
const char *sl_netevent__kind_fbs(unsigned kind);

#define SL_NE_COMMON_COUNT 10u

#endif
