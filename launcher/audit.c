/* klipper-pin audit: being written. */
#include <stdio.h>

#include "subcommands.h"

int audit_main(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	fputs("klipper-pin: audit: not built yet\n", stderr);
	return 125;
}
