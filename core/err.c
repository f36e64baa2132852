#include "err.h"

const char *aral_strerror(int code)
{
    switch (code) {
    case ARAL_OK:
        return "ok";
    case ARAL_ENOMEM:
        return "out of memory";
    case ARAL_EINVAL:
        return "invalid input";
    case ARAL_EIO:
        return "input/output error";
    case ARAL_EBUSY:
        return "busy";
    case ARAL_ECONFLICT:
        return "conflict";
    case ARAL_ENOTFOUND:
        return "not found";
    case ARAL_ECANCELED:
        return "canceled";
    case ARAL_ETOOBIG:
        return "too big";
    case ARAL_EVERSION:
        return "unsupported version";
    default:
        return "unknown error";
    }
}
