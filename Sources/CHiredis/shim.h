// hiredis (Debian's libhiredis-dev): used only as the RESP reader and argv formatter.
#include <hiredis/hiredis.h>
#include <hiredis/read.h>
