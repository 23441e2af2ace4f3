/* libstrongroom-client.so -- interfaces: C_GetFunctionList, C_GetInterfaceList,
 * C_GetInterface. The in-process module's own code serves here too: the same four
 * interfaces in the same order over this module's generated function lists (calls.c). */
#include "client.h"

#include "../abi/shim_tail.c"
