/* The engine's error codes and their messages (error.h). Calls nothing. */
#include "error.h"

const char *sim_strerror(int err)
{
    switch (err) {
#define SIM_ERR_CASE_(name, val, msg) case val: return msg;
        SIM_ERRNO_MAP(SIM_ERR_CASE_)
#undef SIM_ERR_CASE_
    }
    return "unknown error";
}
