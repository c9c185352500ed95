// Property-based sweeps (RapidCheck): random shapes, vocabularies and seeds. In every case every
// hand-derived gradient must pass the verdict rule (verify/verdict.h). A failure prints the configuration; replay it
// with the RC_PARAMS="reproduce=..." line RapidCheck prints (see docs/verdict.md, "Sweeps").
//
// Sizes: batch 2..256, block_size 1..8, n_embd 1..16, n_hidden 1..128; vocabularies from random
// word lists over random alphabets (ASCII and non-ASCII code points). Cases per property: RapidCheck's
// default (100), RC_PARAMS="max_success=N" to change it.
#include <gtest/gtest.h>
#include <rapidcheck.h>
#include <rapidcheck/gtest.h>

#include <sstream>

#include "data/dataset.h"
#include "models/mlp/backward.h"
#include "support/synthetic.h"

namespace bpn::verify {
namespace {

struct SweepCase {
  data::Dataset data;
  model::Params params;
  model::Batch batch;
  std::string description;
};

// Draws one configuration: a random word list, its dataset, parameters and a batch.
SweepCase draw_case(at::ScalarType dtype) {
  const auto alphabet_size = *rc::gen::inRange<int>(1, 31);
  const auto alphabet = *rc::gen::container<std::vector<char32_t>>(
      static_cast<std::size_t>(alphabet_size),
      rc::gen::oneOf(rc::gen::inRange<char32_t>(U'a', U'z' + 1), rc::gen::inRange<char32_t>(U'A', U'Z' + 1),
                     rc::gen::inRange<char32_t>(0xC0, 0x17F), rc::gen::inRange<char32_t>(0x3B1, 0x3CA)));
  const auto word_count = *rc::gen::inRange<std::size_t>(2, 60);
  std::vector<data::Word> words;
  for (std::size_t i = 0; i < word_count; ++i) {
    const auto length = *rc::gen::inRange<std::size_t>(1, 12);
    data::Word w;
    for (std::size_t k = 0; k < length; ++k) w.push_back(alphabet[*rc::gen::inRange<std::size_t>(0, alphabet.size())]);
    words.push_back(w);
  }
  const auto block_size = *rc::gen::inRange<int>(1, 9);
  const auto batch_size = *rc::gen::inRange<std::int64_t>(2, 257);
  const auto n_embd = *rc::gen::inRange<std::int64_t>(1, 17);
  const auto n_hidden = *rc::gen::inRange<std::int64_t>(1, 129);
  const auto seed = *rc::gen::inRange<std::uint64_t>(0, 1ULL << 40);

  SweepCase c;
  c.data = data::make_dataset(words, block_size);
  model::ModelConfig mc;
  mc.vocab_size = c.data.vocab.size();
  mc.block_size = block_size;
  mc.n_embd = n_embd;
  mc.n_hidden = n_hidden;
  mc.seed = seed;
  mc.dtype = dtype;
  auto init = model::init_params(mc);
  c.params = init.params;
  c.batch = model::draw_batch(c.data.train.X, c.data.train.Y, batch_size, init.g);
  std::ostringstream os;
  os << model::dtype_name(dtype) << " batch " << batch_size << ", block_size " << block_size << ", n_embd " << n_embd
     << ", n_hidden " << n_hidden << ", vocab " << mc.vocab_size << " (" << word_count << " words), seed " << seed;
  c.description = os.str();
  return c;
}

rc::Gen<at::ScalarType> dtypes() { return rc::gen::element(at::kFloat, at::kDouble); }

// Every hand-derived gradient passes the verdict rule (verify/verdict.h), the rule `check` applies.
RC_GTEST_PROP(Sweep, ChunkedBackwardPassesTheVerdict, ()) {
  SweepCase c = draw_case(*dtypes());
  RC_LOG() << "configuration: " << c.description << "\n";
  const auto accuracy = bpn::testing::chunked_accuracy(c.params, c.batch.Xb, c.batch.Yb);
  if (!accuracy.pass) RC_LOG() << accuracy.detail << "\n";
  RC_ASSERT(accuracy.pass);
}

// In float32 the closed forms round differently from autograd and are not always allclose to it
// (first found: float32 batch 5, block_size 1, n_embd 1, n_hidden 2, vocab 2, seed 3: dhprebn 8.03e-6
// vs 8.07e-6 in a tensor of scale 0.14); the verdict judges both against float64.
RC_GTEST_PROP(Sweep, FusedBackwardPassesTheVerdict, ()) {
  SweepCase c = draw_case(*dtypes());
  RC_LOG() << "configuration: " << c.description << "\n";
  const auto accuracy = bpn::testing::fused_accuracy(c.params, c.batch.Xb, c.batch.Yb);
  if (!accuracy.pass) RC_LOG() << accuracy.detail << "\n";
  RC_ASSERT(accuracy.pass);
}

}  // namespace
}  // namespace bpn::verify
