// The notebook's data pipeline: words -> vocabulary -> context windows -> 80/10/10 split.
#pragma once

#include <ATen/ATen.h>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace bpn::data {

using Word = std::u32string;  // one name, as Unicode code points

// Index 0 is the terminator '.', then the words' characters in code-point order
// (the notebook's `sorted(set(''.join(words)))`).
struct Vocab {
  std::vector<char32_t> itos;
  std::map<char32_t, std::int64_t> stoi;

  static Vocab from_words(const std::vector<Word>& words);
  static Vocab from_chars(std::vector<char32_t> itos);  // itos[0] must be '.'
  std::int64_t size() const { return static_cast<std::int64_t>(itos.size()); }
  std::string decode(std::int64_t ix) const;  // one character, UTF-8 encoded
  // '.' and a-z: names.txt's 27 characters
  bool is_names_alphabet() const;
};

// Reads a word list, one word per line. Rules (docs/cli.md "Word lists"):
//   - lines end in "\n"; a "\r" before it is dropped (CRLF files);
//   - a line that is empty or only spaces is skipped;
//   - the text must be UTF-8; every other code point is a character of the vocabulary as it is
//     (case is kept), except '.', the terminator, and control characters, which are rejected.
// Throws bpn::InputError naming the file (and the line) on anything else.
std::vector<Word> read_words(const std::string& path);
std::vector<Word> parse_words(const std::string& text, const std::string& source_name);

struct Split {
  at::Tensor X;  // [rows, block_size] int64 contexts
  at::Tensor Y;  // [rows] int64 next-character indices
  std::int64_t rows() const { return Y.size(0); }
};

// The notebook's build_dataset(words): for each word, contexts of block_size indices, starting
// from all-'.' and sliding over word + '.'.
Split build_split(const std::vector<Word>& words, const Vocab& vocab, int block_size);

struct Dataset {
  Vocab vocab;
  std::vector<Word> words;  // after the shuffle
  int block_size = 3;
  Split train, dev, test;
};

// names.txt as the notebook splits it: its alphabet and its 182,625 training contexts (the notebook's
// Xtr; the count does not depend on block_size), the data the lectures' printed figures are for.
inline constexpr std::int64_t kNamesTrainRows = 182625;
bool is_names_txt(const Dataset& data);

// random.seed(shuffle_seed); random.shuffle(words); n1 = int(0.8*len); n2 = int(0.9*len).
Dataset make_dataset(std::vector<Word> words, int block_size, std::uint64_t shuffle_seed = 42);
Dataset load_dataset(const std::string& path, int block_size, std::uint64_t shuffle_seed = 42);

std::string to_utf8(const Word& w);

}  // namespace bpn::data
