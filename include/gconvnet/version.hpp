// gconvnet/version.hpp — the library's version.
#pragma once

#define GCONVNET_VERSION_MAJOR 0
#define GCONVNET_VERSION_MINOR 1
#define GCONVNET_VERSION_PATCH 0

namespace gconvnet {
inline constexpr const char* version = "0.1.0";
}  // namespace gconvnet
