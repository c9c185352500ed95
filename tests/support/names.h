// Access to the notebook's data set for the tests that need it. They fail, with a message, when
// data/names.txt is absent (scripts/setup.sh puts it there; CI has it): a skip would let a suite with
// a broken setup pass, and lets ctest group these tests in one process without hiding a skip.
#pragma once

#include <gtest/gtest.h>

#include <string>

#include "data/dataset.h"

namespace bpn::testing {

std::string names_path();  // $BPNINJA_NAMES or <source>/data/names.txt
// Every 8th word of names_path() (4,005 of the 32,033 names, all 26 letters), written once per process
// into the temp directory, for the command-line tests whose property does not depend on the data's size
// (a resumed run's bytes, a corrupt checkpoint's error): evaluating the full splits after training was
// most of their time under ASan. Empty when names_path() is absent; throws when the file cannot be
// written. Removed when the process ends; never kept in the source tree.
std::string names_sample_path();
const data::Dataset* notebook_dataset();  // loaded once; nullptr when the file is absent
std::string bpninja_ledger_path();        // tests/golden/exactness.json
std::string source_dir();                 // the source tree's root

}  // namespace bpn::testing

#define BPN_REQUIRE_NAMES(var)                                                                        \
  const ::bpn::data::Dataset* var = ::bpn::testing::notebook_dataset();                               \
  if (var == nullptr) {                                                                               \
    GTEST_FAIL() << ::bpn::testing::names_path() << " is absent: run scripts/setup.sh to install it"; \
  }
