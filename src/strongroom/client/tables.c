/* libstrongroom-client.so -- the generated tables (client_tables.h, SR_TABLES_DATA):
 * mechanism and message parameter layouts, attribute wire classes, and their look-ups. */
#define SR_TABLES_DATA 1
#include "client.h"

static const sr_layout *sr_find_layout(const sr_layout *t, size_t n, CK_MECHANISM_TYPE mech)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (t[mid].mech == mech)
            return &t[mid];
        if (t[mid].mech < mech)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

int sr_attr_cls(CK_ATTRIBUTE_TYPE type)
{
    size_t lo = 0, hi = SR_N_ATTR_CLASSES;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (sr_attr_classes[mid].type == type)
            return sr_attr_classes[mid].cls;
        if (sr_attr_classes[mid].type < type)
            lo = mid + 1;
        else
            hi = mid;
    }
    return SR_A_BYTES;
}

const sr_layout *sr_mech_layout(CK_MECHANISM_TYPE mech)
{
    return sr_find_layout(sr_mech_layouts, SR_N_MECH_LAYOUTS, mech);
}

const sr_layout *sr_msg_param_layout(CK_MECHANISM_TYPE mech)
{
    return sr_find_layout(sr_msg_layouts, SR_N_MSG_LAYOUTS, mech);
}

const sr_field *sr_layout_field(const sr_layout *lay, unsigned i)
{
    return &sr_fields[lay->first + i];
}
