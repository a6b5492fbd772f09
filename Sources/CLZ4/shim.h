#ifndef STARLING_CLZ4_SHIM_H
#define STARLING_CLZ4_SHIM_H

#include <lz4.h>

#endif
