#include <doctest/doctest.h>

#include <recmix/version.hpp>

#include <string_view>

#define RECMIX_TEST_STR_IMPL(x) #x
#define RECMIX_TEST_STR(x) RECMIX_TEST_STR_IMPL(x)

TEST_CASE("version string is 0.1.0") {
    CHECK(std::string_view{recmix::version_string} == "0.1.0");
}

TEST_CASE("version macros") {
    CHECK(RECMIX_VERSION_MAJOR == 0);
    CHECK(RECMIX_VERSION_MINOR == 1);
    CHECK(RECMIX_VERSION_PATCH == 0);
}

TEST_CASE("version string matches the version macros") {
    constexpr std::string_view from_macros = RECMIX_TEST_STR(RECMIX_VERSION_MAJOR) "." RECMIX_TEST_STR(
        RECMIX_VERSION_MINOR) "." RECMIX_TEST_STR(RECMIX_VERSION_PATCH);
    CHECK(std::string_view{recmix::version_string} == from_macros);
}
