/*
 * keygen_cmd.c — `sluice keygen [--json]`: a CurveZMQ key pair from libzmq's
 * zmq_curve_keypair() (libsodium's random source), in the three text forms of
 * sys/curvekeys.h, ready to paste into a zmq source (secret_key, public_key) or give to
 * collectors (`sluice send --server-key`) and allow-lists (allow_keys).
 */
#include "app/keygen_cmd.h"
#include "sys/curvekeys.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <zmq.h>

int sl_cmd_keygen(int argc, char **argv)
{
    bool json = false;
    for (int i = 2; i < argc; i++) {
        if (strcmp(argv[i], "--json") == 0) {
            json = true;
        } else {
            fprintf(stderr, "usage: sluice keygen [--json]\n");
            return 2;
        }
    }
    char pz85[41], sz85[41];
    if (zmq_curve_keypair(pz85, sz85)) {
        fprintf(stderr, "sluice keygen: %s (libzmq without CURVE?)\n", zmq_strerror(zmq_errno()));
        return 1;
    }
    uint8_t pub[SL_CURVEKEY_LEN], sec[SL_CURVEKEY_LEN];
    if (sl_z85_decode(pz85, 40, pub) || sl_z85_decode(sz85, 40, sec)) {
        fprintf(stderr, "sluice keygen: libzmq returned an invalid key\n");
        return 1;
    }
    char ph[SL_CURVEKEY_TEXT_MAX], sh[SL_CURVEKEY_TEXT_MAX];
    char phz[SL_CURVEKEY_TEXT_MAX], shz[SL_CURVEKEY_TEXT_MAX];
    sl_curvekey_format(pub, SL_CURVEKEY_HEX, ph);
    sl_curvekey_format(sec, SL_CURVEKEY_HEX, sh);
    sl_curvekey_format(pub, SL_CURVEKEY_HEX_Z85, phz);
    sl_curvekey_format(sec, SL_CURVEKEY_HEX_Z85, shz);
    if (json) {
        /* Z85 may contain any of .-:+=^!/?&<>()[]{}@%$# and '*' but never '"' or '\\' */
        printf("{\"public\":{\"z85\":\"%s\",\"hex_z85\":\"%s\",\"hex\":\"%s\"},"
               "\"secret\":{\"z85\":\"%s\",\"hex_z85\":\"%s\",\"hex\":\"%s\"}}\n",
               pz85, phz, ph, sz85, shz, sh);
        return 0;
    }
    printf("# CurveZMQ key pair; every form below is accepted wherever sluice takes a key\n"
           "public key\n"
           "  z85      %s\n"
           "  hex-z85  %s   (the aggregator's --publicKey)\n"
           "  hex      %s\n"
           "secret key (keep it on the server)\n"
           "  z85      %s\n"
           "  hex-z85  %s   (the aggregator's --secretKey)\n"
           "  hex      %s\n"
           "\n"
           "# for a zmq source:\n"
           "#   secret_key: %s\n"
           "#   public_key: %s\n",
           pz85, phz, ph, sz85, shz, sh, shz, phz);
    return 0;
}
