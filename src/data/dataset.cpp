#include "data/dataset.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <utility>

#include "data/pyrandom.h"
#include "util/errors.h"

namespace bpn::data {

namespace {

void append_utf8(std::string& out, char32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

// Strict UTF-8 decoding of one line (no overlong forms, no surrogates, nothing above U+10FFFF).
// Returns false on the first invalid sequence.
bool decode_utf8(const char* p, std::size_t n, Word& out) {
  std::size_t i = 0;
  while (i < n) {
    const auto b0 = static_cast<unsigned char>(p[i]);
    int len;
    char32_t cp;
    if (b0 < 0x80) {
      len = 1;
      cp = b0;
    } else if ((b0 & 0xE0) == 0xC0) {
      len = 2;
      cp = b0 & 0x1F;
    } else if ((b0 & 0xF0) == 0xE0) {
      len = 3;
      cp = b0 & 0x0F;
    } else if ((b0 & 0xF8) == 0xF0) {
      len = 4;
      cp = b0 & 0x07;
    } else {
      return false;
    }
    if (i + static_cast<std::size_t>(len) > n) return false;
    for (int k = 1; k < len; ++k) {
      const auto b = static_cast<unsigned char>(p[i + static_cast<std::size_t>(k)]);
      if ((b & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (b & 0x3F);
    }
    static constexpr char32_t kMin[5] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < kMin[len] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    out.push_back(cp);
    i += static_cast<std::size_t>(len);
  }
  return true;
}

bool is_control(char32_t cp) { return cp < 0x20 || (cp >= 0x7F && cp < 0xA0); }

}  // namespace

std::string to_utf8(const Word& w) {
  std::string out;
  for (char32_t cp : w) append_utf8(out, cp);
  return out;
}

Vocab Vocab::from_words(const std::vector<Word>& words) {
  std::set<char32_t> chars;
  for (const auto& w : words) chars.insert(w.begin(), w.end());
  std::vector<char32_t> itos{U'.'};
  itos.insert(itos.end(), chars.begin(), chars.end());
  return from_chars(std::move(itos));
}

Vocab Vocab::from_chars(std::vector<char32_t> itos) {
  Vocab v;
  v.itos = std::move(itos);
  for (std::size_t i = 0; i < v.itos.size(); ++i) v.stoi[v.itos[i]] = static_cast<std::int64_t>(i);
  return v;
}

bool Vocab::is_names_alphabet() const {
  if (itos.size() != 27 || itos[0] != U'.') return false;
  for (char32_t c = U'a'; c <= U'z'; ++c) {
    if (itos[static_cast<std::size_t>(c - U'a' + 1)] != c) return false;
  }
  return true;
}

bool is_names_txt(const Dataset& data) {
  return data.vocab.is_names_alphabet() && data.train.rows() == kNamesTrainRows;
}

std::string Vocab::decode(std::int64_t ix) const { return to_utf8(Word(1, itos.at(static_cast<std::size_t>(ix)))); }

std::vector<Word> parse_words(const std::string& text, const std::string& source_name) {
  std::vector<Word> words;
  std::size_t line_no = 0;
  std::size_t start = 0;
  while (start < text.size()) {
    ++line_no;
    std::size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    std::size_t len = end - start;
    if (len > 0 && text[start + len - 1] == '\r') --len;  // CRLF
    const char* line = text.data() + start;
    start = end + 1;

    if (std::all_of(line, line + len, [](char c) { return c == ' '; })) continue;  // blank line
    const std::string where = source_name + ":" + std::to_string(line_no);
    Word w;
    if (!decode_utf8(line, len, w)) {
      throw InputError(where + ": invalid UTF-8; save the word list as UTF-8 text");
    }
    for (char32_t cp : w) {
      if (cp == U'.') {
        throw InputError(where +
                         ": '.' inside a word clashes with the end-of-word token '.'; "
                         "remove or replace it");
      }
      if (is_control(cp)) {
        throw InputError(where + ": control character (code " + std::to_string(cp) +
                         ") in a word; use one word per line with no tabs or control characters");
      }
    }
    words.push_back(std::move(w));
  }
  if (words.empty()) {
    throw InputError(source_name +
                     ": no words (the file is empty or has only blank lines); "
                     "give a file with one word per line");
  }
  return words;
}

std::vector<Word> read_words(const std::string& path) {
  namespace fs = std::filesystem;
  std::error_code ec;
  const auto status = fs::status(path, ec);
  if (!fs::exists(status)) {
    throw InputError(path +
                     ": no such file; run scripts/setup.sh to put names.txt in data/, "
                     "or pass --data PATH");
  }
  if (fs::is_directory(status)) {
    throw InputError(path + ": is a directory; pass --data with the path of a word list file");
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) throw InputError(path + ": cannot be opened for reading; check its permissions");
  std::ostringstream buf;
  buf << in.rdbuf();
  if (in.bad()) throw InputError(path + ": read error");
  return parse_words(buf.str(), path);
}

Split build_split(const std::vector<Word>& words, const Vocab& vocab, int block_size) {
  // Rows are counted first and the tensors filled in place: memory is the int64 tensors themselves.
  std::int64_t rows = 0;
  for (const auto& w : words) rows += static_cast<std::int64_t>(w.size()) + 1;
  Split s;
  s.X = at::empty({rows, block_size}, at::kLong);
  s.Y = at::empty({rows}, at::kLong);
  std::int64_t* x = s.X.data_ptr<std::int64_t>();
  std::int64_t* y = s.Y.data_ptr<std::int64_t>();
  std::vector<std::int64_t> context(static_cast<std::size_t>(block_size));
  for (const auto& w : words) {
    std::fill(context.begin(), context.end(), 0);
    for (std::size_t i = 0; i <= w.size(); ++i) {
      const std::int64_t ix = i < w.size() ? vocab.stoi.at(w[i]) : 0;
      x = std::copy(context.begin(), context.end(), x);
      *y++ = ix;
      std::rotate(context.begin(), context.begin() + 1, context.end());  // context = context[1:] + [ix]
      context.back() = ix;
    }
  }
  return s;
}

namespace {
// The notebook's split: n1 = int(0.8 * len(words)), n2 = int(0.9 * len(words))
std::pair<std::size_t, std::size_t> split_bounds(std::size_t count) {
  return {static_cast<std::size_t>(0.8 * static_cast<double>(count)),
          static_cast<std::size_t>(0.9 * static_cast<double>(count))};
}

// Which of the three splits `count` words leave empty ("" if none)
std::string empty_split(std::size_t count) {
  const auto [n1, n2] = split_bounds(count);
  return n1 == 0 ? "training" : n2 == n1 ? "dev" : n2 == count ? "test" : "";
}
}  // namespace

Dataset make_dataset(std::vector<Word> words, int block_size, std::uint64_t shuffle_seed) {
  if (block_size < 1) throw InputError("block_size must be at least 1");
  Dataset d;
  d.block_size = block_size;
  d.vocab = Vocab::from_words(words);  // the notebook builds the vocabulary before the shuffle
  PyRandom rng(shuffle_seed);
  rng.shuffle(words);
  const auto count = words.size();
  const auto [n1, n2] = split_bounds(count);
  if (n1 == 0) {
    throw InputError("the word list has " + std::to_string(count) +
                     " word(s): the 80% training split would be empty; give at least 2 words");
  }
  const auto begin = words.begin();
  d.train = build_split({begin, begin + static_cast<std::ptrdiff_t>(n1)}, d.vocab, block_size);
  d.dev = build_split({begin + static_cast<std::ptrdiff_t>(n1), begin + static_cast<std::ptrdiff_t>(n2)}, d.vocab,
                      block_size);
  d.test = build_split({begin + static_cast<std::ptrdiff_t>(n2), words.end()}, d.vocab, block_size);
  d.words = std::move(words);
  return d;
}

Dataset load_dataset(const std::string& path, int block_size, std::uint64_t shuffle_seed) {
  std::vector<Word> words = read_words(path);
  // A word list read for the commands must fill all three splits: an empty dev or test split would
  // report its loss as NaN and exit 0. (make_dataset itself needs only a training split.)
  const std::string empty = empty_split(words.size());
  if (!empty.empty()) {
    std::size_t least = words.size();
    while (!empty_split(least).empty()) ++least;
    throw InputError(path + ": the word list has " + std::to_string(words.size()) +
                     " word(s): the 80/10/10 split would leave the " + empty + " split empty; give at least " +
                     std::to_string(least) + " words");
  }
  try {
    return make_dataset(std::move(words), block_size, shuffle_seed);
  } catch (const InputError& e) {
    throw InputError(path + ": " + e.what());
  }
}

}  // namespace bpn::data
