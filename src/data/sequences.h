// Words as makemore's CharDataset gives them to its sequence models (the GPT, the RNN, the GRU): each
// word is one sequence, input [0] + encode(word) padded with 0 to L = the longest word + 1, target
// encode(word) + [0], then -1 (ignored by the loss).
#pragma once

#include <ATen/ATen.h>

#include <cstdint>

#include "data/dataset.h"

namespace bpn::data {

struct Sequences {
  at::Tensor X, Y;  // [words, L] int64; Y is -1 where ignored
};
// The words [first_word, end_word) of the data set, as sequences.
Sequences word_sequences(const Dataset& data, std::int64_t first_word, std::int64_t end_word);
// L = the longest word + 1, at most kMaxSequenceLength (the sequence models' attention and tensors grow
// with it, and their checkpoints hold no more): InputError for a longer word, before any work.
constexpr std::int64_t kMaxSequenceLength = 1024;
std::int64_t sequence_length(const Dataset& data);
// The notebook's split (80% / 10% / 10% of the shuffled words): the training and validation words.
struct SequenceSplits {
  Sequences train, val;
};
SequenceSplits sequence_splits(const Dataset& data);
// A check's batch: `batch` training words drawn uniformly with g (after the model's draws), and the
// split's sizes in words (train, dev, test) for the report.
struct SequenceBatch {
  at::Tensor X, Y;  // [batch, L]
  std::int64_t train_words = 0, dev_words = 0, test_words = 0;
};
SequenceBatch draw_check_batch(const Dataset& data, std::int64_t batch, at::Generator& g);

}  // namespace bpn::data
