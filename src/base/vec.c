/*
 * vec.c — growable array (see vec.h).
 */
#include "base/vec.h"

#include "base/alloc.h"
#include "base/err.h"

#include <string.h>

void sl_vec_init(struct sl_vec *v, size_t elem_len)
{
    v->ptr = NULL;
    v->count = v->cap = 0;
    v->elem_len = elem_len;
}

void sl_vec_fini(struct sl_vec *v)
{
    sl_free(v->ptr);
    v->ptr = NULL;
    v->count = v->cap = 0;
}

int sl_vec_reserve(struct sl_vec *v, size_t count)
{
    if (count <= v->cap)
        return 0;
    size_t cap = v->cap ? v->cap : 8;
    while (cap < count)
        cap *= 2;
    void *p = sl_realloc(v->ptr, cap * v->elem_len);
    if (!p)
        return SL_ENOMEM;
    v->ptr = p;
    v->cap = cap;
    return 0;
}

void *sl_vec_push_zero(struct sl_vec *v)
{
    if (sl_vec_reserve(v, v->count + 1))
        return NULL;
    void *e = (char *)v->ptr + v->count * v->elem_len;
    memset(e, 0, v->elem_len);
    v->count++;
    return e;
}

int sl_vec_push(struct sl_vec *v, const void *elem)
{
    void *e = sl_vec_push_zero(v);
    if (!e)
        return SL_ENOMEM;
    memcpy(e, elem, v->elem_len);
    return 0;
}

void *sl_vec_at(const struct sl_vec *v, size_t i)
{
    return i < v->count ? (char *)v->ptr + i * v->elem_len : NULL;
}
