#ifndef MREG_CZLIB_SHIM_H
#define MREG_CZLIB_SHIM_H
#include <zlib.h>
#endif
