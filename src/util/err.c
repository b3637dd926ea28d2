#include "zhtp/err.h"

#define ENTRY_(name, value, msg) {value, #name, msg},
static const struct {
    int code;
    const char *name;
    const char *msg;
} table[] = {ZHTP_ERR_LIST(ENTRY_)};
#undef ENTRY_

const char *zhtp_strerror(int err)
{
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++)
        if (table[i].code == err)
            return table[i].msg;
    return "unknown error";
}

const char *zhtp_err_name(int err)
{
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++)
        if (table[i].code == err)
            return table[i].name;
    return NULL;
}

bool zhtp_err_is_fatal(int err)
{
    return err <= -900;
}
