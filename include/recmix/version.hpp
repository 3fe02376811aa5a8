#pragma once

// Library version. The top-level CMakeLists.txt parses the three
// RECMIX_VERSION_* macros below, so keep them as plain integer literals.
#define RECMIX_VERSION_MAJOR 0
#define RECMIX_VERSION_MINOR 1
#define RECMIX_VERSION_PATCH 0

namespace recmix {

inline constexpr const char* version_string = "0.1.0";

}  // namespace recmix
