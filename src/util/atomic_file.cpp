#include "util/atomic_file.h"

#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "util/errors.h"
#include "util/interrupt.h"

namespace bpn::util {

namespace fs = std::filesystem;

namespace {
fs::path parent_of(const std::string& path) {
  fs::path parent = fs::path(path).parent_path();
  return parent.empty() ? fs::path(".") : parent;
}
}  // namespace

void check_writable(const std::string& path, const std::string& what) {
  std::error_code ec;
  if (fs::is_directory(path, ec)) {
    throw InputError(what + " " + path + ": is a directory; give a file path");
  }
  const fs::path parent = parent_of(path);
  if (!fs::is_directory(parent, ec)) {
    throw InputError(what + " " + path + ": directory " + parent.string() + " does not exist; create it first");
  }
  if (::access(parent.c_str(), W_OK) != 0) {
    throw InputError(what + " " + path + ": directory " + parent.string() + " is not writable");
  }
}

void write_file_atomically(const std::string& path, const std::string& content) {
  const std::string tmp = path + ".tmp." + std::to_string(::getpid());
  set_file_in_progress(tmp.c_str());  // a second Ctrl-C removes it (util/interrupt.h)
  struct Done {
    ~Done() { set_file_in_progress(nullptr); }
  } done;
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) {
      throw InputError(path + ": cannot write (" + std::strerror(errno) +
                       "); check the directory exists and is writable");
    }
    out.write(content.data(), static_cast<std::streamsize>(content.size()));
    out.flush();
    if (!out) {
      out.close();
      std::remove(tmp.c_str());
      throw InputError(path + ": write failed (disk full?)");
    }
  }
  std::error_code ec;
  fs::rename(tmp, path, ec);
  if (ec) {
    std::remove(tmp.c_str());
    throw InputError(path + ": cannot replace (" + ec.message() + ")");
  }
}

std::string read_file(const std::string& path) {
  std::error_code ec;
  if (!fs::exists(path, ec)) throw InputError(path + ": no such file");
  if (fs::is_directory(path, ec)) throw InputError(path + ": is a directory, not a file");
  std::ifstream in(path, std::ios::binary);
  if (!in) throw InputError(path + ": cannot be opened for reading");
  std::ostringstream buf;
  buf << in.rdbuf();
  return buf.str();
}

}  // namespace bpn::util
