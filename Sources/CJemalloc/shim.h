// jemalloc (Debian's libjemalloc-dev, built without a symbol prefix): the server's allocator.
#include <jemalloc/jemalloc.h>
