// libpq (Debian's libpq-dev).
#include <libpq-fe.h>
