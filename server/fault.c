#include "fault.h"

#include <stdlib.h>
#include <string.h>

static bool enabled;
static int worker_delay_ms;
static _Thread_local fault_plan armed;

void fault_init(void)
{
    const char *e = getenv("ARALD_TEST_FAULTS");
    enabled = e && !strcmp(e, "1");
    const char *d = getenv("ARALD_TEST_WORKER_DELAY_MS");
    int ms = enabled && d ? atoi(d) : 0;
    worker_delay_ms = ms > 0 && ms <= 10000 ? ms : 0;
}

int fault_worker_delay_ms(void)
{
    return worker_delay_ms;
}

void fault_arm(const char *header)
{
    armed.point[0] = 0;
    if (!enabled || !header)
        return;
    size_t n = strcspn(header, "@");
    if (n == 0 || n >= sizeof(armed.point))
        return;
    memcpy(armed.point, header, n);
    armed.point[n] = 0;
    armed.remaining = header[n] == '@' ? atoi(header + n + 1) : 1;
}

void fault_arm_plan(fault_plan p)
{
    armed = enabled ? p : (fault_plan){{0}, 0};
}

void fault_disarm(void)
{
    armed.point[0] = 0;
}

fault_plan fault_current(void)
{
    return armed;
}

bool fault_take(fault_plan *p, const char *point)
{
    if (!enabled || !p->point[0] || strcmp(p->point, point))
        return false;
    if (--p->remaining > 0)
        return false;
    p->point[0] = 0; /* fires once */
    return true;
}

bool fault_hit(const char *point)
{
    return fault_take(&armed, point);
}
