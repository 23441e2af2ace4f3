/* libstrongroom-client.so -- the generated C_* wrappers (the functions whose request and
 * answer follow from their C parameters and call signatures), the stubs of the functions
 * the protocol cannot carry, and the function lists: client_calls.inc, written at build
 * time by gen_tables.py. */
#include "client.h"

#include "client_calls.inc"
