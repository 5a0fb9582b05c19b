// Debian's stb (libstb-dev) compiled into the fuzz targets from its own headers, so that the decoders
// the fuzzers reach are instrumented (coverage for libFuzzer, AddressSanitizer) rather than the
// uninstrumented libstb.so the library links otherwise. Same source, same version.
#define STB_IMAGE_IMPLEMENTATION
#define STB_IMAGE_WRITE_IMPLEMENTATION
#define STB_IMAGE_RESIZE_IMPLEMENTATION
#include <stb/stb_image.h>
#include <stb/stb_image_resize.h>
#include <stb/stb_image_write.h>
