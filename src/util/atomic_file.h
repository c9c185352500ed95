#pragma once

#include <string>

namespace bpn::util {

// Writes `content` to a temporary file beside `path`, flushes it, then renames it over `path`,
// so that a reader never sees a half-written file. Throws bpn::InputError naming the path.
void write_file_atomically(const std::string& path, const std::string& content);

// Fails early (bpn::InputError) if `path` could not be created or replaced: its directory is
// missing or not writable, or the path is a directory. Call it before any long work starts.
void check_writable(const std::string& path, const std::string& what);

std::string read_file(const std::string& path);  // throws bpn::InputError

}  // namespace bpn::util
