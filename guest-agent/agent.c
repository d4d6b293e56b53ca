/* The agent's shared lookups and its way out (agent.h). */
#include "agent.h"

#include <stdlib.h>
#include <string.h>
#include <sys/reboot.h>
#include <unistd.h>

struct container *agent_container(struct agent *a, const char *name)
{
	for (struct container *c = a->containers; c; c = c->next)
		if (strcmp(c->name, name) == 0)
			return c;
	return NULL;
}

struct stream *agent_stream(struct agent *a, uint32_t id)
{
	for (struct stream *s = a->streams; s; s = s->next)
		if (s->id == id && !s->exit_sent)
			return s;
	return NULL;
}

void agent_poweroff(struct agent *a, const char *why)
{
	log_info(a, "powering off: %s", why);
	sync();
	if (!a->pid1)
		exit(0);
	/* Without ACPI (the minimal kernel, microvm acpi=off) the kernel turns
	 * power-off into a halt that never returns, and QEMU would stay up
	 * until the host's stop timeout. QEMU runs with -no-reboot, so a
	 * reboot ends it instead (reboot=t on that kernel's command line makes
	 * it immediate). */
	if (access("/sys/firmware/acpi", F_OK) != 0)
		reboot(RB_AUTOBOOT);
	reboot(RB_POWER_OFF);
	reboot(RB_AUTOBOOT);
	for (;;)
		pause();
}
