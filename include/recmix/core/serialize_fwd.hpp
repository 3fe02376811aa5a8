#pragma once
/// @file
/// What a model's serialize() member needs, without pulling Boost into every header: models
/// call recmix::detail::archive_field(ar, "name", value), which is only declared here and is
/// defined by <recmix/io/serialization.hpp>. Code that never saves a model never includes (or
/// links) Boost; code that does includes that header, which supplies the definition.

namespace recmix::detail {

/// Saves or loads one named field through a Boost archive (named, so XML archives work).
template <class Archive, class T>
void archive_field(Archive& ar, const char* name, T& value);

}  // namespace recmix::detail
