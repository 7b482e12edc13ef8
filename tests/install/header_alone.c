/* siglog.h compiles alone, first, with nothing included before it: the
 * public header brings every type it uses. Built against the public include
 * directory only, so no engine header can leak in. */
#include <siglog.h>

int main(void)
{
    siglog_options o;
    siglog_options_default(&o);
    return siglog_version_number() == SIGLOG_VERSION_NUMBER && o.file_mode ? 0 : 1;
}
