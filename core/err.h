/* err: the project's error codes, shared by core/ and server/.
 *
 * Fallible functions return 0 on success or one of these negative codes.
 * aral_strerror() gives a fixed English phrase for each; it never allocates.
 */
#pragma once

enum {
    ARAL_OK = 0,
    ARAL_ENOMEM = -1,    /* an allocation failed */
    ARAL_EINVAL = -2,    /* the input is malformed or out of range */
    ARAL_EIO = -3,       /* an I/O or storage error */
    ARAL_EBUSY = -4,     /* the resource is in use; try again */
    ARAL_ECONFLICT = -5, /* the state changed under the caller */
    ARAL_ENOTFOUND = -6, /* no such object */
    ARAL_ECANCELED = -7, /* a callback asked to stop */
    ARAL_ETOOBIG = -8,   /* a size limit was exceeded */
    ARAL_EVERSION = -9,  /* made by a newer version than this build */
};

/* A static string naming the code; unknown codes give "unknown error". */
const char *aral_strerror(int code);
