#include "data/dataset.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "support/names.h"
#include "util/errors.h"

namespace bpn::data {
namespace {

Word W(const char32_t* s) { return Word(s); }

TEST(NotebookData, VocabularyHas27Characters) {
  BPN_REQUIRE_NAMES(d);
  EXPECT_EQ(d->vocab.size(), 27);
  EXPECT_EQ(d->vocab.itos[0], U'.');
  EXPECT_EQ(d->vocab.itos[1], U'a');
  EXPECT_EQ(d->vocab.itos[26], U'z');
  EXPECT_TRUE(d->vocab.is_names_alphabet());
}

// Only '.' and a-z, all 27, is names.txt's alphabet (the lectures' printed losses apply to nothing else)
TEST(Vocab, TheNamesAlphabetIsTheDotAndTheLowercaseLettersExactly) {
  std::u32string letters;
  for (char32_t c = U'a'; c <= U'z'; ++c) letters += c;
  EXPECT_TRUE(Vocab::from_words({letters}).is_names_alphabet());
  EXPECT_FALSE(Vocab::from_words({letters.substr(0, 13)}).is_names_alphabet());  // a-m
  EXPECT_FALSE(Vocab::from_words({letters + U"A"}).is_names_alphabet());         // 28 characters
  std::u32string shifted = letters.substr(1) + U"\u00e9";                        // b-z and é: 27, not a-z
  EXPECT_FALSE(Vocab::from_words({shifted}).is_names_alphabet());
}

TEST(NotebookData, SplitsAreTheNotebooks) {
  BPN_REQUIRE_NAMES(d);
  EXPECT_EQ(d->train.X.sizes(), (at::IntArrayRef{182625, 3}));
  EXPECT_EQ(d->dev.X.sizes(), (at::IntArrayRef{22655, 3}));
  EXPECT_EQ(d->test.X.sizes(), (at::IntArrayRef{22866, 3}));
  EXPECT_EQ(d->train.Y.sizes(), (at::IntArrayRef{182625}));
  EXPECT_EQ(d->words.size(), 32033u);
}

TEST(NotebookData, FirstShuffledWordsAreTheNotebooks) {
  BPN_REQUIRE_NAMES(d);
  const std::vector<std::string> expected{"yuheng", "diondre", "xavien", "jori", "juanluis"};
  for (std::size_t i = 0; i < expected.size(); ++i) EXPECT_EQ(to_utf8(d->words[i]), expected[i]) << "word " << i;
}

TEST(BuildSplit, SlidesAContextOverTheWordAndTerminator) {
  const Vocab v = Vocab::from_words({W(U"emma")});
  ASSERT_EQ(v.size(), 4);  // . a e m
  const Split s = build_split({W(U"emma")}, v, 3);
  const auto e = v.stoi.at(U'e'), m = v.stoi.at(U'm'), a = v.stoi.at(U'a');
  const std::vector<std::vector<std::int64_t>> X{{0, 0, 0}, {0, 0, e}, {0, e, m}, {e, m, m}, {m, m, a}};
  const std::vector<std::int64_t> Y{e, m, m, a, 0};
  ASSERT_EQ(s.rows(), 5);
  for (std::int64_t i = 0; i < 5; ++i) {
    for (std::int64_t j = 0; j < 3; ++j) EXPECT_EQ(s.X[i][j].item<std::int64_t>(), X[i][j]);
    EXPECT_EQ(s.Y[i].item<std::int64_t>(), Y[i]);
  }
}

TEST(ParseWords, HandlesCrlfAndBlankLines) {
  const auto words = parse_words("anna\r\n\r\n  \nbob\n\nzoe", "t.txt");
  ASSERT_EQ(words.size(), 3u);
  EXPECT_EQ(to_utf8(words[0]), "anna");
  EXPECT_EQ(to_utf8(words[1]), "bob");
  EXPECT_EQ(to_utf8(words[2]), "zoe");
}

TEST(ParseWords, KeepsNonAsciiAsOneCharacter) {
  const auto words = parse_words("zo\xc3\xab\n", "t.txt");  // zoë
  ASSERT_EQ(words.size(), 1u);
  EXPECT_EQ(words[0].size(), 3u);
  EXPECT_EQ(Vocab::from_words(words).size(), 4);
}

TEST(ParseWords, RejectsADotWithTheLineNumber) {
  try {
    parse_words("anna\nj.r.\n", "t.txt");
    FAIL() << "expected an InputError";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("t.txt:2"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("'.'"), std::string::npos) << e.what();
  }
}

TEST(ParseWords, RejectsInvalidUtf8AndControlCharacters) {
  EXPECT_THROW(parse_words("ok\n\xff\xfe\n", "t.txt"), InputError);
  EXPECT_THROW(parse_words("a\tb\n", "t.txt"), InputError);
  EXPECT_THROW(parse_words("\xc0\xaf\n", "t.txt"), InputError);  // overlong '/'
}

TEST(ParseWords, RejectsAFileWithNoWords) {
  EXPECT_THROW(parse_words("", "t.txt"), InputError);
  EXPECT_THROW(parse_words("\n \n\r\n", "t.txt"), InputError);
}

TEST(ReadWords, MissingPathAndDirectoryAreInputErrors) {
  EXPECT_THROW(read_words("/nonexistent/names.txt"), InputError);
  EXPECT_THROW(read_words(std::filesystem::temp_directory_path().string()), InputError);
}

TEST(MakeDataset, OneWordLeavesNoTrainingSplit) { EXPECT_THROW(make_dataset({W(U"solo")}, 3), InputError); }

TEST(MakeDataset, SplitsCoverAllWords) {
  std::vector<Word> words;
  for (int i = 0; i < 10; ++i) words.push_back(Word(static_cast<std::size_t>(i + 1), U'a' + static_cast<char32_t>(i)));
  const Dataset d = make_dataset(words, 2);
  EXPECT_EQ(d.words.size(), 10u);
  std::int64_t total_rows = 0;
  for (const auto& w : words) total_rows += static_cast<std::int64_t>(w.size()) + 1;
  EXPECT_EQ(d.train.rows() + d.dev.rows() + d.test.rows(), total_rows);
}

}  // namespace
}  // namespace bpn::data
