/*
 * vec.h — growable array of fixed-size elements.
 */
#ifndef SL_BASE_VEC_H
#define SL_BASE_VEC_H

#include <stddef.h>

struct sl_vec {
    void *ptr;
    size_t count;
    size_t cap;
    size_t elem_len;
};

#define SL_VEC_INIT(type)     ((struct sl_vec){NULL, 0, 0, sizeof(type)})
#define SL_VEC_AT(v, type, i) (((type *)(v)->ptr)[i])

void sl_vec_init(struct sl_vec *v, size_t elem_len);
void sl_vec_fini(struct sl_vec *v);
/* Append a copy of *elem. 0 or SL_ENOMEM. */
int sl_vec_push(struct sl_vec *v, const void *elem);
/* Append a zeroed element and return it (NULL on OOM). */
void *sl_vec_push_zero(struct sl_vec *v);
int sl_vec_reserve(struct sl_vec *v, size_t count);
void *sl_vec_at(const struct sl_vec *v, size_t i);

#endif
