/* One error enumeration and one strerror for the whole project.
 * Functions return 0 on success or a negative SIM_E* code. */
#ifndef SIM_ERROR_H
#define SIM_ERROR_H

/* X(name, value, message) */
#define SIM_ERRNO_MAP(X)                                              \
    X(OK,       0,  "success")                                        \
    X(NOMEM,   -1,  "out of memory")                                  \
    X(INVAL,   -2,  "invalid argument")                               \
    X(IO,      -3,  "input/output error")                             \
    X(CONFIG,  -4,  "invalid scenario")                               \
    X(SYNTAX,  -5,  "YAML syntax error")                              \
    X(BUDGET,  -6,  "run budget exceeded")                            \
    X(HDF5,    -7,  "HDF5 library error")                             \
    X(NOTFOUND,-8,  "not found")                                      \
    X(STATE,   -9,  "operation not valid in the current state")       \
    X(RANGE,   -10, "value out of range")                             \
    X(INTERRUPTED, -11, "interrupted")                                \
    X(EXHAUSTED, -12, "resource exhausted")                           \
    X(EXIST,   -13, "file exists")

typedef enum {
#define SIM_ERR_ENUM_(name, val, msg) SIM_E##name = (val),
    SIM_ERRNO_MAP(SIM_ERR_ENUM_)
#undef SIM_ERR_ENUM_
} sim_err_t;

/* Static message for an error code; never NULL. */
const char *sim_strerror(int err);

#endif
