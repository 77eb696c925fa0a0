/* Text of plan actions (--dry-run lines). */
#ifndef GRESEC_PLAN_FMT_H
#define GRESEC_PLAN_FMT_H

#include <stddef.h>

#include "plan.h"

void plan_fmt_action(const struct plan_action *a, char *buf, size_t len);

#endif
