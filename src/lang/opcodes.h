/*
 * opcodes.h — the Stellar VM's instruction set, one X-macro row per opcode.
 *
 * An instruction is 8 bytes: op, a (destination register), b, c, d (16-bit operands).
 * Registers are per frame (a chunk: the main expression or one lambda body; a lambda's
 * parameters are its registers 0..n-1). Jump targets are absolute instruction indexes.
 * The row's third column says how the disassembler prints the operands:
 *   A = a register,  AB = a, b registers,  ABC = three registers,  K = a, constant b,
 *   V = a, variable b,  J = target b,  AJ = register a, target b,  F = call,
 *   N = a, first register b, count c,  P = a, depth b, index c,  L = a, chunk b,
 *   C = a, row slot b (SQL column references).
 */
#ifndef SL_LANG_OPCODES_H
#define SL_LANG_OPCODES_H

#define SL_OPCODES(X)                                                                              \
    X(NOP, "nop", 0)          /* nothing */                                                        \
    X(LOADK, "loadk", K)      /* a = const[b] */                                                   \
    X(LOADV, "loadv", V)      /* a = variable names[b] (resolver; strict: error if undefined) */   \
    X(EXISTS, "exists", V)    /* a = variable names[b] is defined and not null */                  \
    X(LOADP, "loadp", P)      /* a = register c of the frame b levels up (lambda closure) */       \
    X(MOVE, "move", AB)       /* a = b */                                                          \
    X(NOTNULL, "notnull", AB) /* a = b is not null */                                              \
    X(ADD, "add", ABC)        /* a = b + c, Java promotion, null as 0 */                           \
    X(SUB, "sub", ABC)        /* a = b - c */                                                      \
    X(MUL, "mul", ABC)        /* a = b * c */                                                      \
    X(DIV, "div", ABC)        /* a = b / c; integer division by zero is an error */                \
    X(EQ, "eq", ABC)          /* a = b == c (Java equals, numbers promoted) */                     \
    X(NE, "ne", ABC)          /* a = b != c */                                                     \
    X(LT, "lt", ABC)          /* a = b < c; null on either side: false; incomparable: error */     \
    X(LE, "le", ABC)          /* a = b <= c */                                                     \
    X(GT, "gt", ABC)          /* a = b > c */                                                      \
    X(GE, "ge", ABC)          /* a = b >= c */                                                     \
    X(IN, "in", ABC)          /* a = b in c (substring, element, key, or equals) */                \
    X(NOTIN, "notin", ABC)    /* a = not (b in c) */                                               \
    X(NOT, "not", AB)         /* a = not truthy(b) */                                              \
    X(TRUTHY, "truthy", AB)   /* a = truthy(b) as a boolean */                                     \
    X(JMP, "jmp", J)          /* goto b */                                                         \
    X(JF, "jf", AJ)           /* if a is false (a boolean): goto b */                              \
    X(JT, "jt", AJ)           /* if a is true (a boolean): goto b */                               \
    X(CALL, "call", F)        /* a = funcs[b](registers c .. c+d-1) */                             \
    X(LIST, "list", N)        /* a = [registers b .. b+c-1] */                                     \
    X(MAP, "map", N)          /* a = {b: b+1, ...}, c pairs */                                     \
    X(LAMBDA, "lambda", L)    /* a = the lambda of chunk b */                                      \
    X(RET, "ret", A)          /* return a from the frame */                                        \
    X(LOADC, "loadc", C)      /* a = the current row's slot b (resolver cols); null if b >= ncols */

/* operand layouts (third column) */
enum sl_opf {
    SL_OPF_0,
    SL_OPF_A,
    SL_OPF_AB,
    SL_OPF_ABC,
    SL_OPF_K,
    SL_OPF_V,
    SL_OPF_J,
    SL_OPF_AJ,
    SL_OPF_F,
    SL_OPF_N,
    SL_OPF_P,
    SL_OPF_L,
    SL_OPF_C
};

enum sl_op {
#define SL_OP_ENUM(n, s, f) SL_OP_##n,
    SL_OPCODES(SL_OP_ENUM)
#undef SL_OP_ENUM
        SL_OP__COUNT
};

#endif
