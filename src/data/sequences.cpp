#include "data/sequences.h"

#include <algorithm>
#include <string>

#include "util/errors.h"

namespace bpn::data {

std::int64_t sequence_length(const Dataset& data) {
  std::size_t longest = 0;
  for (const auto& w : data.words) longest = std::max(longest, w.size());
  const std::int64_t L = static_cast<std::int64_t>(longest) + 1;
  if (L > kMaxSequenceLength) {
    throw InputError("the longest word has " + std::to_string(longest) +
                     " characters: this model takes words of at most " + std::to_string(kMaxSequenceLength - 1) +
                     " (its context is the longest word + 1); shorten or remove the word");
  }
  return L;
}

Sequences word_sequences(const Dataset& data, std::int64_t first, std::int64_t end) {
  const std::int64_t L = sequence_length(data), n = end - first;
  Sequences s{at::zeros({n, L}, at::kLong), at::full({n, L}, -1, at::kLong)};
  auto* x = s.X.data_ptr<std::int64_t>();
  auto* y = s.Y.data_ptr<std::int64_t>();
  for (std::int64_t i = 0; i < n; ++i) {
    const Word& w = data.words[static_cast<std::size_t>(first + i)];
    for (std::size_t t = 0; t < w.size(); ++t) {
      const std::int64_t c = data.vocab.stoi.at(w[t]);
      x[i * L + static_cast<std::int64_t>(t) + 1] = c;  // input: [0] + encode(word), padded with 0
      y[i * L + static_cast<std::int64_t>(t)] = c;      // target: encode(word) + [0], then -1
    }
    y[i * L + static_cast<std::int64_t>(w.size())] = 0;
  }
  return s;
}

SequenceSplits sequence_splits(const Dataset& data) {
  const auto words = static_cast<std::int64_t>(data.words.size());
  const auto n1 = static_cast<std::int64_t>(0.8 * static_cast<double>(words));
  const auto n2 = static_cast<std::int64_t>(0.9 * static_cast<double>(words));
  return {word_sequences(data, 0, n1), word_sequences(data, n1, n2)};
}

SequenceBatch draw_check_batch(const Dataset& data, std::int64_t batch, at::Generator& g) {
  const auto words = static_cast<std::int64_t>(data.words.size());
  const auto n_train = static_cast<std::int64_t>(0.8 * static_cast<double>(words));
  const Sequences seq = word_sequences(data, 0, n_train);
  const at::Tensor ix = at::randint(0, n_train, {batch}, g, at::kLong);
  SequenceBatch b{seq.X.index({ix}), seq.Y.index({ix}), n_train, 0, 0};
  b.dev_words = static_cast<std::int64_t>(0.9 * static_cast<double>(words)) - n_train;
  b.test_words = words - n_train - b.dev_words;
  return b;
}

}  // namespace bpn::data
